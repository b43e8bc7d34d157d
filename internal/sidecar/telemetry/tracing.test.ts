import { afterEach, describe, expect, test } from "bun:test";
import { parseTraceParent } from "@opentelemetry/core";
import { TraceIdRatioBasedSampler, SamplingDecision } from "@opentelemetry/sdk-trace-base";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { captureLogger } from "../../telemetry/index.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../../testing/otlp-receiver.ts";
import { until } from "../../testing/until.ts";
import { VERSION } from "../../version/index.ts";
import { createTracing, type ClientSpanInfo, type ServerSpanInfo, type Tracing, type TracingOptions } from "./tracing.ts";

const INCOMING_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const INCOMING_SPAN_ID = "b7ad6b7169203331";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function receiver(): OtlpReceiver {
  const started = startOtlpReceiver();
  cleanups.push(() => started.stop());
  return started;
}

function tracing(options: Partial<TracingOptions> & { otlpEndpoint?: string }): Tracing {
  const created = createTracing({
    serviceName: "nagent-sidecar",
    nodeId: "node-a",
    sampleRatio: 1,
    exporter: "otlp",
    logger: captureLogger().logger,
    ...options,
  });
  cleanups.push(() => created.shutdown());
  return created;
}

function serverInfo(headers: Record<string, string> = {}, overrides: Partial<ServerSpanInfo> = {}): ServerSpanInfo {
  return {
    method: "POST",
    route: "/v1/invoke/{domain}",
    urlPath: "/v1/invoke/execution/run",
    scheme: "http",
    serverAddress: "127.0.0.1",
    serverPort: 15001,
    clientAddress: "127.0.0.1",
    userAgent: "agent/1.0",
    headers: new Headers(headers),
    nodeFrom: "node-a",
    domain: "execution",
    ...overrides,
  };
}

function clientInfo(resendCount = 0, overrides: Partial<ClientSpanInfo> = {}): ClientSpanInfo {
  return {
    method: "POST",
    url: new URL("http://10.0.0.2:15006/v1/invoke/execution/run"),
    resendCount,
    nodeFrom: "node-a",
    nodeTo: "node-b",
    domain: "execution",
    instance: "node-b",
    ...overrides,
  };
}

function injected(span: { inject(headers: Headers): void }): { header: string; parsed: ReturnType<typeof parseTraceParent>; state: string | null } {
  const headers = new Headers();
  span.inject(headers);
  const header = headers.get("traceparent") ?? "";
  return { header, parsed: parseTraceParent(header), state: headers.get("tracestate") };
}

function byName(spans: readonly ReceivedSpan[], name: string): ReceivedSpan[] {
  return spans.filter((span) => span.name === name);
}

