// Tracing for the sidecar's request path. Every request passes through here, so the work is split
// by what a request needs: the SDK (tracer provider, sampler, batch processor, exporter) is set up
// once; an unsampled request (the common case at any ratio below 1) never enters the SDK at all: it
// costs a traceparent read (or a new trace id), a span id per span and a small object, and builds
// no attributes; only a sampled request pays for SDK spans and their attributes; and the exporter
// runs on its own turn of the event loop, never awaited by a request.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from "@opentelemetry/api";
import type { Attributes, Context, Span, SpanContext, TextMapSetter, TraceState, Tracer } from "@opentelemetry/api";
import {
  TRACE_PARENT_HEADER,
  TRACE_STATE_HEADER,
  TraceState as TraceStateImpl,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  HTTP_REQUEST_METHOD_VALUE_CONNECT,
  HTTP_REQUEST_METHOD_VALUE_DELETE,
  HTTP_REQUEST_METHOD_VALUE_GET,
  HTTP_REQUEST_METHOD_VALUE_HEAD,
  HTTP_REQUEST_METHOD_VALUE_OPTIONS,
  HTTP_REQUEST_METHOD_VALUE_OTHER,
  HTTP_REQUEST_METHOD_VALUE_PATCH,
  HTTP_REQUEST_METHOD_VALUE_POST,
  HTTP_REQUEST_METHOD_VALUE_PUT,
  HTTP_REQUEST_METHOD_VALUE_TRACE,
} from "@opentelemetry/semantic-conventions";
import type { HeaderAccess } from "../../http1/index.ts";
import type { Logger } from "../../telemetry/index.ts";
import { VERSION } from "../../version/index.ts";
import {
  createSpanExporter,
  DEFAULT_JAEGER_ENDPOINT,
  DEFAULT_OTLP_ENDPOINT,
  DeferredLoggingExporter,
  EXPORT_TIMEOUT_MS,
} from "./exporter.ts";
import { PooledIdGenerator } from "./ids.ts";
import { formatTraceparent, parseTraceparent, ratioBound } from "./trace-context.ts";

/** Our own span attributes, beside the OpenTelemetry HTTP ones. */
export const ATTR_NODE_FROM = "node.from";
export const ATTR_NODE_TO = "node.to";
export const ATTR_NAGENT_DOMAIN = "nagent.domain";
export const ATTR_NAGENT_INSTANCE = "nagent.instance";

export interface TracingOptions {
  /** service.name of the resource, e.g. "nagent-sidecar". */
  readonly serviceName: string;
  /** service.instance.id of the resource. */
  readonly nodeId: string;
  /** Fraction of new traces (requests arriving without a traceparent) to record, 0..1. */
  readonly sampleRatio: number;
  /** "otlp" (OTLP/HTTP, JSON), "jaeger" (the deprecated Jaeger Thrift HTTP exporter) or "none". */
  readonly exporter: "otlp" | "jaeger" | "none";
  /** Default http://127.0.0.1:4318/v1/traces. */
  readonly otlpEndpoint?: string;
  /** The Jaeger collector's HTTP endpoint; default http://127.0.0.1:14268/api/traces. */
  readonly jaegerEndpoint?: string;
  readonly logger: Logger;
}

export interface ServerSpanInfo {
  readonly method: string;
  /** Low-cardinality template, e.g. "/v1/invoke/{domain}" or "inbound {domain}". */
  readonly route: string;
  readonly urlPath: string;
  readonly scheme: string;
  readonly serverAddress?: string;
  readonly serverPort?: number;
  readonly clientAddress?: string;
  readonly userAgent?: string;
  /** The request's headers, from which traceparent and tracestate are read (a Fields or a Fetch Headers); startServerSpanFor takes them apart. */
  readonly headers: HeaderAccess;
  readonly nodeFrom?: string;
  readonly nodeTo?: string;
  readonly domain?: string;
}

