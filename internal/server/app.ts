import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import type { Logger } from "../telemetry/index.ts";
import type { DaemonMetrics } from "../telemetry/index.ts";
import { HttpError, errorBody } from "./errors.ts";

/** What handlers find on the context. */
export type AppEnv = { Variables: { requestId: string } };
export type App = Hono<AppEnv>;

export interface AppOptions {
  readonly logger: Logger;
  readonly metrics: DaemonMetrics;
  readonly maxBodyBytes: number;
  /** Why the daemon is not ready yet, or undefined when it is. Called on every /readyz. */
  readonly notReadyReason?: () => string | undefined;
}

/** The HTTP skeleton of a daemon; `draining` turns /readyz to 503 while shutting down. */
export interface DaemonApp {
  readonly app: App;
  /** Set once shutdown begins, so load balancers stop sending new work before the port closes. */
  readonly draining: boolean;
  /** Aborted when shutdown begins, so long-lived responses (watch streams) end and let the drain finish. */
  readonly stopping: AbortSignal;
  /** Starts the drain: /readyz answers 503 and `stopping` fires. */
  beginDrain(reason: string): void;
}

/** Probe and scrape paths are logged at debug level: they arrive every few seconds. */
const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Builds the Hono app every daemon starts from: request ids, metrics and access logs, the body
 * size limit, /healthz, /readyz, /metrics, and JSON error bodies for every failure, including 404
 * and unexpected exceptions. Daemons add their routes to `app` afterwards.
 */
export function createDaemonApp(options: AppOptions): DaemonApp {
  const { logger, metrics } = options;
  const app: App = new Hono<AppEnv>();
  const abort = new AbortController();
  const daemon: DaemonApp = {
    app,
    get draining() {
      return abort.signal.aborted;
    },
    stopping: abort.signal,
    beginDrain(reason) {
      if (!abort.signal.aborted) abort.abort(new Error(`shutting down: ${reason}`));
    },
  };

  // Order matters: the request id comes first so that every log line and error carries it; the
  // observer wraps everything after it so that rejected requests (413) are counted and logged
  // too; the size limit runs before any handler can read the body.
  app.use(requestId({ limitLength: 128 }));
  app.use(async (c, next) => {
    const method = c.req.method;
    const started = performance.now();
    metrics.httpActiveRequests.inc({ http_request_method: method });
    try {
      await next();
    } finally {
      metrics.httpActiveRequests.dec({ http_request_method: method });
      const seconds = (performance.now() - started) / 1000;
      const status = c.res.status;
      metrics.httpRequestDuration.observe(
        { http_request_method: method, http_route: routeLabel(c), http_response_status_code: status },
        seconds,
      );
      const line = {
        reqId: c.get("requestId"),
        method,
        path: c.req.path,
        status,
        durationMs: Math.round(seconds * 1e6) / 1e3,
      };
      if (QUIET_PATHS.has(c.req.path)) logger.debug(line, "request");
      else logger.info(line, "request");
    }
  });
  app.use(
    bodyLimit({
      maxSize: options.maxBodyBytes,
      onError: (c) => {
        metrics.httpRejectedRequests.inc({ reason: "body_too_large" });
        return c.json(
          errorBody("payload_too_large", `request body is larger than the limit of ${options.maxBodyBytes} bytes`),
          413,
        );
      },
    }),
  );

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const reason = daemon.draining ? "shutting down" : options.notReadyReason?.();
    if (reason !== undefined) return c.json({ status: "not_ready", reason }, 503);
    return c.json({ status: "ready" });
  });
  app.get("/metrics", async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { "content-type": metrics.registry.contentType });
  });

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    if (error instanceof HttpError) return c.json(errorBody(error.code, error.message, error.details), error.status);
    logger.error({ reqId: c.get("requestId"), err: error, path: c.req.path }, "unhandled error");
    return c.json(errorBody("internal", "internal error; see the server log for request id " + c.get("requestId")), 500);
  });
  return daemon;
}

/**
 * The route template for the metrics label (`/v1/config/:key`, never the raw path), so the
 * label's values stay bounded whatever clients send.
 */
function routeLabel(c: Context<AppEnv>): string {
  const route = routePath(c, -1);
  return route === "*" || route === "/*" ? "unmatched" : route;
}
