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
  /** Set by the metrics layer: counted as in flight until finishCall. */
  inFlight?: boolean;
}

export type Handler = (call: Call) => Promise<HttpResponse>;
export type Layer = (next: Handler) => Handler;

/** Composes layers outermost first: compose([a, b], h) is a(b(h)). */
export function compose(layers: readonly Layer[], handler: Handler): Handler {
  let composed = handler;
  for (let i = layers.length - 1; i >= 0; i--) composed = layers[i]!(composed);
  return composed;
}

// Layers pass the call on and return the next layer's promise as it is: no layer awaits. What a
// layer must do once the answer is known (end its span, observe the duration) is done by
// finishCall, once per call, by whoever awaits the whole stack. One await per call instead of one
// per layer was a measurable share of the sidecar's CPU per request.

/** A server span for the rest of the stack, left on the call (the parent of its attempts' client spans); finishCall ends it. */
export function traceLayer(tracing: Tracing, describe: (call: Call) => ServerSpanInfo): Layer {
  return (next) => (call) => {
    call.span = tracing.startServerSpanFor(call.request.headers, call, describe);
    return next(call);
  };
}

/** Counts the call as in flight from here on; finishCall ends the count. */
export function metricsLayer(metrics: SidecarMetrics): Layer {
  return (next) => (call) => {
    metrics.requestStarted(call.direction);
    call.inFlight = true;
    return next(call);
  };
}

/** Seconds since the call arrived. */
export function secondsSince(call: Call): number {
  return (performance.now() - call.startedAt) / 1000;
}

/**
 * Ends what the layers started for a call, once its answer's head is ready (`status`) or it failed
 * (`error`: the span's error.type): its span, its in-flight count, and its duration, which is
 * observed for every call, refused ones included.
 */
export function finishCall(call: Call, metrics: SidecarMetrics, status: number | undefined, error?: string): void {
  // An unrecorded span's end does nothing: skip building its result.
  const span = call.span;
  if (span !== undefined && span.sampled) span.end(error === undefined ? { status } : { ...(status === undefined ? {} : { status }), error });
  if (call.inFlight) {
    call.inFlight = false;
    metrics.requestEnded(call.direction);
  }
  metrics.observeRequest(call.direction, call.domain, call.method, status ?? "error", secondsSince(call));
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