export interface ClientSpanInfo {
  readonly method: string;
  /** The URL called; parsed only when the span is recorded. */
  readonly url: string | URL;
  /** 0 on the first attempt, 1 on the first retry, and so on. */
  readonly resendCount: number;
  readonly nodeFrom: string;
  readonly nodeTo: string;
  readonly domain: string;
  readonly instance?: string;
}

export interface SpanResult {
  readonly status?: number;
  /** error.type: a short class of failure such as "timeout", "connect", "reset", "circuit_open". */
  readonly error?: string;
}

/** One span of the request path, recorded or not. */
export interface RequestSpan {
  /** True when this span is recorded and will be exported. */
  readonly sampled: boolean;
  /** The trace id, for log lines; present whether sampled or not. */
  readonly traceId: string;
  /** This span's id as the next hop will see it in `traceparent`. */
  readonly spanId: string;
  /** Writes traceparent (and tracestate, when the trace carries one) for the next hop. */
  inject(headers: HeaderAccess): void;
  /** Ends the span; only the first call counts. */
  end(result: SpanResult): void;
}

/** The span of a request this sidecar received (from the local app, or from another sidecar). */
export interface ServerSpan extends RequestSpan {}

/** The span of one attempt to call the next hop. */
export interface ClientSpan extends RequestSpan {}

export interface Tracing {
  /**
   * Starts the span of a received request, the child of the traceparent in its headers if it
   * carries a valid one. Samples new traces at `sampleRatio`; follows the caller's decision otherwise.
   */
  startServerSpan(info: ServerSpanInfo): ServerSpan;
  /**
   * The same, for the request path: `describe(subject)` is called only when the span is
   * recorded, so an unsampled request builds no description (nothing is allocated for it).
   */
  startServerSpanFor<T>(headers: HeaderAccess, subject: T, describe: (subject: T) => ServerSpanInfo): ServerSpan;
  /** Starts the span of one attempt to call the next hop, a child of `parent`; sampled iff `parent` is. */
  startClientSpan(parent: ServerSpan, info: ClientSpanInfo): ClientSpan;
  /** The same, with `describe(subject)` called only when the span is recorded. */
  startClientSpanFor<T>(parent: ServerSpan, subject: T, describe: (subject: T) => ClientSpanInfo): ClientSpan;
  /** Exports every ended span still queued; rejects if the collector refused or could not be reached. */
  flush(): Promise<void>;
  /**
   * Flushes and stops the exporter, waiting at most `timeoutMs`; spans started afterwards are
   * not recorded (but still propagate their context). Safe to call more than once.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

const HEADERS_SETTER: TextMapSetter<HeaderAccess> = { set: (headers, key, value) => headers.set(key, value) };

/** http.request.method and the method part of the span name, per the HTTP semantic conventions. */
interface HttpMethod {
  readonly value: string;
  readonly spanName: string;
  readonly known: boolean;
}
const KNOWN_METHODS = new Map<string, HttpMethod>(
  [
    HTTP_REQUEST_METHOD_VALUE_CONNECT,
    HTTP_REQUEST_METHOD_VALUE_DELETE,
    HTTP_REQUEST_METHOD_VALUE_GET,
    HTTP_REQUEST_METHOD_VALUE_HEAD,
    HTTP_REQUEST_METHOD_VALUE_OPTIONS,
    HTTP_REQUEST_METHOD_VALUE_PATCH,
    HTTP_REQUEST_METHOD_VALUE_POST,
    HTTP_REQUEST_METHOD_VALUE_PUT,
    HTTP_REQUEST_METHOD_VALUE_TRACE,
  ].map((method) => [method, { value: method, spanName: method, known: true }]),
);
// An unknown method is "_OTHER" (its original in http.request.method_original), and "HTTP" in the span name.
const OTHER_METHOD: HttpMethod = { value: HTTP_REQUEST_METHOD_VALUE_OTHER, spanName: "HTTP", known: false };

function httpMethod(method: string): HttpMethod {
  return KNOWN_METHODS.get(method) ?? OTHER_METHOD;
}

/**
 * The caller's span context from traceparent and tracestate, accepted exactly as
 * W3CTraceContextPropagator.extract accepts them, but without the Context it would build (only a
 * sampled request needs one) and with the canonical traceparent checked without a regex.
 */
function extractParent(headers: HeaderAccess): SpanContext | undefined {
  const header = headers.get(TRACE_PARENT_HEADER);
  if (header === null) return undefined;
  const parsed = parseTraceparent(header);
  if (parsed === null) return undefined;
  const state = headers.get(TRACE_STATE_HEADER);
  return {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags: parsed.traceFlags,
    isRemote: true,
    traceState: state ? new TraceStateImpl(state) : undefined,
  };
}

/** A span that is not recorded: only its context, to propagate. */
class UnrecordedSpan implements ServerSpan, ClientSpan {
  readonly sampled = false;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
    readonly traceState: TraceState | undefined,
  ) {}

