import { Counter, Gauge } from "prom-client";
import { Hono } from "hono";
import { AuthAuthority, type AuthorityOptions } from "./authority.ts";
import { NodeRegistry, SyncTracker } from "../registry/index.ts";
import { createDaemonApp, type DaemonApp } from "../server/index.ts";
import type { Store } from "../store/index.ts";
import type { DaemonMetrics, Logger } from "../telemetry/index.ts";
import type { AdminCredential } from "./admin-credential.ts";
import { mountAuthApi, mountJwks } from "./auth-api.ts";
import { requireCredential, type ControlPlaneEnv } from "./authenticate.ts";
import { mountClusterApi } from "./cluster-api.ts";
import { mountConfigApi } from "./config-api.ts";
import { mountKeysApi } from "./keys-api.ts";
import { mountPoliciesApi } from "./policies-api.ts";
import { mountRegistryApi } from "./registry-api.ts";
import { mountWatchApi } from "./watch-api.ts";

/** The authority's settings, from the control-plane flags. */
export type AuthSettings = Pick<AuthorityOptions, "keyRotationIntervalMs" | "maxTokenTtlSeconds" | "maxApiKeyTtlSeconds" | "defaultTokenTtlSeconds">;

export interface ControlPlaneOptions {
  readonly store: Store;
  /** The admin credential once resolved; until then /v1 answers 503 (a new cluster needs its store first). */
  readonly admin: () => AdminCredential | undefined;
  readonly auth: AuthSettings;
  readonly logger: Logger;
  readonly metrics: DaemonMetrics;
  readonly maxBodyBytes: number;
  /** How long a change may take to reach a sidecar before its sync state turns stale. */
  readonly syncGraceMs?: number;
}

export interface ControlPlane {
  readonly daemon: DaemonApp;
  readonly authority: AuthAuthority;
  readonly sync: SyncTracker;
  /** Resolves once the authority has its keys (it rejects only on a bug, never on an unavailable store). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The control plane's HTTP API on the daemon skeleton: probes, metrics and the JWKS open,
 * everything under /v1 behind the credential check. /readyz is ready only while the store has a
 * leader, this member has caught up, and the authority has its keys.
 */
export function createControlPlane(options: ControlPlaneOptions): ControlPlane {
  const { store, logger, metrics } = options;
  const authority = new AuthAuthority({ store, logger, registry: metrics.registry, ...options.auth });
  const started = authority.start();
  const sync = new SyncTracker(store, { logger, ...(options.syncGraceMs !== undefined ? { graceMs: options.syncGraceMs } : {}) });
  const daemon = createDaemonApp({
    logger,
    metrics,
    maxBodyBytes: options.maxBodyBytes,
    notReadyReason: () =>
      store.notReadyReason() ?? (options.admin() ? undefined : "resolving the admin credential") ?? authority.notReadyReason(),
  });
  mountJwks(daemon.app, authority);
  // The API's routes live on their own app typed with the authenticated principal, merged into
  // the daemon's app so that its request ids, metrics, body limit and error bodies apply.
  const app = new Hono<ControlPlaneEnv>();
  app.use("/v1/*", requireCredential({ admin: options.admin, authority, logger }));
  mountConfigApi(app, store);
  mountClusterApi(app, store);
  mountRegistryApi(app, new NodeRegistry(store), sync, metrics.registry);
  mountPoliciesApi(app, store);
  mountKeysApi(app, store);
  mountAuthApi(app, authority);
  mountWatchApi(app, store, daemon.stopping, {
    streams: new Gauge({ name: "nagent_watch_streams", help: "Open /v1/watch streams.", registers: [metrics.registry] }),
    eventsSent: new Counter({ name: "nagent_watch_events_sent_total", help: "Events written to /v1/watch streams.", registers: [metrics.registry] }),
    slowClientsCut: new Counter({ name: "nagent_watch_slow_clients_cut_total", help: "Watch streams ended because the client fell too far behind.", registers: [metrics.registry] }),
  });
  daemon.app.route("/", app);
  return {
    daemon,
    authority,
    sync,
    started,
    async stop() {
      await Promise.all([authority.stop(), sync.stop()]);
    },
  };
}
