import { afterEach, describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.ts";

let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

function post(url: string, body: string, contentType = "application/json"): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": contentType }, body });
}

describe("OTLP receiver", () => {
  test("decodes what the OpenTelemetry OTLP/HTTP exporter sends", async () => {
    receiver = startOtlpReceiver();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "receiver-test", "service.instance.id": "n1" }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: receiver.url }))],
    });
    const tracer = provider.getTracer("scope-a", "1.2.3");
    const span = tracer.startSpan("GET /x", {
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": "GET", "server.port": 8080, ratio: 0.5, ok: true, tags: ["a", "b"] },
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
    span.end();
    await provider.forceFlush();

    const [received] = await receiver.waitForSpans((spans) => spans.length === 1);
    expect(received).toMatchObject({
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: undefined,
      name: "GET /x",
      kind: "server",
      attributes: { "http.request.method": "GET", "server.port": 8080, ratio: 0.5, ok: true, tags: ["a", "b"] },
      status: { code: "error", message: "boom" },
      resource: { "service.name": "receiver-test", "service.instance.id": "n1" },
      scope: { name: "scope-a", version: "1.2.3" },
    });
    expect(received?.endTimeUnixNano).toBeGreaterThanOrEqual(received?.startTimeUnixNano ?? 0n);
    await provider.shutdown();
  });

  test("takes int64 as strings, enums by name, upper-case ids and gzip", async () => {
    receiver = startOtlpReceiver();
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "s" } }] },
          scopeSpans: [
            {
              scope: { name: "x" },
              spans: [
                {
                  traceId: "0AF7651916CD43DD8448EB211C80319C",
                  spanId: "B7AD6B7169203331",
                  parentSpanId: "",
                  name: "child",
                  kind: "SPAN_KIND_CLIENT",
                  startTimeUnixNano: "1700000000000000000",
                  endTimeUnixNano: "1700000000000001000",
                  attributes: [
                    { key: "http.request.resend_count", value: { intValue: "2" } },
                    { key: "kv", value: { kvlistValue: { values: [{ key: "a", value: { intValue: 1 } }] } } },
                  ],
                  status: { code: "STATUS_CODE_OK" },
                },
              ],
            },
          ],
        },
      ],
    });
    const response = await fetch(receiver.url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: Bun.gzipSync(new TextEncoder().encode(body)),
    });
    expect(response.status).toBe(200);
    expect(receiver.spans).toEqual([
      {
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: "b7ad6b7169203331",
        parentSpanId: undefined,
        traceState: undefined,
        name: "child",
        kind: "client",
        attributes: { "http.request.resend_count": 2, kv: { a: 1 } },
        status: { code: "ok" },
        resource: { "service.name": "s" },
        scope: { name: "x" },
        startTimeUnixNano: 1700000000000000000n,
        endTimeUnixNano: 1700000000000001000n,
      },
    ]);
  });

  test("refuses protobuf, wrong paths and malformed bodies; can be told to fail", async () => {
    receiver = startOtlpReceiver();
    expect((await post(receiver.url, "\x0a\x00", "application/x-protobuf")).status).toBe(415);
    expect((await post(receiver.url.replace("/v1/traces", "/v1/logs"), "{}")).status).toBe(404);
    expect((await post(receiver.url, "{not json")).status).toBe(400);
    receiver.failWith(503);
    expect((await post(receiver.url, JSON.stringify({ resourceSpans: [] }))).status).toBe(503);
    receiver.failWith(undefined);
    expect((await post(receiver.url, JSON.stringify({ resourceSpans: [] }))).status).toBe(200);
    expect(receiver.requests).toBe(4); // the /v1/logs one is not an export request
    expect(receiver.spans).toEqual([]);
  });

  test("waitForSpans names what arrived when it times out, and stop rejects pending waits", async () => {
    const local = startOtlpReceiver();
    receiver = local;
    await expect(local.waitForSpans((spans) => spans.length > 0, 50)).rejects.toThrow(/within 50 ms; got 0/);
    const pending = local.waitForSpans((spans) => spans.length > 0, 5000).catch((error: unknown) => error);
    await local.stop();
    expect(String(await pending)).toMatch(/stopped/);
    await local.stop();
  });
});
