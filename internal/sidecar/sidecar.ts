// The sidecar, assembled: its copy of the mesh (followed from the control plane, saved to the
// cache dir), the credential verifier, tracing and metrics, the per-domain resilience runtimes,
// and the two ports. Both ports are served by the sidecar's own HTTP/1.1 server (internal/http1,
// which says why); proxied calls go straight into the request path, while probes, metrics and the
// local API are handed to the daemon skeleton's Hono app through the Fetch bridge.
import { ControlPlaneClient, DRAINING_HEADER, UnavailableError } from "../../pkg/index.ts";
import { HttpClient, listenHttp1, originOf, serveFetch, type Http1Server, type HttpResponse, type ServerRequest } from "../http1/index.ts";
import { Keyring } from "../auth/index.ts";
import type { SidecarConfig } from "../config/index.ts";
import type { ListenAddress } from "../config/index.ts";
import { createDaemonApp, type DaemonApp, type ListenerSpec } from "../server/index.ts";
import type { DaemonMetrics, Logger } from "../telemetry/index.ts";
import { VERSION } from "../version/index.ts";
import { ControlPlaneUnavailableError, TokenVerifier } from "./auth/index.ts";
import { Balancer } from "./balancer.ts";
import { CacheFileError, checkCacheDir, loadCache, saveCache } from "./cache-file.ts";
import { DOMAIN_HEADER, FROM_HEADER, ResilienceTable, outboundStack } from "./outbound.ts";
import { inboundStack, type InboundOptions } from "./inbound.ts";
import { mountLocalApi } from "./local-api.ts";
import { MeshState } from "./mesh-state.ts";
import { isTooLarge } from "./forward.ts";
import { errorResponse, finishCall, type Call, type Handler } from "./pipeline.ts";
import { NodeRegistration } from "./registration.ts";
import { ControlPlaneSync } from "./sync.ts";
import { createSidecarMetrics, createTracing, type SidecarMetrics, type Tracing } from "./telemetry/index.ts";

const DOMAIN = /^[a-z0-9][a-z0-9._-]{0,252}$/;
const INVOKE_PREFIX = "/v1/invoke/";
/** Paths the inbound port keeps for itself; everything else is a call to this node's app. */
const INBOUND_OWN_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);
const SAVE_DELAY_MS = 1_000;
/** Largest request head accepted on either port (431 past it). */
const MAX_HEAD_BYTES = 65_536;
/** A connection with no request under way is closed after this long (as the daemon skeleton's ports do). */
const IDLE_TIMEOUT_SECONDS = 30;
/**
 * The client's idle connections close well before a server would close them: a server that
 * closes an idle keep-alive connection races with a request the client is sending on it. 4 s is
 * under Node.js's default keepAliveTimeout (5 s) and far under our own ports' 30 s.
 */
const CLIENT_IDLE_TIMEOUT_SECONDS = 4;
const SAVE_EVERY_MS = 30_000;

export interface SidecarOptions {
  readonly config: SidecarConfig;
  readonly logger: Logger;
  readonly metrics: DaemonMetrics;
  /** The inbound URL other sidecars call, resolved from --advertise or the listen address. */
  readonly advertise: string;
}

export class Sidecar {
  readonly state: MeshState;
  readonly verifier: TokenVerifier;
  readonly tracing: Tracing;
  readonly metrics: SidecarMetrics;
  private readonly client: ControlPlaneClient;
  private readonly sync: ControlPlaneSync;
  private readonly registration: NodeRegistration;
  private readonly keyring = new Keyring();
  private readonly resilience: ResilienceTable;
  private readonly inboundOptions: InboundOptions;
  private inbound: Handler;
  private readonly outbound: Handler;
  private readonly inboundDaemon: DaemonApp;
  private readonly outboundDaemon: DaemonApp;
  /** Connections to other nodes' sidecars and to the local app, kept alive between calls. */
  private readonly http: HttpClient;
  private loadedFromCache: string | undefined;
  private lastSaved: string | undefined;
  /** When draining: the time (Date.now()) the ports close; 0 otherwise. */
  private portsCloseAt = 0;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private saveEvery: ReturnType<typeof setInterval> | undefined;
  private revoked = new Set<string>();

