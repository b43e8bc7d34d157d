import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { VERSION } from "../version/index.ts";

/**
 * Latency buckets in seconds, from 0.5 ms (a local cache hit) to 10 s (a timed-out call), dense
 * around the 50 ms cross-node threshold the alerts watch.
 */
export const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The metrics every daemon exports; concerns register their own on `registry`. */
export interface DaemonMetrics {
  readonly registry: Registry;
  /** http.server.request.duration in the OpenTelemetry HTTP conventions, in seconds. */
  readonly httpRequestDuration: Histogram<"http_request_method" | "http_route" | "http_response_status_code">;
  readonly httpActiveRequests: Gauge<"http_request_method">;
  /** Requests refused before reaching a handler (body too large, malformed). */
  readonly httpRejectedRequests: Counter<"reason">;
}

/** A fresh registry with process metrics and the HTTP server metrics, labelled with the binary. */
export function createDaemonMetrics(service: string): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "nagent_build_info",
    help: "Always 1; labels carry the binary and its version.",
    labelNames: ["service", "version"],
    registers: [registry],
  }).set({ service, version: VERSION }, 1);
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: "http_server_request_duration_seconds",
      help: "Duration of HTTP server requests.",
      labelNames: ["http_request_method", "http_route", "http_response_status_code"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    httpActiveRequests: new Gauge({
      name: "http_server_active_requests",
      help: "Number of HTTP server requests in flight.",
      labelNames: ["http_request_method"],
      registers: [registry],
    }),
    httpRejectedRequests: new Counter({
      name: "http_server_rejected_requests_total",
      help: "Requests refused before reaching their handler, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}