describe("tracing: sampled requests", () => {
  test("a server span and its client attempts are exported with HTTP names, kinds, attributes and parentage", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url });

    const server = t.startServerSpan(serverInfo());
    const first = t.startClientSpan(server, clientInfo(0));
    first.end({ error: "timeout" });
    const retry = t.startClientSpan(server, clientInfo(1));
    retry.end({ status: 200 });
    server.end({ status: 200 });
    expect([server.sampled, first.sampled, retry.sampled]).toEqual([true, true, true]);
    await t.flush();

    const spans = await otlp.waitForSpans((received) => received.length === 3);
    const [serverSpan] = byName(spans, "POST /v1/invoke/{domain}");
    const clients = byName(spans, "POST");
    expect(serverSpan).toMatchObject({
      kind: "server",
      parentSpanId: undefined,
      traceId: server.traceId,
      spanId: server.spanId,
      status: { code: "unset" },
      resource: { "service.name": "nagent-sidecar", "service.instance.id": "node-a", "service.version": VERSION },
    });
    expect(serverSpan?.attributes).toEqual({
      "http.request.method": "POST",
      "url.path": "/v1/invoke/execution/run",
      "url.scheme": "http",
      "http.route": "/v1/invoke/{domain}",
      "server.address": "127.0.0.1",
      "server.port": 15001,
      "client.address": "127.0.0.1",
      "user_agent.original": "agent/1.0",
      "http.response.status_code": 200,
      "node.from": "node-a",
      "nagent.domain": "execution",
    });

    expect(clients).toHaveLength(2);
    const [firstSpan, retrySpan] = [first.spanId, retry.spanId].map((id) => clients.find((span) => span.spanId === id));
    for (const client of [firstSpan, retrySpan]) {
      expect(client).toMatchObject({ kind: "client", traceId: server.traceId, parentSpanId: server.spanId });
    }
    expect(firstSpan?.status.code).toBe("error");
    expect(firstSpan?.attributes).toEqual({
      "http.request.method": "POST",
      "url.full": "http://10.0.0.2:15006/v1/invoke/execution/run",
      "server.address": "10.0.0.2",
      "server.port": 15006,
      "node.from": "node-a",
      "node.to": "node-b",
      "nagent.domain": "execution",
      "nagent.instance": "node-b",
      "error.type": "timeout",
    });
    expect(retrySpan?.status.code).toBe("unset");
    expect(retrySpan?.attributes).toMatchObject({ "http.request.resend_count": 1, "http.response.status_code": 200 });
    expect(retrySpan?.attributes["error.type"]).toBeUndefined();
  });

  test("an incoming traceparent makes the server span its child, even at ratio 0, and tracestate travels on", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url, sampleRatio: 0 });
    const server = t.startServerSpan(
      serverInfo({ traceparent: `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`, tracestate: "vendor=abc" }),
    );
    const client = t.startClientSpan(server, clientInfo());
    expect(server.sampled).toBe(true);
    expect(server.traceId).toBe(INCOMING_TRACE_ID);

    const next = injected(client);
    expect(next.header).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/);
    expect(next.parsed).toMatchObject({ traceId: INCOMING_TRACE_ID, spanId: client.spanId, traceFlags: 1 });
    expect(next.state).toBe("vendor=abc");
    expect(injected(server).parsed).toMatchObject({ traceId: INCOMING_TRACE_ID, spanId: server.spanId });

    client.end({ status: 201 });
    server.end({ status: 201 });
    await t.flush();
    const spans = await otlp.waitForSpans((received) => received.length === 2);
    expect(spans.find((span) => span.kind === "server")).toMatchObject({
      traceId: INCOMING_TRACE_ID,
      parentSpanId: INCOMING_SPAN_ID,
      traceState: "vendor=abc",
    });
    expect(spans.find((span) => span.kind === "client")).toMatchObject({ traceId: INCOMING_TRACE_ID, parentSpanId: server.spanId });
  });

  test("status and method follow the HTTP conventions: 5xx fails a server span, 4xx a client span, unknown methods are _OTHER", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url });
    const notFound = t.startServerSpan(serverInfo({}, { method: "GET", route: "inbound {domain}" }));
    t.startClientSpan(notFound, clientInfo(0, { method: "GET" })).end({ status: 404 });
    notFound.end({ status: 404 });
    const unavailable = t.startServerSpan(serverInfo({}, { method: "PROPFIND" }));
    unavailable.end({ status: 503 });
    const odd = t.startServerSpan(serverInfo());
    t.startClientSpan(odd, clientInfo(0, { method: "BREW", url: new URL("https://user:secret@[::1]/x?q=1") })).end({
      error: "connect",
    });
    odd.end({ error: "circuit_open", status: 503 });
    await t.flush();

    const spans = await otlp.waitForSpans((received) => received.length === 5);
    const [server404] = byName(spans, "GET inbound {domain}");
    expect(server404?.status.code).toBe("unset");
    expect(server404?.attributes["error.type"]).toBeUndefined();
    const [client404] = byName(spans, "GET");
    expect(client404?.status.code).toBe("error");
    expect(client404?.attributes["error.type"]).toBe("404");
    const [server503] = byName(spans, "HTTP /v1/invoke/{domain}");
    expect(server503?.status.code).toBe("error");
    expect(server503?.attributes).toMatchObject({
      "http.request.method": "_OTHER",
      "http.request.method_original": "PROPFIND",
      "error.type": "503",
    });
    const [brew] = byName(spans, "HTTP");
    expect(brew?.attributes).toMatchObject({
      "http.request.method": "_OTHER",
      "http.request.method_original": "BREW",
      "url.full": "https://REDACTED:REDACTED@[::1]/x?q=1",
      "server.address": "::1",
      "server.port": 443,
      "error.type": "connect",
    });
    const breakerServer = spans.find((span) => span.spanId === odd.spanId);
    expect(breakerServer?.attributes).toMatchObject({ "error.type": "circuit_open", "http.response.status_code": 503 });
  });

  test("sampleRatio 1 exports every request", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url, sampleRatio: 1 });
    for (let i = 0; i < 50; i++) {
      const server = t.startServerSpan(serverInfo());
      t.startClientSpan(server, clientInfo()).end({ status: 200 });
      server.end({ status: 200 });
    }
    await t.flush();
    const spans = await otlp.waitForSpans((received) => received.length === 100);
    expect(new Set(spans.map((span) => span.traceId)).size).toBe(50);
  });

  test("a fractional ratio samples by trace id, and a sampled root keeps the trace id it was decided on", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url, sampleRatio: 0.3 });
    const reference = new TraceIdRatioBasedSampler(0.3);
    const sampledTraces: string[] = [];
    for (let i = 0; i < 400; i++) {
      const server = t.startServerSpan(serverInfo());
      const decision = reference.shouldSample(ROOT_CONTEXT, server.traceId).decision;
      expect(server.sampled).toBe(decision === SamplingDecision.RECORD_AND_SAMPLED);
      if (server.sampled) sampledTraces.push(server.traceId);
      const client = t.startClientSpan(server, clientInfo());
      expect(client.sampled).toBe(server.sampled);
      expect(client.traceId).toBe(server.traceId);
      client.end({ status: 200 });
      server.end({ status: 200 });
    }
    // Loose bounds: 400 draws at p = 0.3 fall outside [60, 180] with negligible probability.
    expect(sampledTraces.length).toBeGreaterThan(60);
    expect(sampledTraces.length).toBeLessThan(180);
    await t.flush();
    const spans = await otlp.waitForSpans((received) => received.length === sampledTraces.length * 2);
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set(sampledTraces));
  });

  test("shutdown flushes spans still queued, and later spans only propagate", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url });
    const server = t.startServerSpan(serverInfo());
    t.startClientSpan(server, clientInfo()).end({ status: 200 });
    server.end({ status: 200 });
    await t.shutdown();
    expect(otlp.spans).toHaveLength(2);

    const after = t.startServerSpan(serverInfo());
    expect(after.sampled).toBe(false);
    expect(injected(t.startClientSpan(after, clientInfo())).parsed?.traceId).toBe(after.traceId);
    await t.shutdown();
  });

  test("two tracings in one process export to their own receivers with their own resources", async () => {
    const [first, second] = [receiver(), receiver()];
    const a = tracing({ otlpEndpoint: first.url, nodeId: "node-a" });
    const b = tracing({ otlpEndpoint: second.url, nodeId: "node-b" });
    a.startServerSpan(serverInfo()).end({ status: 200 });
    b.startServerSpan(serverInfo()).end({ status: 200 });
    b.startServerSpan(serverInfo()).end({ status: 200 });
    await Promise.all([a.flush(), b.flush()]);
    expect((await first.waitForSpans((spans) => spans.length === 1)).map((span) => span.resource["service.instance.id"])).toEqual(["node-a"]);
    expect((await second.waitForSpans((spans) => spans.length === 2)).map((span) => span.resource["service.instance.id"])).toEqual([
      "node-b",
      "node-b",
    ]);
  });

  test("a failing collector is reported through the logger, and the request path never sees it", async () => {
    const otlp = receiver();
    otlp.failWith(400);
    const { logger, lines } = captureLogger();
    const t = tracing({ otlpEndpoint: otlp.url, logger });
    t.startServerSpan(serverInfo()).end({ status: 200 });
    await t.flush().catch(() => {});
    await until(() => lines().find((line) => line.msg === "trace export failed; spans dropped"), { timeoutMs: 5000 });
    expect(lines().find((line) => line.msg === "tracing enabled")).toMatchObject({ exporter: "otlp", endpoint: otlp.url, sampleRatio: 1 });
  });
});