  constructor(private readonly options: SidecarOptions) {
    const { config, logger } = options;
    this.http = new HttpClient({ idleTimeoutSeconds: CLIENT_IDLE_TIMEOUT_SECONDS, onInternalError: (error) => logger.error({ err: error }, "internal error in the HTTP client; the connection was closed") });
    this.state = new MeshState(logger);
    this.metrics = createSidecarMetrics(options.metrics.registry);
    this.client = new ControlPlaneClient({ endpoints: config.controlPlane, ...(config.token ? { token: config.token } : {}), timeoutMs: 2_000 });
    this.tracing = createTracing({
      serviceName: "nagent-sidecar",
      nodeId: config.nodeId,
      sampleRatio: config.traceSampleRatio,
      exporter: config.traceExporter,
      otlpEndpoint: config.otlpEndpoint,
      jaegerEndpoint: config.jaegerEndpoint,
      logger,
    });
    const metrics = this.metrics;
    this.verifier = new TokenVerifier({
      keyring: this.keyring,
      isRevoked: (id) => this.state.isRevoked(id),
      introspect: async (token) => {
        try {
          const answer = await this.client.introspectToken(token);
          if (!answer.active) return { active: false };
          const { kind, id, subject, roles, aud, exp, iat } = answer;
          return { active: true, claims: { kind, id, subject, roles, audience: aud, issuedAt: iat, expiresAt: exp } };
        } catch (error) {
          if (error instanceof UnavailableError) throw new ControlPlaneUnavailableError(error.message, { cause: error });
          throw error;
        }
      },
      ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
      downPolicy: config.authDownPolicy,
      logger,
      onLookup: (tier, result) => metrics.authLookup(tier, result),
    });
    this.resilience = new ResilienceTable(this.state, metrics, logger);
    this.inboundOptions = {
      nodeId: config.nodeId,
      app: config.app === undefined ? undefined : originOf(config.app),
      client: this.http,
      verifier: this.verifier,
      tracing: this.tracing,
      metrics,
      logger,
      maxBodyBytes: config.maxBodyBytes,
    };
    this.inbound = inboundStack(this.inboundOptions, this.state);
    this.outbound = outboundStack(
      {
        nodeId: config.nodeId,
        state: this.state,
        tracing: this.tracing,
        metrics,
        logger,
        maxBodyBytes: config.maxBodyBytes,
        client: this.http,
        local: (request, domain, target) => this.handleInbound(request, domain, target, config.nodeId),
        servesLocally: (domain) => config.app !== undefined && config.domains.includes(domain),
      },
      this.resilience,
      new Balancer(),
    );
    this.state.onChange((changes) => {
      if (changes.has("keys")) this.keyring.replace(this.state.publicKeys);
      if (changes.has("policies")) {
        this.inbound = inboundStack(this.inboundOptions, this.state);
        this.resilience.refreshPolicies();
      }
      if (changes.has("nodes")) this.resilience.refreshInstances();
      if (changes.has("revocations")) this.applyRevocations();
      metrics.setConfigRevision(this.state.revision);
      this.scheduleSave();
    });
    this.sync = new ControlPlaneSync({
      client: this.client,
      state: this.state,
      logger,
      onStatus: (status) => {
        metrics.setControlPlaneConnected(status.connected);
        metrics.setRunningFromCache(status.connected ? undefined : Date.parse(status.lastContact ?? this.lastSaved ?? new Date().toISOString()));
      },
    });
    this.registration = new NodeRegistration({
      client: this.client,
      state: this.state,
      logger,
      nodeId: config.nodeId,
      address: options.advertise,
      domains: config.domains,
      metadata: { version: VERSION },
      ttlSeconds: Math.round(config.registrationTtl / 1000),
    });
    const notReadyReason = () =>
      this.sync.status.synced || this.loadedFromCache ? undefined : "waiting for the control plane's state (and no cache to start from)";
    this.inboundDaemon = createDaemonApp({ logger, metrics: options.metrics, maxBodyBytes: config.maxBodyBytes, notReadyReason });
    this.outboundDaemon = createDaemonApp({ logger, metrics: options.metrics, maxBodyBytes: config.maxBodyBytes, notReadyReason });
    mountLocalApi(this.outboundDaemon.app, { state: this.state, status: () => this.status(), stopping: this.outboundDaemon.stopping });
  }

  /** Loads the cache dir, then starts following the control plane. */
  start(): void {
    const { config, logger } = this.options;
    checkCacheDir(config.cacheDir);
    try {
      const cached = loadCache(config.cacheDir, config.nodeId);
      if (cached) {
        this.state.reset(cached.items, cached.revision);
        const restored = this.verifier.restore(cached.credentials);
        this.loadedFromCache = cached.savedAt;
        this.lastSaved = cached.savedAt;
        this.metrics.setRunningFromCache(Date.parse(cached.savedAt));
        logger.info({ revision: cached.revision, savedAt: cached.savedAt, items: cached.items.length, credentials: restored }, "loaded the last known state from the cache dir");
      }
    } catch (error) {
      if (!(error instanceof CacheFileError)) throw error;
      logger.warn({ err: error.message }, "ignoring the cache dir's state");
    }
    this.sync.start();
    this.saveEvery = setInterval(() => this.save(), SAVE_EVERY_MS);
    this.saveEvery.unref?.();
  }

