import { afterEach, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Body, BodySource } from "./body.ts";
import { fromFetchResponse, serveFetch, toFetchResponse } from "./fetch-bridge.ts";
import { Fields } from "./fields.ts";
import type { ServerRequest } from "./server.ts";
import { PushSource, RawClient, RecordingSink, bodyText, collect, deferred, latin1, runCleanups, sleep, startServer, waitUntil, within } from "./test-support.ts";

afterEach(runCleanups);

const ORIGIN = "http://127.0.0.1:15001";

function serverRequest(init: { method?: string; target?: string; headers?: string[]; body?: Body; signal?: AbortSignal; minor?: 0 | 1 }): ServerRequest {
  return {
    method: init.method ?? "GET",
    target: init.target ?? "/",
    minor: init.minor ?? 1,
    headers: new Fields((init.headers ?? ["host", "127.0.0.1:15001"]).slice()),
    body: init.body ?? null,
    signal: init.signal ?? new AbortController().signal,
    remoteAddress: "127.0.0.1",
    cancelled: false,
    cancelReason: undefined,
    onCancel: undefined,
  };
}

/** A Hono app covering what the sidecar's local API does: JSON, echo, event streams, cookies. */
function app(): Hono {
  const hono = new Hono();
  hono.get("/hello", (c) => c.json({ hello: "world", query: c.req.query("q") ?? null }));
  hono.post("/echo", async (c) => c.text(`${c.req.method} ${c.req.header("content-type") ?? "-"} ${await c.req.text()}`));
  hono.get("/headers", (c) => c.json({ accept: c.req.header("accept") ?? null, custom: c.req.header("x-custom") ?? null, url: c.req.url }));
  hono.get("/cookies", (c) => {
    c.header("set-cookie", "a=1; Path=/", { append: true });
    c.header("set-cookie", "b=2", { append: true });
    return c.text("cookies");
  });
  hono.get("/empty", (c) => c.body(null, 204));
  hono.get("/sse", (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; i < 3; i++) {
        await stream.writeSSE({ data: `tick ${i}` });
        await stream.sleep(5);
      }
    }),
  );
  return hono;
}