  inject(headers: HeaderAccess): void {
    // Written directly rather than through the propagator, which would need a Context (a Map
    // copy) built for every unsampled request; the ids are valid by construction.
    headers.set(TRACE_PARENT_HEADER, formatTraceparent(this.traceId, this.spanId, this.traceFlags));
    if (this.traceState !== undefined) headers.set(TRACE_STATE_HEADER, this.traceState.serialize());
  }

  end(_result: SpanResult): void {}
}

/** A span recorded by the SDK. */
class RecordedSpan implements ServerSpan, ClientSpan {
  readonly sampled = true;
  readonly traceId: string;
  readonly spanId: string;
  private contextWithSpan: Context | undefined;

  constructor(
    readonly span: Span,
    private readonly propagator: W3CTraceContextPropagator,
    /** The lowest status that marks the span as an error: 500 for a server, 400 for a client. */
    private readonly errorFromStatus: number,
  ) {
    const spanContext = span.spanContext();
    this.traceId = spanContext.traceId;
    this.spanId = spanContext.spanId;
  }

  /** The context whose current span is this one: the parent of a child span, the source of inject. */
  context(): Context {
    return (this.contextWithSpan ??= trace.setSpan(ROOT_CONTEXT, this.span));
  }

  inject(headers: HeaderAccess): void {
    this.propagator.inject(this.context(), headers, HEADERS_SETTER);
  }

