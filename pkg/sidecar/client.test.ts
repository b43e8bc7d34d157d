// SidecarClient against a small fake of the sidecar's outbound port: the local API's answers,
// what an invoke call sends (credential, trace context, body), the error bodies the sidecar gives,
// and what happens when the sidecar is slow or away. test/sdk.test.ts runs it against real ones.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../../internal/testing/index.ts";
import { InvalidRequestError, NagentError, NotFoundError, UnauthenticatedError, UnavailableError } from "../control-plane/errors.ts";
import { DEFAULT_SIDECAR_URL, SidecarClient, fallbackOf } from "./client.ts";
import { NoHealthyInstanceError, SidecarUnavailableError, TimeoutError, UpstreamFailedError } from "./errors.ts";

interface Seen {
  method: string;
  path: string;
  authorization: string | null;
  traceparent: string | null;
  tracestate: string | null;
  contentType: string | null;
  accept: string | null;
  body: string;
}

let server: ReturnType<typeof Bun.serve>;
let url: string;
const seen: Seen[] = [];

function error(status: number, code: string, extra: Record<string, unknown> = {}): Response {
  return Response.json({ error: { code, message: `${code} (fake)`, ...extra } }, { status });
}

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const u = new URL(request.url);
      const path = u.pathname + u.search;
      const body = await request.text();
      seen.push({
        method: request.method,
        // The path as it came on the wire, before any decoding.
        path: request.url.slice(request.url.indexOf("/", 8)),
        authorization: request.headers.get("authorization"),
        traceparent: request.headers.get("traceparent"),
        tracestate: request.headers.get("tracestate"),
        contentType: request.headers.get("content-type"),
        accept: request.headers.get("accept"),
        body,
      });
      if (u.pathname === "/readyz") return new Response("ok");
      if (u.pathname === "/v1/status") return Response.json({ node: "fake", revision: 12, held: { keys: 3 } });
      // As the sidecar does: /v1/config/watch is the watch stream, whatever keys exist.
      if (u.pathname === "/v1/config/watch") return new Response(new ReadableStream({ start() {} }), { headers: { "content-type": "text/event-stream" } });
      if (u.pathname === "/v1/config" && u.searchParams.get("prefix") === "watch") {
        return Response.json({ prefix: "watch", revision: 13, items: [{ key: "watch", value: "w" }, { key: "watchers/a", value: 2 }] });
      }
      if (u.pathname === "/v1/config") return Response.json({ prefix: u.searchParams.get("prefix"), revision: 12, items: [{ key: "a/b", value: 1 }] });
      if (u.pathname === "/v1/config/missing") return error(404, "not_found");
      if (u.pathname === "/v1/config/bad") return error(400, "invalid_key");
      if (u.pathname === "/v1/config/slow") return Bun.sleep(1_000).then(() => Response.json({}));
      if (u.pathname.startsWith("/v1/config/")) return Response.json({ key: decodeURIComponent(u.pathname.slice(11)), value: { ms: 250 }, revision: 12 });
      if (u.pathname.startsWith("/v1/invoke/coordination/")) return error(503, "no_healthy_instance", { attempts: [{ instance: null, outcome: "no_instance" }] });
      if (u.pathname.startsWith("/v1/invoke/execution/failing")) return error(502, "upstream_failed", { attempts: [{ instance: "node-b", outcome: "response", status: 500 }] });
      if (u.pathname.startsWith("/v1/invoke/execution/denied")) return error(401, "unauthenticated", { reason: "missing" });
      if (u.pathname.startsWith("/v1/invoke/execution/fallback")) return Response.json({ answer: "later" }, { headers: { "x-nagent-fallback": "static" } });
      if (u.pathname.startsWith("/v1/invoke/execution/text")) return new Response("plain words");
      if (u.pathname.startsWith("/v1/invoke/execution/empty")) return new Response(null, { status: 204 });
      if (u.pathname.startsWith("/v1/invoke/execution/slow")) return Bun.sleep(1_000).then(() => Response.json({ late: true }));
      if (u.pathname.startsWith("/v1/invoke/")) return Response.json({ echoed: path, method: request.method, body });
      return error(404, "not_found");
    },
  });
  url = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