describe("tracing: unsampled requests", () => {
  test("sampleRatio 0 exports nothing yet propagates a valid traceparent, with a fresh span id per hop", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url, sampleRatio: 0 });
    const server = t.startServerSpan(serverInfo());
    const client = t.startClientSpan(server, clientInfo());
    const retry = t.startClientSpan(server, clientInfo(1));
    expect([server.sampled, client.sampled, retry.sampled]).toEqual([false, false, false]);
    const next = injected(client);
    expect(next.header).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/);
    expect(next.parsed).toEqual({ traceId: server.traceId, spanId: client.spanId, traceFlags: 0 });
    expect(next.state).toBeNull();
    expect(new Set([server.spanId, client.spanId, retry.spanId]).size).toBe(3);
    client.end({ status: 200 });
    retry.end({ status: 200 });
    server.end({ status: 200 });
    await t.flush();
    await t.shutdown();
    expect(otlp.requests).toBe(0);
  });

  test("an unsampled caller's decision is kept: same trace, flags 00, its tracestate", async () => {
    const otlp = receiver();
    const t = tracing({ otlpEndpoint: otlp.url, sampleRatio: 1 });
    const server = t.startServerSpan(
      serverInfo({ traceparent: `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-00`, tracestate: "vendor=abc" }),
    );
    expect(server.sampled).toBe(false);
    const next = injected(t.startClientSpan(server, clientInfo()));
    expect(next.parsed).toMatchObject({ traceId: INCOMING_TRACE_ID, traceFlags: 0 });
    expect(next.parsed?.spanId).not.toBe(INCOMING_SPAN_ID);
    expect(next.state).toBe("vendor=abc");
    await t.shutdown();
    expect(otlp.requests).toBe(0);
  });

  test("an unsampled span reads nothing of the request but its headers, so builds no attributes", () => {
    const t = tracing({ exporter: "otlp", otlpEndpoint: "http://127.0.0.1:9/v1/traces", sampleRatio: 0 });
    const read = new Set<string>();
    const watch = <T extends object>(target: T): T =>
      new Proxy(target, {
        get(object, key, receiver) {
          read.add(String(key));
          return Reflect.get(object, key, receiver);
        },
      });
    const server = t.startServerSpan(watch(serverInfo()));
    const client = t.startClientSpan(server, watch(clientInfo()));
    client.end(watch({ status: 200 }));
    server.end(watch({ status: 200 }));
    expect([...read]).toEqual(["headers"]);
  });

  test("a malformed traceparent starts a new trace", () => {
    const t = tracing({ exporter: "none", sampleRatio: 0 });
    const server = t.startServerSpan(serverInfo({ traceparent: `00-${"0".repeat(32)}-${INCOMING_SPAN_ID}-01` }));
    expect(server.traceId).not.toBe("0".repeat(32));
    expect(injected(server).parsed?.traceFlags).toBe(0);
  });

  test('exporter "none" passes the caller\'s context through unchanged', async () => {
    const t = tracing({ exporter: "none", sampleRatio: 1 });
    const incoming = `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`;
    const server = t.startServerSpan(serverInfo({ traceparent: incoming }));
    const client = t.startClientSpan(server, clientInfo());
    expect([server.sampled, client.sampled]).toEqual([false, false]);
    expect(injected(client).header).toBe(incoming);
    const root = t.startServerSpan(serverInfo());
    expect(injected(t.startClientSpan(root, clientInfo())).parsed).toEqual({ traceId: root.traceId, spanId: root.spanId, traceFlags: 0 });
    await t.flush();
  });
});