  end(result: SpanResult): void {
    const span = this.span;
    if (!span.isRecording()) return;
    const status = result.status;
    if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (result.error !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, result.error);
      span.setStatus({ code: SpanStatusCode.ERROR });
    } else if (status !== undefined && status >= this.errorFromStatus) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

/** The SDK half of a Tracing: present unless the exporter is "none". */
interface Recorder {
  readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;
  readonly ids: PooledIdGenerator;
}

/**
 * Tracing for the sidecar: OpenTelemetry SDK spans for sampled requests, exported in batches over
 * OTLP/HTTP (or Jaeger), with W3C trace context propagation. Nothing is registered globally, so
 * several Tracing objects (one per sidecar under test) live side by side in one process.
 *
 * With exporter "none" nothing is recorded and spans pass the caller's context through unchanged,
 * as the OpenTelemetry API does with no SDK installed, so a trace keeps its shape across a node
 * that does not trace.
 */
export function createTracing(options: TracingOptions): Tracing {
  const { sampleRatio, logger } = options;
  if (!(sampleRatio >= 0 && sampleRatio <= 1)) {
    throw new RangeError(`sampleRatio must be between 0 and 1, got ${sampleRatio}`);
  }
  const propagator = new W3CTraceContextPropagator();
  const passThroughIds = new PooledIdGenerator();
  let recorder: Recorder | undefined;
  let shutdownPromise: Promise<void> | undefined;

  if (options.exporter !== "none") {
    const endpoint =
      options.exporter === "otlp"
        ? (options.otlpEndpoint ?? DEFAULT_OTLP_ENDPOINT)
        : (options.jaegerEndpoint ?? DEFAULT_JAEGER_ENDPOINT);
    const exporter = new DeferredLoggingExporter(createSpanExporter(options.exporter, endpoint), logger, {
      exporter: options.exporter,
      endpoint,
    });
    const ids = new PooledIdGenerator();
    const provider = new BasicTracerProvider({
      resource: defaultResource().merge(
        resourceFromAttributes({
          [ATTR_SERVICE_NAME]: options.serviceName,
          [ATTR_SERVICE_INSTANCE_ID]: options.nodeId,
          [ATTR_SERVICE_VERSION]: VERSION,
        }),
      ),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampleRatio) }),
      idGenerator: ids,
      // A path or user agent is the caller's to choose; do not let one bloat every export.
      spanLimits: { attributeValueLengthLimit: 2048, attributeCountLimit: 64 },
      // Every option is given so that OTEL_BSP_* in the environment changes nothing. A full queue
      // drops spans rather than holding requests back.
      spanProcessors: [
        new BatchSpanProcessor(exporter, {
          maxQueueSize: 4096,
          maxExportBatchSize: 512,
          scheduledDelayMillis: 1000,
          exportTimeoutMillis: EXPORT_TIMEOUT_MS + 5000,
        }),
      ],
    });
    recorder = { provider, tracer: provider.getTracer("nagent-sidecar", VERSION), ids };
    logger.info({ exporter: options.exporter, endpoint, sampleRatio }, "tracing enabled");
  }

  // A new trace is sampled when its trace id's key is below this bound: the decision the provider's
  // ParentBased(TraceIdRatioBased) sampler makes for a root, taken first so an unsampled root never
  // reaches the SDK.
  const rootBound = ratioBound(sampleRatio);

  function startServerSpan(info: ServerSpanInfo): ServerSpan {
    return startServerSpanFor(info.headers, info, identity);
  }

  function startServerSpanFor<T>(headers: HeaderAccess, subject: T, describe: (subject: T) => ServerSpanInfo): ServerSpan {
    const parent = extractParent(headers);
    const active = recorder;

    if (active === undefined) {
      if (parent !== undefined) return new UnrecordedSpan(parent.traceId, parent.spanId, parent.traceFlags, parent.traceState);
      return new UnrecordedSpan(passThroughIds.generateTraceId(), passThroughIds.generateSpanId(), TraceFlags.NONE, undefined);
    }

    // The decision ParentBasedSampler makes with its default delegates: a remote parent's sampled
    // flag is followed; a root is decided by trace id ratio.
    const traceId = parent !== undefined ? parent.traceId : active.ids.generateTraceId();
    const sampled = parent !== undefined ? (parent.traceFlags & TraceFlags.SAMPLED) !== 0 : active.ids.lastTraceIdKey < rootBound;
    if (!sampled) return new UnrecordedSpan(traceId, active.ids.generateSpanId(), TraceFlags.NONE, parent?.traceState);

    const info = describe(subject);
    const method = httpMethod(info.method);
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method.value,
      [ATTR_URL_PATH]: info.urlPath,
      [ATTR_URL_SCHEME]: info.scheme,
      [ATTR_HTTP_ROUTE]: info.route,
    };
    if (!method.known) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = info.method;
    if (info.serverAddress !== undefined) attributes[ATTR_SERVER_ADDRESS] = info.serverAddress;
    if (info.serverPort !== undefined) attributes[ATTR_SERVER_PORT] = info.serverPort;
    if (info.clientAddress !== undefined) attributes[ATTR_CLIENT_ADDRESS] = info.clientAddress;
    if (info.userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = info.userAgent;
    if (info.nodeFrom !== undefined) attributes[ATTR_NODE_FROM] = info.nodeFrom;
    if (info.nodeTo !== undefined) attributes[ATTR_NODE_TO] = info.nodeTo;
    if (info.domain !== undefined) attributes[ATTR_NAGENT_DOMAIN] = info.domain;

    // A root span gets the trace id the decision above was made on.
    if (parent === undefined) active.ids.prime(traceId);
    let span: Span;
    try {
      span = active.tracer.startSpan(
        `${method.spanName} ${info.route}`,
        { kind: SpanKind.SERVER, attributes },
        parent !== undefined ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
      );
    } finally {
      active.ids.unprime();
    }
    return wrap(span, 500);
  }

  function startClientSpan(parent: ServerSpan, info: ClientSpanInfo): ClientSpan {
    return startClientSpanFor(parent, info, identity);
  }

  function startClientSpanFor<T>(parent: ServerSpan, subject: T, describe: (subject: T) => ClientSpanInfo): ClientSpan {
    const active = recorder;
    if (!(parent instanceof RecordedSpan)) {
      if (active === undefined) return parent;
      const traceFlags = parent instanceof UnrecordedSpan ? parent.traceFlags : TraceFlags.NONE;
      const traceState = parent instanceof UnrecordedSpan ? parent.traceState : undefined;
      // A child of an unsampled span is unsampled (ParentBased: localParentNotSampled = AlwaysOff).
      return new UnrecordedSpan(parent.traceId, active.ids.generateSpanId(), traceFlags, traceState);
    }
    if (active === undefined) {
      // Shut down since the parent started: propagate the parent's context as it is.
      const context = parent.span.spanContext();
      return new UnrecordedSpan(context.traceId, context.spanId, context.traceFlags, context.traceState);
    }

    const info = describe(subject);
    const method = httpMethod(info.method);
    const url = typeof info.url === "string" ? new URL(info.url) : info.url;
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method.value,
      [ATTR_URL_FULL]: fullUrl(url),
      [ATTR_SERVER_ADDRESS]: serverAddress(url),
      [ATTR_SERVER_PORT]: serverPort(url),
      [ATTR_NODE_FROM]: info.nodeFrom,
      [ATTR_NODE_TO]: info.nodeTo,
      [ATTR_NAGENT_DOMAIN]: info.domain,
    };
    if (!method.known) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = info.method;
    if (info.resendCount > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = info.resendCount;
    if (info.instance !== undefined) attributes[ATTR_NAGENT_INSTANCE] = info.instance;

    const span = active.tracer.startSpan(method.spanName, { kind: SpanKind.CLIENT, attributes }, parent.context());
    return wrap(span, 400);
  }

  function wrap(span: Span, errorFromStatus: number): RecordedSpan | UnrecordedSpan {
    if (span.isRecording()) return new RecordedSpan(span, propagator, errorFromStatus);
    // Only if the SDK's sampler ever disagreed with the decision taken above.
    const context = span.spanContext();
    return new UnrecordedSpan(context.traceId, context.spanId, context.traceFlags, context.traceState);
  }

  async function flush(): Promise<void> {
    await recorder?.provider.forceFlush();
  }

  function shutdown(timeoutMs = EXPORT_TIMEOUT_MS): Promise<void> {
    const active = recorder;
    if (active === undefined) return shutdownPromise ?? Promise.resolve();
    // From here on, spans only propagate; nothing more is handed to a stopping exporter.
    recorder = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    shutdownPromise = Promise.race([active.provider.shutdown().then(() => "done" as const), timedOut])
      .then((outcome) => {
        if (outcome === "timeout") logger.warn({ timeoutMs }, "trace exporter did not stop in time; pending spans dropped");
      })
      .catch((error: unknown) => {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, "trace exporter failed while stopping");
      })
      .finally(() => clearTimeout(timer));
    return shutdownPromise;
  }

  return { startServerSpan, startServerSpanFor, startClientSpan, startClientSpanFor, flush, shutdown };
}

function identity<T>(value: T): T {
  return value;
}

/** url.full without credentials, as the HTTP conventions require. */
function fullUrl(url: URL): string {
  if (url.username === "" && url.password === "") return url.href;
  const redacted = new URL(url.href);
  redacted.username = "REDACTED";
  if (url.password !== "") redacted.password = "REDACTED";
  return redacted.href;
}

/** server.address: the host, without the brackets of an IPv6 literal. */
function serverAddress(url: URL): string {
  const host = url.hostname;
  return host.startsWith("[") ? host.slice(1, -1) : host;
}

function serverPort(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}
