import type { Server, ServerWebSocket } from "bun";
import type { ListenAddress } from "../config/index.ts";
import { flushLogger, type Logger } from "../telemetry/index.ts";
import type { DaemonApp } from "./app.ts";

/**
 * What a route hands to `server.upgrade(request, { data })` to accept a WebSocket on a daemon's
 * port; the daemon's Bun.serve dispatches every socket event to these.
 */
export interface SocketHandlers {
  open?(ws: ServerWebSocket<SocketHandlers>): void;
  message(ws: ServerWebSocket<SocketHandlers>, message: string | Buffer): void;
  close?(ws: ServerWebSocket<SocketHandlers>, code: number, reason: string): void;
}

/** One port a daemon serves, e.g. the sidecar's inbound and outbound ports. */
export interface ListenerSpec {
  readonly name: string;
  readonly address: ListenAddress;
  readonly daemon: DaemonApp;
  /**
   * Serves the port instead of the daemon's Hono app, for a hot path that must skip its
   * per-request middleware (the sidecar's proxy); it hands everything else to `daemon.app`.
   */
  readonly fetch?: (request: Request, server: Server<SocketHandlers>) => Response | Promise<Response>;
  /**
   * Opens the port itself instead of Bun.serve (throwing as Bun.serve does when it cannot listen):
   * the sidecar's proxy ports, served by its own HTTP/1.1 server.
   */
  readonly open?: (address: ListenAddress) => PortServer;
}

/** A port opened by something other than Bun.serve (the sidecar's own HTTP/1.1 server), stopped the same way. */
export interface PortServer {
  readonly port: number;
  /** Requests received and not yet answered. */
  readonly pendingRequests: number;
  /** Stops accepting; without `force` lets in-flight requests finish, with it cuts every connection. */
  stop(force: boolean): Promise<void>;
  /** Optional: from the start of a drain, close each keep-alive connection after its next answer (see internal/http1). */
  closeAfterEachResponse?(): void;
}

export interface RunningListener {
  readonly name: string;
  /** Where clients on this machine reach it (0.0.0.0 is shown as 127.0.0.1). */
  readonly url: string;
  readonly port: number;
}

/** The port is taken, or the address is not this machine's. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  readonly listener: string;
  readonly address: ListenAddress;
  constructor(listener: string, address: ListenAddress, cause: unknown) {
    const code = (cause as { code?: string }).code;
    const reason = code === "EADDRINUSE" ? "address already in use" : ((cause as Error).message ?? String(cause));
    super(`cannot listen on ${address.host}:${address.port} (${listener}): ${reason}`, { cause });
    this.listener = listener;
    this.address = address;
  }
}

export interface DaemonOptions {
  readonly logger: Logger;
  readonly listeners: readonly ListenerSpec[];
  /** How long in-flight requests may run after shutdown begins. */
  readonly shutdownTimeoutMs: number;
  /** Work once draining has begun and before the ports stop accepting (hand over leadership, close long-lived sockets). */
  readonly onDrain?: () => Promise<void> | void;
  /** Work after the ports are closed and before logs are flushed (close stores, sockets). */
  readonly onStop?: () => Promise<void> | void;
}

export interface Daemon {
  readonly listeners: readonly RunningListener[];
  /** Aborted when shutdown begins, for long-lived work (watch streams) to end early. */
  readonly stopping: AbortSignal;
  /** Graceful stop: refuse new connections, drain in-flight requests up to the deadline, flush logs. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Opens every listener with Bun.serve. If one cannot open, those already open are closed and a
 * ListenError is thrown, so a daemon never runs half-started.
 */
export function startDaemon(options: DaemonOptions): Daemon {
  const { logger } = options;
  const servers: { spec: ListenerSpec; server: PortServer }[] = [];
  for (const spec of options.listeners) {
    try {
      if (spec.open) {
        servers.push({ spec, server: spec.open(spec.address) });
        continue;
      }
      const server = Bun.serve<SocketHandlers>({
        hostname: spec.address.host,
        port: spec.address.port,
        fetch: spec.fetch ?? spec.daemon.app.fetch,
        // Bun's own limit only guards against absurd bodies; the app answers 413 with a JSON body.
        idleTimeout: 30,
        // A route that upgrades passes its handlers as the socket's data (see SocketHandlers).
        websocket: {
          open: (ws) => ws.data.open?.(ws),
          message: (ws, message) => ws.data.message(ws, message),
          close: (ws, code, reason) => ws.data.close?.(ws, code, reason),
        },
      });
      servers.push({ spec, server: { port: server.port ?? spec.address.port, get pendingRequests() { return server.pendingRequests; }, stop: (force) => server.stop(force) } });
    } catch (error) {
      for (const { server } of servers) void server.stop(true);
      throw new ListenError(spec.name, spec.address, error);
    }
  }
  const listeners = servers.map(({ spec, server }) => {
    const host = spec.address.host === "0.0.0.0" || spec.address.host === "::" ? "127.0.0.1" : spec.address.host;
    const port = server.port ?? spec.address.port;
    const display = host.includes(":") ? `[${host}]` : host;
    return { name: spec.name, url: `http://${display}:${port}`, port };
  });
  for (const listener of listeners) logger.info({ listener: listener.name, url: listener.url }, "listening");

  const abort = new AbortController();
  let stopped: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopped ??= (async () => {
      logger.info({ reason, timeoutMs: options.shutdownTimeoutMs }, "shutting down");
      for (const { spec, server } of servers) {
        spec.daemon.beginDrain(reason);
        // Clients are told to close with the answers they get during the drain, so that few idle
        // keep-alive connections are left for stop() to close under a request being sent.
        server.closeAfterEachResponse?.();
      }
      abort.abort(new Error(`shutting down: ${reason}`));
      try {
        await options.onDrain?.();
      } catch (error) {
        logger.error({ err: error }, "error while draining");
      }
      const inFlight = servers.reduce((sum, { server }) => sum + server.pendingRequests, 0);
      const drained = Promise.all(servers.map(({ server }) => server.stop(false))).then(() => true);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), options.shutdownTimeoutMs);
      });
      const clean = await Promise.race([drained, deadline]);
      clearTimeout(timer);
      if (!clean) {
        const cut = servers.reduce((sum, { server }) => sum + server.pendingRequests, 0);
        logger.warn({ cut }, "shutdown deadline reached; closing the remaining connections");
        await Promise.all(servers.map(({ server }) => server.stop(true)));
      }
      try {
        await options.onStop?.();
      } catch (error) {
        logger.error({ err: error }, "error while stopping");
      }
      logger.info({ drainedRequests: inFlight, clean }, "stopped");
      await flushLogger(logger);
    })();
    return stopped;
  };
  return { listeners, stopping: abort.signal, shutdown };
}

/**
 * Ties a daemon to the process: SIGTERM or SIGINT starts a graceful shutdown and exits 0 once it
 * is done; a second signal exits at once with status 1, for an operator who will not wait.
 */
export function exitOnSignals(daemon: Daemon): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    void daemon.shutdown(signal).then(() => process.exit(0));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
