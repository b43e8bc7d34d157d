import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { captureLogger, createDaemonMetrics } from "../telemetry/index.ts";
import { createDaemonApp, readJson, type DaemonApp } from "./index.ts";

function makeApp(notReadyReason?: () => string | undefined) {
  const { logger, lines } = captureLogger();
  const metrics = createDaemonMetrics("test");
  const daemon = createDaemonApp({
    logger,
    metrics,
    maxBodyBytes: 64,
    ...(notReadyReason ? { notReadyReason } : {}),
  });
  const body = z.strictObject({ name: z.string(), replicas: z.number().int(), tags: z.array(z.string()).optional() });
  daemon.app.post("/things/:id", async (c) => c.json({ id: c.req.param("id"), thing: await readJson(c, body) }));
  daemon.app.get("/boom", () => {
    throw new Error("secret detail");
  });
  return { daemon, metrics, lines };
}

async function errorOf(response: Response) {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  return body.error;
}

const post = (daemon: DaemonApp, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  daemon.app.request("/things/a", { method: "POST", body, headers });

describe("probes", () => {
  test("/healthz answers ok", async () => {
    const { daemon } = makeApp();
    const response = await daemon.app.request("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  test("/readyz follows the readiness function, and turns 503 while draining", async () => {
    let reason: string | undefined = "no leader yet";
    const { daemon } = makeApp(() => reason);
    let response = await daemon.app.request("/readyz");
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "not_ready", reason: "no leader yet" });
    reason = undefined;
    expect((await daemon.app.request("/readyz")).status).toBe(200);
    daemon.beginDrain("test");
    expect(daemon.stopping.aborted).toBe(true);
    response = await daemon.app.request("/readyz");
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "not_ready", reason: "shutting down" });
  });
});

describe("metrics", () => {
  test("/metrics serves Prometheus text with the request histogram labelled by route template", async () => {
    const { daemon } = makeApp();
    await post(daemon, JSON.stringify({ name: "x", replicas: 1 }));
    await daemon.app.request("/no/such/path/123");
    const response = await daemon.app.request("/metrics");
    expect(response.headers.get("content-type")).toStartWith("text/plain");
    const text = await response.text();
    expect(text).toContain("# TYPE http_server_request_duration_seconds histogram");
    expect(text).toMatch(
      /http_server_request_duration_seconds_count\{http_request_method="POST",http_route="\/things\/:id",http_response_status_code="200"\} 1/,
    );
    expect(text).toContain('http_route="unmatched",http_response_status_code="404"');
    expect(text).not.toContain("/no/such/path/123");
    expect(text).toContain('nagent_build_info{service="test"');
    expect(text).toContain("process_cpu_seconds_total");
  });
});

describe("errors are JSON bodies with a fitting status", () => {
  test("unknown route: 404", async () => {
    const { daemon } = makeApp();
    const response = await daemon.app.request("/nope");
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toEqual({ code: "not_found", message: "no route for GET /nope" });
  });

  test("an unexpected exception: 500 without its detail, logged with the request id", async () => {
    const { daemon, lines } = makeApp();
    const response = await daemon.app.request("/boom", { headers: { "x-request-id": "req-77" } });
    expect(response.status).toBe(500);
    const error = await errorOf(response);
    expect(error.code).toBe("internal");
    expect(error.message).not.toContain("secret");
    expect(error.message).toContain("req-77");
    const logged = lines().find((line) => line.msg === "unhandled error");
    expect(logged?.reqId).toBe("req-77");
    expect((logged?.err as { message: string }).message).toBe("secret detail");
  });

  test("body over the limit, declared by Content-Length: 413", async () => {
    const { daemon, metrics } = makeApp();
    const response = await post(daemon, JSON.stringify({ name: "x".repeat(100), replicas: 1 }));
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("payload_too_large");
    expect(await metrics.registry.getSingleMetricAsString("http_server_rejected_requests_total")).toContain(
      'reason="body_too_large"} 1',
    );
  });

  test("body over the limit, streamed without a length: 413", async () => {
    const { daemon } = makeApp();
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("0123456789"));
        controller.close();
      },
    });
    const request = new Request("http://local/things/a", {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      duplex: "half",
    } as RequestInit);
    const response = await daemon.app.request(request);
    expect(response.status).toBe(413);
  });

  test("malformed JSON: 400 with the parser's reason", async () => {
    const { daemon } = makeApp();
    const response = await post(daemon, '{"name": "x",');
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("malformed_json");
    expect(error.message).toStartWith("request body is not valid JSON: ");
  });

  test("empty body: 400", async () => {
    const { daemon } = makeApp();
    const error = await errorOf(await post(daemon, ""));
    expect(error).toEqual({ code: "malformed_json", message: "request body is empty; expected JSON" });
  });

  test("wrong type: 400 naming the field", async () => {
    const { daemon } = makeApp();
    const response = await post(daemon, JSON.stringify({ name: "x", replicas: "two" }));
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("invalid_body");
    expect(error.message).toStartWith("field replicas: ");
  });

  test("wrong type inside a list names the index", async () => {
    const { daemon } = makeApp();
    const error = await errorOf(await post(daemon, JSON.stringify({ name: "x", replicas: 1, tags: ["a", 2] })));
    expect(error.message).toStartWith("field tags[1]: ");
  });

  test("unknown field: 400 naming it", async () => {
    const { daemon } = makeApp();
    const error = await errorOf(await post(daemon, JSON.stringify({ name: "x", replicas: 1, replica: 2 })));
    expect(error).toEqual({ code: "invalid_body", message: "unknown field replica" });
  });

  test("not JSON at all by its content type: 415", async () => {
    const { daemon } = makeApp();
    const response = await post(daemon, "<name>x</name>", { "content-type": "text/xml" });
    expect(response.status).toBe(415);
    expect((await errorOf(response)).code).toBe("unsupported_media_type");
  });

  test("a valid body passes through typed", async () => {
    const { daemon } = makeApp();
    const response = await post(daemon, JSON.stringify({ name: "x", replicas: 3 }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: "a", thing: { name: "x", replicas: 3 } });
  });
});

describe("request ids and access logs", () => {
  test("a request id is generated, echoed, and logged with the request", async () => {
    const { daemon, lines } = makeApp();
    const response = await daemon.app.request("/healthz");
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = lines().find((entry) => entry.msg === "request");
    expect(line).toMatchObject({ reqId: id, method: "GET", path: "/healthz", status: 200, level: "debug" });
    expect(typeof line?.durationMs).toBe("number");
  });

  test("a caller's request id is kept", async () => {
    const { daemon } = makeApp();
    const response = await daemon.app.request("/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(response.headers.get("x-request-id")).toBe("abc-123");
  });

  test("requests other than probes are logged at info", async () => {
    const { daemon, lines } = makeApp();
    await daemon.app.request("/nope");
    expect(lines().find((entry) => entry.msg === "request")).toMatchObject({ level: "info", status: 404 });
  });
});