const last = (): Seen => seen.at(-1)!;

describe("the local API", () => {
  test("a key, a prefix and the status, from the sidecar's copy", async () => {
    const client = new SidecarClient({ url: `${url}/`, token: "app-token" });
    expect(client.url).toBe(url);
    expect(await client.getConfig<{ ms: number }>("services/payment/timeout")).toEqual({ key: "services/payment/timeout", value: { ms: 250 }, revision: 12 });
    // The local API needs no credential and gets none.
    expect(last()).toMatchObject({ method: "GET", authorization: null, accept: "application/json" });
    expect(await client.listConfig("services/")).toEqual({ prefix: "services/", revision: 12, items: [{ key: "a/b", value: 1 }] });
    expect(last().path).toBe("/v1/config?prefix=services%2F");
    expect((await client.status()).revision).toBe(12);
    expect(await client.ready()).toBe(true);
  });

  test("keys are sent as written: : and @ as they are, other characters percent-encoded per segment", async () => {
    const client = new SidecarClient({ url });
    await client.getConfig("tenants/acme:eu/user@x/a b");
    expect(last().path).toBe("/v1/config/tenants/acme:eu/user@x/a%20b");
  });

  test("the key \"watch\", which GET /v1/config/watch cannot answer, is read from a list", async () => {
    const client = new SidecarClient({ url, timeoutMs: 1_000 });
    expect(await client.getConfig("watch")).toEqual({ key: "watch", value: "w", revision: 13 });
    expect(last().path).toBe("/v1/config?prefix=watch");
  });

  test("a missing key is a NotFoundError, a malformed one an InvalidRequestError", async () => {
    const client = new SidecarClient({ url });
    const missing = await client.getConfig("missing").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: "not_found", endpoint: url });
    expect(await client.getConfig("bad").catch((e: unknown) => e)).toBeInstanceOf(InvalidRequestError);
  });

  test("a sidecar that is away or too slow is a SidecarUnavailableError; ready() says false", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const away = await new SidecarClient({ url: dead }).getConfig("a").catch((e: unknown) => e);
    expect(away).toBeInstanceOf(SidecarUnavailableError);
    expect(away).toBeInstanceOf(UnavailableError);
    expect((away as Error).message).toBe(`the sidecar at ${dead} did not answer (connection refused)`);
    expect(await new SidecarClient({ url: dead }).ready()).toBe(false);
    const slow = await new SidecarClient({ url, timeoutMs: 100 }).getConfig("slow").catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(SidecarUnavailableError);
    expect((slow as Error).message).toContain("no answer within 100 ms");
  });

  test("a caller's abort is thrown as its reason, not wrapped", async () => {
    const controller = new AbortController();
    const pending = new SidecarClient({ url }).getConfig("slow", { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error("app shutting down"));
    expect(((await pending) as Error).message).toBe("app shutting down");
  });

  test("the URL comes from the option, else NAGENT_SIDECAR_URL, else the default port", () => {
    const before = process.env.NAGENT_SIDECAR_URL;
    try {
      delete process.env.NAGENT_SIDECAR_URL;
      expect(new SidecarClient().url).toBe(DEFAULT_SIDECAR_URL);
      process.env.NAGENT_SIDECAR_URL = "http://10.0.0.5:25001";
      expect(new SidecarClient().url).toBe("http://10.0.0.5:25001");
      expect(new SidecarClient({ url }).url).toBe(url);
    } finally {
      if (before === undefined) delete process.env.NAGENT_SIDECAR_URL;
      else process.env.NAGENT_SIDECAR_URL = before;
    }
    expect(() => new SidecarClient({ url: "not a url" })).toThrow();
  });
});

