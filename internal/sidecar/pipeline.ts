// The request path as a stack of small layers (in the manner of linkerd2-proxy): each concern is
// one function from the next handler to a handler, and a stack is composed once, when the
// policies it depends on change, never per request.
import { Fields, type HttpResponse, type ServerRequest } from "../http1/index.ts";
import type { ServerSpan, ServerSpanInfo, SidecarMetrics, Tracing } from "./telemetry/index.ts";

/** One request on its way through the sidecar. Layers fill in what they learn. */
export interface Call {
  /** The request as received: its fields may be changed in place on the way to the next hop. */
  readonly request: ServerRequest;
  readonly method: string;
  readonly direction: "inbound" | "outbound";
  /** The business domain called. */
  readonly domain: string;
  /** What the next hop is asked for: path and query (after /v1/invoke/{domain} for outbound calls). */
  readonly target: string;
  /** The path alone, for authorization. */
  readonly pathname: string;
  /** The node the call came from, as the calling sidecar said (telemetry only, not trusted). */
  readonly fromNode: string | undefined;
  /** performance.now() on arrival. */
  readonly startedAt: number;
  /** Set by authentication. */
  principal?: { readonly subject: string; readonly roles: readonly string[] };
  /** Set by tracing. */
  span?: ServerSpan;
}

export type Handler = (call: Call) => Promise<HttpResponse>;
export type Layer = (next: Handler) => Handler;

/** Composes layers outermost first: compose([a, b], h) is a(b(h)). */
export function compose(layers: readonly Layer[], handler: Handler): Handler {
  let composed = handler;
  for (let i = layers.length - 1; i >= 0; i--) composed = layers[i]!(composed);
  return composed;
}

/**
 * A server span around the rest of the stack: started from what `describe` says of the call,
 * left on the call for the client spans of its attempts, ended with the status (or an error).
 */
export function traceLayer(tracing: Tracing, describe: (call: Call) => ServerSpanInfo): Layer {
  return (next) => async (call) => {
    const span = tracing.startServerSpan(describe(call));
    call.span = span;
    try {
      const response = await next(call);
      span.end({ status: response.status });
      return response;
    } catch (error) {
      span.end({ error: "internal" });
      throw error;
    }
  };
}

/** Seconds since the call arrived. */
export function secondsSince(call: Call): number {
  return (performance.now() - call.startedAt) / 1000;
}

/** Duration and in-flight count of every call that got this far. */
export function metricsLayer(metrics: SidecarMetrics): Layer {
  return (next) => async (call) => {
    metrics.requestStarted(call.direction);
    let status: number | "error" = "error";
    try {
      const response = await next(call);
      status = response.status;
      return response;
    } finally {
      metrics.requestEnded(call.direction);
      metrics.observeRequest(call.direction, call.domain, call.method, status, secondsSince(call));
    }
  };
}

const encoder = new TextEncoder();

/** The JSON error answer every daemon gives, for a call that ends in the sidecar. */
export function errorResponse(status: number, code: string, message: string, extra?: Record<string, unknown>): HttpResponse {
  return {
    status,
    headers: new Fields(["content-type", "application/json"]),
    body: encoder.encode(JSON.stringify({ error: { ...extra, code, message } })),
  };
}
