// An in-process OTLP/HTTP trace receiver for tests: what an OpenTelemetry collector would be, cut
// down to POST /v1/traces with the JSON encoding (the one @opentelemetry/exporter-trace-otlp-http
// sends). A protobuf request is refused with 415, so a test fails loudly if an exporter changes.

export type ReceivedSpanKind = "unspecified" | "internal" | "server" | "client" | "producer" | "consumer";
export type ReceivedStatusCode = "unset" | "ok" | "error";

/** One span as a collector decoded it. */
export interface ReceivedSpan {
  /** Lower-case hex, as in traceparent. */
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly traceState: string | undefined;
  readonly name: string;
  readonly kind: ReceivedSpanKind;
  readonly attributes: Record<string, unknown>;
  readonly status: { readonly code: ReceivedStatusCode; readonly message?: string };
  /** The attributes of the resource that sent the span (service.name, service.instance.id, ...). */
  readonly resource: Record<string, unknown>;
  readonly scope: { readonly name: string; readonly version?: string };
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
}

export interface OtlpReceiver {
  /** Where to export to, e.g. http://127.0.0.1:43187/v1/traces */
  readonly url: string;
  readonly port: number;
  /** Every span received so far, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** How many export requests arrived (accepted or not). */
  readonly requests: number;
  /**
   * Resolves with all spans received once `predicate` holds for them; rejects after `timeoutMs`,
   * naming the spans that did arrive.
   */
  waitForSpans(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<readonly ReceivedSpan[]>;
  /** Answer later exports with this HTTP status (and keep nothing), or accept them again with undefined. */
  failWith(status: number | undefined): void;
  /** Stops listening; pending waits reject. Idempotent. */
  stop(): Promise<void>;
}

interface Waiter {
  readonly predicate: (spans: readonly ReceivedSpan[]) => boolean;
  readonly resolve: (spans: readonly ReceivedSpan[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Starts a receiver on a free loopback port (the kernel picks it, so there is no race). */
export function startOtlpReceiver(): OtlpReceiver {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<Waiter>();
  let requests = 0;
  let failStatus: number | undefined;
  let stopped = false;

  const settle = (): void => {
    for (const waiter of waiters) {
      if (!waiter.predicate(spans)) continue;
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(spans.slice());
    }
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path !== "/v1/traces") return new Response("not found", { status: 404 });
      if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
      requests++;
      if (failStatus !== undefined) return new Response("failing on purpose", { status: failStatus });
      const contentType = request.headers.get("content-type") ?? "";
      if (!contentType.startsWith("application/json")) {
        return new Response(`only application/json is supported, got ${contentType}`, { status: 415 });
      }
      let body = new Uint8Array(await request.arrayBuffer());
      if (request.headers.get("content-encoding") === "gzip") body = Bun.gunzipSync(body);
      try {
        spans.push(...decodeExportRequest(JSON.parse(new TextDecoder().decode(body))));
      } catch (error) {
        return new Response(`bad export request: ${error instanceof Error ? error.message : String(error)}`, { status: 400 });
      }
      settle();
      return Response.json({ partialSuccess: {} });
    },
  });
  const port = server.port;
  if (port === undefined) throw new Error("the OTLP receiver did not get a port");

  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    port,
    get spans() {
      return spans;
    },
    get requests() {
      return requests;
    },
    waitForSpans(predicate, timeoutMs = 3000) {
      if (predicate(spans)) return Promise.resolve(spans.slice());
      if (stopped) return Promise.reject(new Error("the OTLP receiver is stopped"));
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            const names = spans.map((span) => `${span.name} (${span.kind})`).join(", ");
            reject(new Error(`spans not received within ${timeoutMs} ms; got ${spans.length}: [${names}]`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    failWith(status) {
      failStatus = status;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("the OTLP receiver stopped"));
      }
      waiters.clear();
      await server.stop(true);
    },
  };
}

// The OTLP/JSON shapes (opentelemetry-proto, JSON mapping), as loosely as a decoder must take them.
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number | string;
  bytesValue?: string;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: JsonKeyValue[] };
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind?: number | string;
  startTimeUnixNano?: number | string;
  endTimeUnixNano?: number | string;
  attributes?: JsonKeyValue[];
  status?: { code?: number | string; message?: string };
}
interface JsonExportRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: JsonSpan[] }[];
  }[];
}

const KINDS: readonly ReceivedSpanKind[] = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const STATUS_CODES: readonly ReceivedStatusCode[] = ["unset", "ok", "error"];

/** Decodes an ExportTraceServiceRequest in the OTLP JSON encoding into flat spans. */
export function decodeExportRequest(request: unknown): ReceivedSpan[] {
  if (typeof request !== "object" || request === null) throw new Error("not a JSON object");
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of (request as JsonExportRequest).resourceSpans ?? []) {
    const resource = decodeAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      const scope = { name: scopeSpans.scope?.name ?? "", ...(scopeSpans.scope?.version ? { version: scopeSpans.scope.version } : {}) };
      for (const span of scopeSpans.spans ?? []) {
        const message = span.status?.message;
        out.push({
          traceId: span.traceId.toLowerCase(),
          spanId: span.spanId.toLowerCase(),
          parentSpanId: span.parentSpanId ? span.parentSpanId.toLowerCase() : undefined,
          traceState: span.traceState || undefined,
          name: span.name,
          kind: enumValue(span.kind, KINDS, "SPAN_KIND_"),
          attributes: decodeAttributes(span.attributes),
          status: { code: enumValue(span.status?.code, STATUS_CODES, "STATUS_CODE_"), ...(message ? { message } : {}) },
          resource,
          scope,
          startTimeUnixNano: BigInt(span.startTimeUnixNano ?? 0),
          endTimeUnixNano: BigInt(span.endTimeUnixNano ?? 0),
        });
      }
    }
  }
  return out;
}

/** An OTLP enum, sent as its number (as the OTLP/JSON spec requires) or, leniently, its name. */
function enumValue<T extends string>(value: number | string | undefined, names: readonly T[], prefix: string): T {
  const fallback = names[0] as T;
  if (value === undefined) return fallback;
  if (typeof value === "number") return names[value] ?? fallback;
  const name = value.replace(prefix, "").toLowerCase();
  return names.find((candidate) => candidate === name) ?? fallback;
}

function decodeAttributes(attributes: JsonKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) out[key] = decodeValue(value);
  return out;
}

function decodeValue(value: JsonAnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  // int64 travels as a JSON number or, per the protobuf JSON mapping, as a decimal string.
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.bytesValue !== undefined) return Buffer.from(value.bytesValue, "base64");
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(decodeValue);
  if (value.kvlistValue !== undefined) return decodeAttributes(value.kvlistValue.values);
  return undefined;
}