describe("tracing: setup", () => {
  test("refuses a ratio outside 0..1", () => {
    for (const sampleRatio of [-0.1, 1.5, Number.NaN]) {
      expect(() => createTracing({ serviceName: "s", nodeId: "n", sampleRatio, exporter: "none", logger: captureLogger().logger })).toThrow(
        RangeError,
      );
    }
  });

  test("the Jaeger exporter posts Thrift to the collector's HTTP endpoint when asked", async () => {
    const bodies: { contentType: string | null; bytes: number }[] = [];
    const collector = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        if (new URL(request.url).pathname === "/api/traces" && request.method === "POST") {
          bodies.push({ contentType: request.headers.get("content-type"), bytes: (await request.arrayBuffer()).byteLength });
        }
        return new Response(null, { status: 202 });
      },
    });
    cleanups.push(() => collector.stop(true));
    const t = tracing({ exporter: "jaeger", jaegerEndpoint: `http://127.0.0.1:${collector.port}/api/traces` });
    const server = t.startServerSpan(serverInfo());
    t.startClientSpan(server, clientInfo()).end({ status: 200 });
    server.end({ status: 200 });
    await t.shutdown();
    await until(() => bodies.length > 0, { timeoutMs: 5000, what: "a Jaeger batch" });
    expect(bodies[0]?.contentType).toBe("application/x-thrift");
    expect(bodies[0]?.bytes).toBeGreaterThan(0);
  });
});