describe("invoke", () => {
  test("sends the client's credential, the trace context and a JSON body (POST by default)", async () => {
    const client = new SidecarClient({ url, token: "app-token" });
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const response = await client.invoke("execution", "/v1/chat?lang=en", { json: { message: "hi" }, traceparent, tracestate: "vendor=1" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ echoed: "/v1/invoke/execution/v1/chat?lang=en", method: "POST", body: '{"message":"hi"}' });
    expect(last()).toMatchObject({ authorization: "Bearer app-token", traceparent, tracestate: "vendor=1", contentType: "application/json" });
  });

  test("which credential: the call's token, else an Authorization header given, else the client's (a function is asked each call)", async () => {
    let n = 0;
    const client = new SidecarClient({ url, token: () => `rotating-${++n}` });
    await client.invoke("execution", "/a");
    expect(last()).toMatchObject({ method: "GET", authorization: "Bearer rotating-1" });
    await client.invoke("execution", "/a");
    expect(last().authorization).toBe("Bearer rotating-2");
    await client.invoke("execution", "/a", { token: "per-call" });
    expect(last().authorization).toBe("Bearer per-call");
    await client.invoke("execution", "/a", { headers: { authorization: "Bearer from-header" } });
    expect(last().authorization).toBe("Bearer from-header");
    await new SidecarClient({ url }).invoke("execution", "/a");
    expect(last().authorization).toBeNull();
  });

  test("paths: a leading slash is added, a bare query kept, an empty path is /; the method and a streamed body as given", async () => {
    const client = new SidecarClient({ url });
    await client.invoke("execution", "v1/x");
    expect(last().path).toBe("/v1/invoke/execution/v1/x");
    await client.invoke("execution", "?q=1");
    expect(last().path).toBe("/v1/invoke/execution?q=1");
    await client.invoke("execution", "");
    expect(last().path).toBe("/v1/invoke/execution/");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("streamed "));
        controller.enqueue(new TextEncoder().encode("body"));
        controller.close();
      },
    });
    await client.invoke("execution", "/upload", { method: "PUT", body: stream });
    expect(last()).toMatchObject({ method: "PUT", body: "streamed body" });
  });

  test("an error answer is returned as it is; fallbackOf reads x-nagent-fallback", async () => {
    const client = new SidecarClient({ url });
    const none = await client.invoke("coordination", "/x");
    expect(none.status).toBe(503);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("no_healthy_instance");
    const fallback = await client.invoke("execution", "/fallback");
    expect(fallbackOf(fallback)).toBe("static");
    expect(fallbackOf(await client.invoke("execution", "/a"))).toBeUndefined();
  });

  test("a deadline of the client's own is a TimeoutError with code client_timeout; an unreachable sidecar a SidecarUnavailableError", async () => {
    const client = new SidecarClient({ url });
    const late = await client.invoke("execution", "/slow", { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(TimeoutError);
    expect(late).toMatchObject({ status: 0, code: "client_timeout" });
    const dead = new SidecarClient({ url: `http://127.0.0.1:${await freePort()}` });
    expect(await dead.invoke("execution", "/a").catch((e: unknown) => e)).toBeInstanceOf(SidecarUnavailableError);
  });
});

