// One trace across two sidecars: the caller's sidecar and the callee's export their spans to an
// OTLP receiver in this test, and the spans join into one trace with the right parents.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startOtlpReceiver, type OtlpReceiver } from "../internal/testing/index.ts";
import { startMesh, type Mesh } from "./support/mesh.ts";

let receiver: OtlpReceiver;
let mesh: Mesh;

beforeAll(async () => {
  receiver = startOtlpReceiver();
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution"] },
    ],
    sidecarArgs: ["--trace-exporter", "otlp", "--otlp-endpoint", receiver.url, "--trace-sample-ratio", "1"],
  });
}, 120_000);
afterAll(async () => {
  await mesh?.stop();
  receiver?.stop();
}, 60_000);

test("a cross-node call is one trace: the app's call, each attempt, and the callee's server span", async () => {
  const token = await mesh.token("agent-1", ["agent"]);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const response = await mesh.node("node-a").invoke("execution", "/v1/chat", {
    method: "POST",
    token,
    body: "{}",
    headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
  });
  expect(response.status).toBe(200);
  const spans = await receiver.waitForSpans((all) => all.filter((span) => span.traceId === traceId).length >= 3, 10_000);
  const trace = spans.filter((span) => span.traceId === traceId);
  const outboundServer = trace.find((span) => span.kind === "server" && span.attributes["http.route"] === "/v1/invoke/{domain}")!;
  const client = trace.find((span) => span.kind === "client")!;
  const inboundServer = trace.find((span) => span.kind === "server" && span.attributes["http.route"] === "inbound execution")!;
  expect(outboundServer.parentSpanId).toBe("00f067aa0ba902b7");
  expect(client.parentSpanId).toBe(outboundServer.spanId);
  expect(inboundServer.parentSpanId).toBe(client.spanId);
  expect(outboundServer.name).toBe("POST /v1/invoke/{domain}");
  expect(client.name).toBe("POST");
  expect(client.attributes).toMatchObject({ "http.request.method": "POST", "http.response.status_code": 200, "node.from": "node-a", "node.to": "node-b", "nagent.domain": "execution" });
  expect(inboundServer.attributes).toMatchObject({ "http.request.method": "POST", "http.response.status_code": 200, "node.from": "node-a", "node.to": "node-b", "url.path": "/v1/chat" });
  expect(outboundServer.resource["service.instance.id"]).toBe("node-a");
  expect(inboundServer.resource["service.instance.id"]).toBe("node-b");
});

test("a retried attempt carries http.request.resend_count", async () => {
  const { revision } = await mesh.admin.putPolicy("resilience", "exec", {
    target: { domain: "execution" },
    retry: { maxAttempts: 2, backoff: { type: "constant", initialMs: 5 }, retryOn: { statusCodes: [503] } },
  });
  const a = mesh.node("node-a");
  const deadline = Date.now() + 10_000;
  while ((await a.status()).revision < revision && Date.now() < deadline) await Bun.sleep(50);
  await mesh.node("node-b").behave({ status: 503, failNext: 1 });
  const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
  const response = await a.invoke("execution", "/again", { token: await mesh.token("agent-1", ["agent"]), headers: { traceparent: `00-${traceId}-00f067aa0ba902b8-01` } });
  expect(response.status).toBe(200);
  const spans = await receiver.waitForSpans((all) => all.filter((span) => span.traceId === traceId && span.kind === "client").length >= 2, 10_000);
  const attempts = spans.filter((span) => span.traceId === traceId && span.kind === "client");
  expect(attempts.map((span) => span.attributes["http.request.resend_count"] ?? 0).sort()).toEqual([0, 1]);
  expect(attempts.find((span) => span.attributes["http.request.resend_count"] === undefined)?.attributes["http.response.status_code"]).toBe(503);
});