  /** Registers this node and starts heartbeating: call once the ports are open. */
  announce(): void {
    this.registration.start();
  }

  /**
   * The first step of a graceful stop, while both ports still accept and serve: leaves the
   * registry, then keeps serving for the drain delay, so that every other sidecar hears of it
   * through its watch and stops routing here before the ports close (a caller that still sends a
   * call meanwhile gets it answered). The daemon then stops accepting and lets in-flight calls finish.
   */
  async drain(): Promise<void> {
    const { config, logger } = this.options;
    await this.registration.stop(true);
    if (config.drainDelay <= 0) return;
    logger.info({ drainDelayMs: config.drainDelay }, "left the registry; serving on for the drain delay before the ports close");
    this.portsCloseAt = Date.now() + config.drainDelay;
    await Bun.sleep(config.drainDelay);
  }

  async stop(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    if (this.saveEvery) clearInterval(this.saveEvery);
    await this.registration.stop(false);
    await this.sync.stop();
    this.save();
    this.http.close();
    await Promise.all([this.verifier.close(), this.tracing.shutdown(2_000)]);
  }

  listeners(): ListenerSpec[] {
    const { config } = this.options;
    return [
      {
        name: "inbound",
        address: config.inboundListen,
        daemon: this.inboundDaemon,
        open: (address) =>
          this.listen(address, (request) => {
            const target = request.target;
            if (INBOUND_OWN_PATHS.has(pathnameOf(target))) return serveFetch(request, localOrigin(address), this.inboundDaemon.app.fetch);
            const domain = request.headers.first(DOMAIN_HEADER) ?? config.domains[0];
            return this.handleInbound(request, domain, target, request.headers.first(FROM_HEADER));
          }),
      },
      {
        name: "outbound",
        address: config.outboundListen,
        daemon: this.outboundDaemon,
        open: (address) =>
          this.listen(address, (request) => {
            const target = request.target;
            const answer = target.startsWith(INVOKE_PREFIX) ? this.handleOutbound(request, target) : serveFetch(request, localOrigin(address), this.outboundDaemon.app.fetch);
            return this.portsCloseAt === 0 ? answer : answer.then((response) => this.noticeClosing(response));
          }),
      },
    ];
  }

  /**
   * While draining, every answer to the local app says in how many milliseconds the ports close
   * (DRAINING_HEADER). The SDK then holds new calls until the port has closed and sends them to
   * the restarted sidecar: a call sent as the port closes could be cut with no way to tell whether
   * it was received, which only the app can avoid, by not sending it then.
   */
  private noticeClosing(response: HttpResponse): HttpResponse {
    response.headers.set(DRAINING_HEADER, String(Math.max(0, this.portsCloseAt - Date.now())));
    return response;
  }

  private listen(address: ListenAddress, handler: (request: ServerRequest) => Promise<HttpResponse>): Http1Server {
    const { config, logger } = this.options;
    return listenHttp1({
      hostname: address.host,
      port: address.port,
      handler,
      errorResponse,
      maxHeadBytes: MAX_HEAD_BYTES,
      onHandlerError: (error, request) => logger.error({ err: error, method: request.method, target: request.target.slice(0, 256) }, "unhandled error in the request path"),
      onInternalError: (error) => logger.error({ err: error }, "internal error in the HTTP server; the connection was closed"),
      idleTimeoutSeconds: IDLE_TIMEOUT_SECONDS,
    });
  }

  private handleInbound(request: ServerRequest, domain: string | undefined, target: string, fromNode: string | undefined): Promise<HttpResponse> {
    const { config } = this.options;
    if (domain === undefined || !config.domains.includes(domain)) {
      return Promise.resolve(errorResponse(404, "unknown_domain", `node ${config.nodeId} does not serve domain ${domain ?? "(none given)"}; it serves ${config.domains.join(", ") || "none"}`));
    }
    // Calls keep being served while the sidecar drains: a caller that has not yet heard that this
    // node left the registry must still get its answer (readiness is what turns off at once).
    const call: Call = {
      request,
      method: request.method,
      direction: "inbound",
      domain,
      target,
      pathname: pathnameOf(target),
      fromNode,
      startedAt: performance.now(),
    };
    return this.guard(call, this.inbound);
  }

