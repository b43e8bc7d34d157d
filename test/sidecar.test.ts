// The sidecar's request path between real processes: two nodes, each a test app behind its
// sidecar, one control plane. Authentication, authorization, retries, the circuit breaker and
// fallbacks, bad input, and failures in the middle of a call.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { until } from "../internal/testing/index.ts";
import { startMesh, type Mesh, type MeshNode } from "./support/mesh.ts";

let mesh: Mesh;
let a: MeshNode;
let b: MeshNode;
let caller: string;

beforeAll(async () => {
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution", "state"] },
    ],
    sidecarArgs: ["--max-body-bytes", "65536"],
  });
  a = mesh.node("node-a");
  b = mesh.node("node-b");
  caller = await mesh.token("agent-1", ["agent"]);
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
}, 60_000);

async function json(response: Response): Promise<any> {
  return response.json();
}

/** Puts a policy and waits until node-a's sidecar holds it. */
async function policy(kind: "resilience" | "authz", name: string, spec: Record<string, unknown>): Promise<void> {
  const { revision } = await mesh.admin.putPolicy(kind, name, spec);
  await until(async () => (await a.status()).revision >= revision && (await b.status()).revision >= revision, { what: `policy ${name} reaching the sidecars` });
}

async function removePolicy(kind: "resilience" | "authz", name: string): Promise<void> {
  const { revision } = await mesh.admin.deletePolicy(kind, name);
  await until(async () => (await a.status()).revision >= revision && (await b.status()).revision >= revision);
}

describe("a call across two sidecars", () => {
  test("reaches the other node's app with the caller's identity and a trace context", async () => {
    const response = await a.invoke("execution", "/v1/chat?lang=en", { method: "POST", token: caller, body: JSON.stringify({ message: "hi" }) });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toMatchObject({ app: "node-b", method: "POST", path: "/v1/chat?lang=en", bytes: 16, subject: "agent-1", roles: "agent" });
    expect(body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  test("a caller cannot pass identity headers of its own", async () => {
    const response = await a.invoke("execution", "/who", { token: caller, headers: { "x-nagent-subject": "admin", "x-nagent-roles": "admin" } });
    expect(await json(response)).toMatchObject({ subject: "agent-1", roles: "agent" });
  });

  test("a domain nobody serves answers 503 with the JSON error; a malformed domain 400", async () => {
    const none = await a.invoke("coordination", "/x", { token: caller });
    expect(none.status).toBe(503);
    expect((await json(none)).error.code).toBe("no_healthy_instance");
    const bad = await fetch(`${a.outbound}/v1/invoke/Not%20A%20Domain/x`, { headers: { authorization: `Bearer ${caller}` } });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe("invalid_domain");
  });
});

describe("authentication and authorization at the called sidecar", () => {
  test("401 for missing, forged, expired, wrong-audience and revoked tokens", async () => {
    const missing = await a.invoke("execution", "/x");
    expect(missing.status).toBe(401);
    expect((await json(missing)).error.code).toBe("unauthenticated");

    const [head, payload, signature] = caller.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), roles: ["admin"] })).toString("base64url");
    const forged = await a.invoke("execution", "/x", { token: `${head}.${forgedPayload}.${signature}` });
    expect(forged.status).toBe(401);
    expect((await json(forged)).error.reason).toBe("bad_signature");

    const short = await mesh.token("agent-2", ["agent"], { ttlSeconds: 1 });
    expect((await a.invoke("execution", "/x", { token: short })).status).toBe(200);
    await Bun.sleep(7_000); // past the expiry and the 5 s clock tolerance
    const expired = await a.invoke("execution", "/x", { token: short });
    expect(expired.status).toBe(401);
    expect((await json(expired)).error.reason).toBe("expired");

    const elsewhere = await mesh.token("agent-3", ["agent"], { audience: ["coordination"] });
    expect((await json(await a.invoke("execution", "/x", { token: elsewhere }))).error.reason).toBe("wrong_audience");
    const forExecution = await mesh.token("agent-3", ["agent"], { audience: ["execution"] });
    expect((await a.invoke("execution", "/x", { token: forExecution })).status).toBe(200);

    const revoked = await mesh.token("agent-4", ["agent"]);
    expect((await a.invoke("execution", "/x", { token: revoked })).status).toBe(200);
    const started = Date.now();
    await mesh.admin.revokeToken(revoked);
    await until(async () => (await a.invoke("execution", "/x", { token: revoked })).status === 401, { intervalMs: 10, what: "the revocation reaching node-b" });
    const took = Date.now() - started;
    expect(took).toBeLessThan(1_000);
    expect((await json(await a.invoke("execution", "/x", { token: revoked }))).error.reason).toBe("revoked");
  }, 30_000);

  test("opaque API keys are checked through the control plane and then cached", async () => {
    const key = await mesh.token("batch-job", ["agent"], { kind: "api-key", ttlSeconds: 600 });
    expect((await a.invoke("execution", "/x", { token: key })).status).toBe(200);
    expect((await a.invoke("execution", "/x", { token: key })).status).toBe(200);
    const status = await b.status();
    expect(status.credentials.lookups.memory.hit).toBeGreaterThan(0);
    expect((await a.invoke("execution", "/x", { token: `${key.slice(0, -3)}abc` })).status).toBe(401);
  });

  test("403 from an authz policy: deny wins, and an allow policy denies what it does not allow", async () => {
    const admin = await mesh.token("ops", ["operator"]);
    await policy("authz", "execution-agents", {
      action: "allow",
      target: { domains: ["execution"] },
      rules: [{ roles: ["agent"], methods: ["GET", "POST"], paths: ["/v1/"] }, { roles: ["operator"] }],
    });
    await policy("authz", "no-agent-9", { action: "deny", rules: [{ subjects: ["agent-9"], domains: ["execution"] }] });
    expect((await a.invoke("execution", "/v1/chat", { method: "POST", token: caller, body: "{}" })).status).toBe(200);
    const outside = await a.invoke("execution", "/admin/reset", { method: "POST", token: caller });
    expect(outside.status).toBe(403);
    expect((await json(outside)).error).toMatchObject({ code: "forbidden" });
    expect((await a.invoke("execution", "/admin/reset", { method: "POST", token: admin })).status).toBe(200);
    const nine = await mesh.token("agent-9", ["agent"]);
    expect((await a.invoke("execution", "/v1/chat", { method: "POST", token: nine, body: "{}" })).status).toBe(403);
    // Another domain is not guarded by these policies.
    expect((await a.invoke("state", "/admin/reset", { method: "POST", token: caller })).status).toBe(200);
    await removePolicy("authz", "execution-agents");
    await removePolicy("authz", "no-agent-9");
    expect((await a.invoke("execution", "/admin/reset", { method: "POST", token: caller })).status).toBe(200);
  });
});