describe("serveFetch", () => {
  test("a GET becomes a Request at origin + target; an ordinary answer comes back as bytes", async () => {
    const response = await serveFetch(serverRequest({ target: "/hello?q=42" }), ORIGIN, app().fetch);
    expect(response.status).toBe(200);
    expect(response.body).toBeInstanceOf(Uint8Array);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(JSON.parse(await bodyText(response.body))).toEqual({ hello: "world", query: "42" });
  });

  test("the handler sees the URL, method and fields", async () => {
    let seen: Request | undefined;
    await serveFetch(serverRequest({ method: "PATCH", target: "/a/b?c=d", headers: ["host", "svc", "accept", "text/html", "x-multi", "1", "x-multi", "2"], body: latin1("{}") }), ORIGIN, (request) => {
      seen = request;
      return new Response("ok");
    });
    expect(seen!.url).toBe(`${ORIGIN}/a/b?c=d`);
    expect(seen!.method).toBe("PATCH");
    expect(seen!.headers.get("accept")).toBe("text/html");
    expect(seen!.headers.get("x-multi")).toBe("1, 2");
    expect(await seen!.text()).toBe("{}");
  });

  test("a body at hand is passed to the handler", async () => {
    const response = await serveFetch(serverRequest({ method: "POST", target: "/echo", headers: ["host", "h", "content-type", "text/plain"], body: latin1("posted") }), ORIGIN, app().fetch);
    expect(await bodyText(response.body)).toBe("POST text/plain posted");
  });

  test("a streamed body is passed on as a stream, read as it arrives", async () => {
    const source = new PushSource();
    const answering = serveFetch(serverRequest({ method: "POST", target: "/echo", body: source }), ORIGIN, app().fetch);
    await source.piped.promise;
    source.push("part one, ");
    await sleep(5);
    source.push("part two");
    source.end();
    expect(await bodyText((await answering).body)).toBe("POST - part one, part two");
  });

  test("a body on a GET or HEAD is not read: a stream is cancelled, the handler sees none", async () => {
    const source = new PushSource();
    let hadBody: boolean | undefined;
    await serveFetch(serverRequest({ method: "GET", body: source }), ORIGIN, (request) => {
      hadBody = request.body !== null;
      return new Response("ok");
    });
    expect(hadBody).toBe(false);
    expect(source.cancelled).toBeInstanceOf(Error);
    expect(source.sink).toBeUndefined();

    let headHadBody: boolean | undefined;
    await serveFetch(serverRequest({ method: "HEAD", body: latin1("ignored") }), ORIGIN, (request) => {
      headHadBody = request.body !== null;
      return new Response(null);
    });
    expect(headHadBody).toBe(false);
  });

  test("an event stream comes back as a source that streams, not as bytes", async () => {
    const release = deferred<void>();
    const response = await serveFetch(serverRequest({ target: "/events" }), ORIGIN, () => {
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(latin1("data: first\n\n"));
          await release.promise;
          controller.enqueue(latin1("data: second\n\n"));
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
    });
    expect(response.body).not.toBeInstanceOf(Uint8Array);
    expect(response.body).not.toBeNull();
    const source = response.body as BodySource;
    expect(source.length).toBeUndefined();
    const sink = new RecordingSink();
    source.pipe(sink);
    await waitUntil(() => sink.bytes.toString("latin1") === "data: first\n\n", "the first event before the stream ends");
    expect(sink.ended).toBe(0);
    release.resolve();
    await sink.settled;
    expect(sink.bytes.toString("latin1")).toBe("data: first\n\ndata: second\n\n");
  });

  test("Hono's streamSSE and an ndjson answer stream; a streamed text/plain answer is read whole into bytes", async () => {
    const sse = await serveFetch(serverRequest({ target: "/sse" }), ORIGIN, app().fetch);
    expect(sse.body).not.toBeInstanceOf(Uint8Array);
    expect(await bodyText(sse.body)).toBe("data: tick 0\n\ndata: tick 1\n\ndata: tick 2\n\n");

    const ndjson = await serveFetch(serverRequest({}), ORIGIN, () => new Response(new Blob(['{"a":1}\n']).stream(), { headers: { "content-type": "application/x-ndjson" } }));
    expect(ndjson.body).not.toBeInstanceOf(Uint8Array);
    expect(await bodyText(ndjson.body)).toBe('{"a":1}\n');

    const plain = await serveFetch(serverRequest({}), ORIGIN, () => new Response(new Blob(["chunk1", "chunk2"]).stream(), { headers: { "content-type": "text/plain" } }));
    expect(plain.body).toBeInstanceOf(Uint8Array);
    expect(await bodyText(plain.body)).toBe("chunk1chunk2");
  });

  test("no body (204) stays null; status and every set-cookie are kept", async () => {
    const empty = await serveFetch(serverRequest({ target: "/empty" }), ORIGIN, app().fetch);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const cookies = await serveFetch(serverRequest({ target: "/cookies" }), ORIGIN, app().fetch);
    expect([...cookies.headers].filter(([name]) => name === "set-cookie").map(([, v]) => v)).toEqual(["a=1; Path=/", "b=2"]);
  });

  test("the server request's signal is the handler's request signal", async () => {
    const controller = new AbortController();
    const aborted = deferred<unknown>();
    const answering = serveFetch(serverRequest({ target: "/wait", signal: controller.signal }), ORIGIN, async (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve(request.signal.reason));
      await aborted.promise;
      return new Response("gone");
    });
    const reason = new Error("client left");
    controller.abort(reason);
    expect(await within(aborted.promise, 1000, "the handler's signal")).toBe(reason);
    expect((await answering).status).toBe(200);
  });

  test("an asterisk-form target does not break the URL", async () => {
    let url: string | undefined;
    await serveFetch(serverRequest({ method: "OPTIONS", target: "*" }), ORIGIN, (request) => {
      url = request.url;
      return new Response(null, { status: 204 });
    });
    expect(new URL(url!).origin).toBe(ORIGIN);
  });

  test("an absolute-form target (RFC 9112 §3.2.2: a server MUST accept it) reaches the route of its path", async () => {
    const response = await serveFetch(serverRequest({ target: `${ORIGIN}/hello?q=abs` }), ORIGIN, app().fetch);
    expect(response.status).toBe(200);
    expect(JSON.parse(await bodyText(response.body))).toEqual({ hello: "world", query: "abs" });
  });

  test("a handler that throws rejects serveFetch (the server turns that into a 500)", async () => {
    const boom = new Error("handler bug");
    expect(
      await serveFetch(serverRequest({}), ORIGIN, () => {
        throw boom;
      }).catch((e: unknown) => e),
    ).toBe(boom);
  });
});

