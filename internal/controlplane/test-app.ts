// A whole control-plane API in this process on a given store, for tests that drive it with
// app.request(): the admin credential, the authority and the sync tracker, as the binary wires them.
import type { AuthAuthority } from "./authority.ts";
import type { SyncTracker } from "../registry/index.ts";
import type { DaemonApp } from "../server/index.ts";
import type { Store } from "../store/index.ts";
import { captureLogger, createDaemonMetrics, type Logger } from "../telemetry/index.ts";
import { resolveAdminCredential } from "./admin-credential.ts";
import { createControlPlane, type AuthSettings } from "./app.ts";

export interface TestControlPlane {
  readonly daemon: DaemonApp;
  readonly authority: AuthAuthority;
  readonly sync: SyncTracker;
  readonly logger: Logger;
  /** The captured log lines. */
  lines(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startTestControlPlane(options: {
  store: Store;
  adminToken: string;
  maxBodyBytes?: number;
  auth?: Partial<AuthSettings>;
}): Promise<TestControlPlane> {
  const { store } = options;
  const { logger, lines } = captureLogger("debug");
  const metrics = createDaemonMetrics("control-plane");
  const admin = await resolveAdminCredential({ configured: options.adminToken, store, dataDir: "/nonexistent", logger });
  const controlPlane = createControlPlane({
    store,
    admin: () => admin,
    auth: {
      keyRotationIntervalMs: 24 * 3_600_000,
      maxTokenTtlSeconds: 3600,
      maxApiKeyTtlSeconds: 86_400,
      defaultTokenTtlSeconds: 600,
      ...options.auth,
    },
    logger,
    metrics,
    maxBodyBytes: options.maxBodyBytes ?? 65_536,
    syncGraceMs: 500,
  });
  await Promise.all([controlPlane.started, controlPlane.sync.synced]);
  const { daemon, authority, sync } = controlPlane;
  return {
    daemon,
    authority,
    sync,
    logger,
    lines,
    async stop() {
      daemon.beginDrain("test");
      await controlPlane.stop();
    },
  };
}