describe("resilience at the calling sidecar", () => {
  test("a GET is retried on 503, a POST is not", async () => {
    await policy("resilience", "execution-retries", {
      target: { domain: "execution" },
      timeoutMs: 5000,
      retry: { maxAttempts: 3, backoff: { type: "constant", initialMs: 10 }, retryOn: { statusCodes: [503] } },
    });
    const before = (await b.appCalls()).length;
    await b.behave({ status: 503, failNext: 2 });
    const get = await a.invoke("execution", "/items", { token: caller });
    expect(get.status).toBe(200);
    expect((await b.appCalls()).length - before).toBe(3);

    const beforePost = (await b.appCalls()).length;
    await b.behave({ status: 503, failNext: 2 });
    const post = await a.invoke("execution", "/items", { method: "POST", token: caller, body: "{}" });
    expect(post.status).toBe(503);
    expect((await b.appCalls()).length - beforePost).toBe(1);
    await b.behave({});
    const metrics = await (await fetch(`${a.outbound}/metrics`)).text();
    expect(metrics).toMatch(/nagent_sidecar_retries_total\{domain="execution"\} [1-9]/);
    await removePolicy("resilience", "execution-retries");
  });

  test("when retries run out the answer names the attempts", async () => {
    await policy("resilience", "execution-retries", {
      target: { domain: "execution" },
      retry: { maxAttempts: 2, backoff: { type: "constant", initialMs: 10 }, retryOn: { statusCodes: [] } },
    });
    await b.behave({ delayMs: 0 });
    // An instance that is not there: node-b's app stays, but we call a domain whose only instance refuses connections.
    await mesh.admin.registerNode("ghost", { address: "http://127.0.0.1:1", domains: ["ghost"], ttlSeconds: 60 });
    await policy("resilience", "ghost-retries", { target: { domain: "ghost" }, retry: { maxAttempts: 3, backoff: { type: "constant", initialMs: 10 } } });
    const response = await a.invoke("ghost", "/x", { token: caller });
    expect(response.status).toBe(502);
    const error = (await json(response)).error;
    expect(error.code).toBe("upstream_failed");
    expect(error.attempts).toHaveLength(3);
    expect(error.attempts.every((attempt: { outcome: string }) => attempt.outcome === "connect")).toBe(true);
    await mesh.admin.deregisterNode("ghost");
    await removePolicy("resilience", "ghost-retries");
    await removePolicy("resilience", "execution-retries");
  });

  test("the breaker opens after the configured failures, falls back while open, and closes after a good probe", async () => {
    await policy("resilience", "execution-breaker", {
      target: { domain: "execution" },
      circuitBreaker: { trip: "consecutiveFailures >= 3", openMs: 1500, halfOpenRequests: 1 },
      fallback: { type: "static", status: 200, body: { answer: "later" } },
    });
    await b.behave({ status: 500 });
    for (let i = 0; i < 3; i++) expect((await a.invoke("execution", "/work", { token: caller })).headers.get("x-nagent-fallback")).toBe("static");
    const before = (await b.appCalls()).length;
    const open = await a.invoke("execution", "/work", { token: caller });
    expect(open.status).toBe(200);
    expect(open.headers.get("x-nagent-fallback")).toBe("static");
    expect(await json(open)).toEqual({ answer: "later" });
    expect((await b.appCalls()).length).toBe(before); // open: no call went out
    const metrics = await (await fetch(`${a.outbound}/metrics`)).text();
    expect(metrics).toContain('nagent_sidecar_circuit_breaker_state{domain="execution",state="open"} 1');
    expect((await a.status()).resilience.find((entry: { domain: string }) => entry.domain === "execution").breaker.state).toBe("open");

    await b.behave({});
    await Bun.sleep(1_700);
    const probe = await a.invoke("execution", "/work", { token: caller });
    expect(probe.status).toBe(200);
    expect(probe.headers.get("x-nagent-fallback")).toBeNull();
    expect((await a.status()).resilience.find((entry: { domain: string }) => entry.domain === "execution").breaker.state).toBe("closed");
    await removePolicy("resilience", "execution-breaker");
  });

  test("without a fallback an open breaker answers 503 circuit_open", async () => {
    await policy("resilience", "execution-breaker", { target: { domain: "execution" }, circuitBreaker: { trip: "consecutiveFailures >= 2", openMs: 60_000 } });
    await b.behave({ status: 502 });
    await a.invoke("execution", "/w", { token: caller });
    await a.invoke("execution", "/w", { token: caller });
    const open = await a.invoke("execution", "/w", { token: caller });
    expect(open.status).toBe(503);
    expect((await json(open)).error.code).toBe("circuit_open");
    await b.behave({});
    await removePolicy("resilience", "execution-breaker");
  });

  test("a timeout answers 504", async () => {
    await policy("resilience", "execution-timeout", { target: { domain: "execution" }, timeoutMs: 200 });
    await b.behave({ delayMs: 1_000 });
    const response = await a.invoke("execution", "/slow", { token: caller });
    expect(response.status).toBe(504);
    expect((await json(response)).error.code).toBe("timeout");
    await b.behave({});
    await removePolicy("resilience", "execution-timeout");
  });
});