describe("serveFetch behind listenHttp1", () => {
  function serveApp() {
    const hono = app();
    return startServer((request) => serveFetch(request, ORIGIN, hono.fetch));
  }

  test("JSON, an echo of a chunked body in pieces, and a Hono 404, on one connection", async () => {
    const server = serveApp();
    const raw = await RawClient.connect(server.port);
    await raw.write("GET /hello?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    const hello = await raw.readResponse();
    expect(hello.status).toBe(200);
    expect(hello.header("content-type")).toContain("application/json");
    expect(hello.header("content-length")).toBe(String(hello.body.length));
    expect(JSON.parse(hello.body.toString())).toEqual({ hello: "world", query: "1" });

    await raw.writeInPieces("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 6);
    expect((await raw.readResponse()).body.toString()).toBe("POST text/plain abcdefg");

    await raw.write("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
    expect((await raw.readResponse()).status).toBe(404);
    expect(raw.isClosed).toBe(false);
  });

  test("an event stream reaches the client as it is produced, chunked", async () => {
    const release = deferred<void>();
    const hono = new Hono();
    hono.get("/events", () => {
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(latin1("data: one\n\n"));
          await release.promise;
          controller.enqueue(latin1("data: two\n\n"));
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    });
    const server = startServer((request) => serveFetch(request, ORIGIN, hono.fetch));
    const raw = await RawClient.connect(server.port);
    await raw.write("GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
    await raw.waitFor((b) => b.toString("latin1").includes("data: one"), "the first event");
    expect(raw.receivedText).toContain("transfer-encoding: chunked");
    expect(raw.receivedText).not.toContain("data: two");
    release.resolve();
    expect((await raw.readResponse()).body.toString()).toBe("data: one\n\ndata: two\n\n");
  });

  test("a client leaving mid-stream cancels the handler's stream", async () => {
    const cancelled = deferred<unknown>();
    const hono = new Hono();
    hono.get("/forever", () => {
      const stream = new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          await Bun.sleep(5);
          controller.enqueue(latin1("data: tick\n\n"));
        },
        cancel: (reason) => cancelled.resolve(reason),
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    });
    const server = startServer((request) => serveFetch(request, ORIGIN, hono.fetch));
    const raw = await RawClient.connect(server.port);
    await raw.write("GET /forever HTTP/1.1\r\nHost: t\r\n\r\n");
    await raw.waitFor((b) => b.toString("latin1").includes("data: tick"), "the first tick");
    raw.destroy();
    await within(cancelled.promise, 3000, "the stream's cancel");
  });
});

describe("toFetchResponse and fromFetchResponse", () => {
  test("bytes, none, and a source become a Response with status and fields", async () => {
    const bytes = toFetchResponse({ status: 201, headers: new Fields(["content-type", "text/plain", "set-cookie", "a=1", "set-cookie", "b=2"]), body: latin1("made") });
    expect(bytes.status).toBe(201);
    expect(bytes.headers.get("content-type")).toBe("text/plain");
    expect(bytes.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await bytes.text()).toBe("made");

    const none = toFetchResponse({ status: 204, headers: new Fields(), body: null });
    expect(none.status).toBe(204);
    expect(none.body).toBeNull();

    const source = new PushSource();
    const streamed = toFetchResponse({ status: 200, headers: new Fields(), body: source });
    const reading = streamed.text();
    await source.piped.promise;
    source.push("str");
    source.push("eamed");
    source.end();
    expect(await reading).toBe("streamed");
  });

  test("cancelling the Response's body cancels the source", async () => {
    const source = new PushSource();
    const response = toFetchResponse({ status: 200, headers: new Fields(), body: source });
    await response.body!.cancel(new Error("not wanted"));
    expect(source.cancelled?.message).toBe("not wanted");
  });

  test("a Response becomes fields and a source, its declared length kept", async () => {
    const withLength = fromFetchResponse(new Response("twelve bytes", { status: 202, headers: { "content-length": "12", "x-a": "1" } }));
    expect(withLength.status).toBe(202);
    expect(withLength.headers.get("x-a")).toBe("1");
    const source = withLength.body as BodySource;
    expect(source.length).toBe(12);
    expect((await collect(source)).toString()).toBe("twelve bytes");

    const stream = fromFetchResponse(new Response(new Blob(["a", "b"]).stream()));
    expect((stream.body as BodySource).length).toBeUndefined();
    expect(await bodyText(stream.body)).toBe("ab");

    const none = fromFetchResponse(new Response(null, { status: 304 }));
    expect(none.status).toBe(304);
    expect(none.body).toBeNull();
  });

  test("a round trip keeps status, fields and body", async () => {
    const original = new Response("round trip", { status: 418, headers: { "x-teapot": "yes" } });
    const back = toFetchResponse(fromFetchResponse(original));
    expect(back.status).toBe(418);
    expect(back.headers.get("x-teapot")).toBe("yes");
    expect(await back.text()).toBe("round trip");
  });
});