describe("invokeJson", () => {
  test("answers the parsed body with the status, headers and fallback", async () => {
    const client = new SidecarClient({ url, token: "t" });
    const result = await client.invokeJson<{ echoed: string }>("execution", "/a");
    expect(result.data.echoed).toBe("/v1/invoke/execution/a");
    expect(result.status).toBe(200);
    expect(result.fallback).toBeUndefined();
    expect(last().accept).toBe("application/json");
    expect(await client.invokeJson("execution", "/fallback")).toMatchObject({ data: { answer: "later" }, fallback: "static" });
    expect((await client.invokeJson("execution", "/text")).data).toBe("plain words");
    expect(await client.invokeJson("execution", "/empty")).toMatchObject({ status: 204, data: undefined });
  });

  test("throws the typed error from the sidecar's JSON error body", async () => {
    const client = new SidecarClient({ url, token: "t" });
    const none = await client.invokeJson("coordination", "/x").catch((e: unknown) => e);
    expect(none).toBeInstanceOf(NoHealthyInstanceError);
    expect(none).toMatchObject({ status: 503, code: "no_healthy_instance", message: "no_healthy_instance (fake)", endpoint: url, attempts: [{ instance: null, outcome: "no_instance" }] });
    const failing = await client.invokeJson("execution", "/failing").catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(UpstreamFailedError);
    expect((failing as UpstreamFailedError).attempts).toEqual([{ instance: "node-b", outcome: "response", status: 500 }]);
    const denied = await client.invokeJson("execution", "/denied").catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(UnauthenticatedError);
    expect((denied as NagentError).details).toEqual({ reason: "missing" });
  });

  test("timeoutMs covers the body too", async () => {
    const late = await new SidecarClient({ url }).invokeJson("execution", "/slow", { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(TimeoutError);
    expect(late).toMatchObject({ code: "client_timeout" });
  });
});

describe("connectRetryMs: a sidecar that is restarting", () => {
  test("a POST whose connection is refused is sent again once the sidecar listens, and reaches it once", async () => {
    const port = await freePort();
    const bodies: string[] = [];
    const client = new SidecarClient({ url: `http://127.0.0.1:${port}`, connectRetryMs: 5_000 });
    const pending = client.invoke("execution", "/tasks", { json: { n: 1 } });
    await Bun.sleep(300);
    const later = Bun.serve({
      hostname: "127.0.0.1",
      port,
      async fetch(request) {
        bodies.push(await request.text());
        return Response.json({ ok: true }, { status: 201 });
      },
    });
    try {
      const response = await pending;
      expect(response.status).toBe(201);
      expect(bodies).toEqual(['{"n":1}']);
    } finally {
      await later.stop(true);
    }
  });

  test("gives up with SidecarUnavailableError after connectRetryMs, and at once without it", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    let started = performance.now();
    expect(await new SidecarClient({ url: dead, connectRetryMs: 400 }).invoke("execution", "/a").catch((e: unknown) => e)).toBeInstanceOf(SidecarUnavailableError);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(200);
    expect(waited).toBeLessThan(1_500);
    started = performance.now();
    expect(await new SidecarClient({ url: dead }).getConfig("a").catch((e: unknown) => e)).toBeInstanceOf(SidecarUnavailableError);
    expect(performance.now() - started).toBeLessThan(200);
  });

  test("a call that reached the sidecar and lost its connection is not sent again", async () => {
    let received = 0;
    const resetting = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          received++;
          socket.terminate();
        },
      },
    });
    try {
      const client = new SidecarClient({ url: `http://127.0.0.1:${resetting.port}`, connectRetryMs: 5_000 });
      expect(await client.invoke("execution", "/tasks", { json: { n: 1 } }).catch((e: unknown) => e)).toBeInstanceOf(SidecarUnavailableError);
      expect(received).toBe(1);
    } finally {
      resetting.stop(true);
    }
  });

  test("a draining sidecar's notice: a call due as its port closes is held, then sent to the restarted sidecar", async () => {
    const port = await freePort();
    let oldCalls = 0;
    const old = Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch() {
        oldCalls++;
        // As a draining sidecar answers its app: its port closes in 200 ms.
        return Response.json({ from: "old" }, { headers: { "x-nagent-draining": "200" } });
      },
    });
    let restarted: ReturnType<typeof Bun.serve> | undefined;
    const client = new SidecarClient({ url: `http://127.0.0.1:${port}`, connectRetryMs: 5_000 });
    try {
      expect(await (await client.invoke("execution", "/a")).json()).toEqual({ from: "old" });
      setTimeout(() => void old.stop(true), 150);
      setTimeout(() => {
        restarted = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => Response.json({ from: "restarted" }) });
      }, 320);
      // Sent now, this call would reach the old port just before it closes: it is held instead.
      expect(await (await client.invoke("execution", "/b", { json: { n: 2 } })).json()).toEqual({ from: "restarted" });
      expect(oldCalls).toBe(1);
    } finally {
      await old.stop(true);
      await restarted?.stop(true);
    }
  });

  test("the caller's deadline ends the retries", async () => {
    const client = new SidecarClient({ url: `http://127.0.0.1:${await freePort()}`, connectRetryMs: 10_000 });
    const started = performance.now();
    expect(await client.invoke("execution", "/a", { timeoutMs: 300 }).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});