  private handleOutbound(request: ServerRequest, invokePath: string): Promise<HttpResponse> {
    const rest = invokePath.slice(INVOKE_PREFIX.length);
    const slash = rest.search(/[/?]/);
    const domain = slash < 0 ? rest : rest.slice(0, slash);
    if (!DOMAIN.test(domain)) return Promise.resolve(errorResponse(400, "invalid_domain", `expected /v1/invoke/{domain}/{path}, with a domain of lower-case letters, digits, '.', '_' or '-'; got ${JSON.stringify(domain)}`));
    let target = slash < 0 ? "/" : rest.slice(slash);
    if (target.startsWith("?")) target = `/${target}`;
    const call: Call = {
      request,
      method: request.method,
      direction: "outbound",
      domain,
      target,
      pathname: pathnameOf(target),
      fromNode: this.options.config.nodeId,
      startedAt: performance.now(),
    };
    return this.guard(call, this.outbound);
  }

  /**
   * Runs a call through a stack and finishes it (span, in-flight count, duration) once its answer
   * is ready. A bug in a layer answers 500 with the JSON body, logged with the call, never a
   * dropped connection.
   */
  private async guard(call: Call, handler: Handler): Promise<HttpResponse> {
    try {
      const response = await handler(call);
      finishCall(call, this.metrics, response.status);
      return response;
    } catch (error) {
      if (isTooLarge(error)) {
        finishCall(call, this.metrics, 413);
        return errorResponse(413, "payload_too_large", `request body is larger than the limit of ${this.options.config.maxBodyBytes} bytes`);
      }
      finishCall(call, this.metrics, 500, "internal");
      this.options.logger.error({ err: error, direction: call.direction, domain: call.domain, method: call.method, path: call.pathname }, "unhandled error in the request path");
      return errorResponse(500, "internal", "internal error in the sidecar; see its log");
    }
  }

  /** Revocations that arrived since the last look: dropped from every credential cache at once. */
  private applyRevocations(): void {
    const now = this.state.revokedIds;
    for (const id of now) if (!this.revoked.has(id)) void this.verifier.revoke(id);
    this.revoked = new Set(now);
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref?.();
  }

  private save(): void {
    const { config, logger } = this.options;
    if (!this.sync.status.synced && !this.loadedFromCache) return;
    const snapshot = this.state.snapshot();
    try {
      const savedAt = new Date().toISOString();
      saveCache(config.cacheDir, {
        nodeId: config.nodeId,
        savedAt,
        revision: snapshot.revision,
        appliedAt: this.state.revisionAppliedAt,
        items: snapshot.items,
        credentials: this.verifier.snapshot(),
      });
      this.lastSaved = savedAt;
    } catch (error) {
      logger.warn({ err: (error as Error).message, dir: config.cacheDir }, "cannot write the cache dir; will try again");
    }
  }

  /** GET /v1/status: what the sidecar holds, where it came from and how stale it is. */
  status(): unknown {
    const { config } = this.options;
    const sync = this.sync.status;
    const heartbeat = this.registration.lastHeartbeat;
    return {
      node: config.nodeId,
      domains: config.domains,
      version: VERSION,
      revision: this.state.revision,
      revisionAppliedAt: this.state.revisionAppliedAt,
      controlPlane: {
        connected: sync.connected,
        synced: sync.synced,
        endpoint: sync.endpoint,
        lastContact: sync.lastContact,
        latestRevision: heartbeat?.answer.revision ?? null,
        sync: heartbeat?.answer.sync ?? { state: "unknown" },
        lastHeartbeat: heartbeat?.at ?? null,
        registered: this.registration.isRegistered,
      },
      source: sync.synced ? "control-plane" : this.loadedFromCache ? "cache" : "none",
      cache: { dir: config.cacheDir, loadedFrom: this.loadedFromCache ?? null, lastSaved: this.lastSaved ?? null },
      held: {
        keys: this.state.size,
        nodes: this.state.nodes.size,
        healthyNodes: [...this.state.nodes.keys()].filter((id) => this.state.isHealthy(id)).length,
        resiliencePolicies: [...this.state.resiliencePolicies.values()].map((named) => named.name),
        authzPolicies: this.state.authzPolicies.map((named) => named.name),
        publicKeys: this.state.publicKeys.length,
        revocations: this.state.revokedIds.size,
      },
      resilience: this.resilience.snapshot(),
      credentials: this.verifier.stats(),
    };
  }
}

/** How this machine reaches a listen address, for the URLs of requests handed to the Hono app. */
function localOrigin(address: ListenAddress): string {
  const host = address.host === "0.0.0.0" || address.host === "::" ? "127.0.0.1" : address.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
}

function pathnameOf(target: string): string {
  const query = target.indexOf("?");
  return query < 0 ? target : target.slice(0, query);
}