describe("bad input and broken connections", () => {
  test("a body over the limit is refused with 413, declared or streamed", async () => {
    const big = "x".repeat(70_000);
    const declared = await a.invoke("execution", "/upload", { method: "POST", token: caller, body: big });
    expect(declared.status).toBe(413);
    expect((await json(declared)).error.code).toBe("payload_too_large");
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("y".repeat(10_000)));
        controller.close();
      },
    });
    const streamed = await a.invoke("execution", "/upload", { method: "POST", token: caller, body: stream, duplex: "half" } as RequestInit & { token: string });
    expect([413, 502]).toContain(streamed.status);
  });

  test("a malformed Authorization header is a 401, not a crash", async () => {
    for (const header of ["Bearer", "Basic abc", "Bearer a b", "bearer\u00ff"]) {
      const response = await fetch(`${a.outbound}/v1/invoke/execution/x`, { headers: { authorization: header } }).catch(() => undefined);
      if (response) expect(response.status).toBe(401);
    }
    expect((await a.invoke("execution", "/x", { token: caller })).status).toBe(200);
  });

  test("an upstream that resets mid-response breaks the caller's body, and the sidecars keep serving", async () => {
    await b.behave({ resetMidResponse: true });
    const response = await a.invoke("execution", "/stream", { token: caller });
    expect(response.status).toBe(200);
    expect(await response.text().then(() => "complete", () => "broken")).toBe("broken");
    await b.behave({});
    expect((await a.invoke("execution", "/after", { token: caller })).status).toBe(200);
  });

  test("a client that disconnects in the middle of its body leaves the sidecar serving", async () => {
    const port = Number(new URL(a.outbound).port);
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(`POST /v1/invoke/execution/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${caller}\r\nContent-Length: 100000\r\n\r\n${"z".repeat(1000)}`);
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 100);
      });
    });
    expect((await a.invoke("execution", "/after", { token: caller })).status).toBe(200);
    const status = await a.status();
    expect(status.node).toBe("node-a");
  });
});
