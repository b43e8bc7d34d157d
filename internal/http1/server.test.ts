import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import net from "node:net";
import { readBody, type BodySink } from "./body.ts";
import { Fields } from "./fields.ts";
import type { ServerRequest } from "./server.ts";
import {
  PushSource,
  RawClient,
  collect,
  deferred,
  latin1,
  parseRawResponse,
  patternBytes,
  reply,
  runCleanups,
  sleep,
  startServer,
  waitUntil,
  within,
} from "./test-support.ts";

afterEach(runCleanups);

const get = (target: string, extra = "", version = "1.1") => `GET ${target} HTTP/${version}\r\n${version === "1.1" ? "Host: test\r\n" : ""}${extra}\r\n`;
const post = (target: string, body: string, extra = "") => `POST ${target} HTTP/1.1\r\nHost: test\r\nContent-Length: ${Buffer.byteLength(body, "latin1")}\r\n${extra}\r\n${body}`;
const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Echoes the target as the body. */
const echoTarget = (request: ServerRequest) => reply(200, request.target, ["content-type", "text/plain"]);

interface JsonError {
  error: { code: string; message: string };
}

describe("keep-alive and pipelining", () => {
  test("several requests one after another on one connection", async () => {
    const seen: string[] = [];
    const server = startServer((request) => {
      seen.push(`${request.method} ${request.target} ${request.minor} ${request.headers.get("host")} ${request.remoteAddress}`);
      return echoTarget(request);
    });
    const raw = await RawClient.connect(server.port);
    for (const path of ["/one", "/two?x=1", "/three"]) {
      await raw.write(get(path));
      const response = await raw.readResponse();
      expect(response.status).toBe(200);
      expect(response.reason).toBe("OK");
      expect(response.version).toBe("HTTP/1.1");
      expect(response.body.toString("latin1")).toBe(path);
      expect(response.header("content-length")).toBe(String(path.length));
      expect(response.header("content-type")).toBe("text/plain");
      expect(response.header("connection")).toBeUndefined();
      expect(response.header("date")).toMatch(/GMT$/);
    }
    expect(raw.isClosed).toBe(false);
    expect(seen).toEqual(["GET /one 1 test 127.0.0.1", "GET /two?x=1 1 test 127.0.0.1", "GET /three 1 test 127.0.0.1"]);
    expect(server.pendingRequests).toBe(0);
  });

  test("pipelined requests are answered in order, even when later ones are ready first", async () => {
    const delays: Record<string, number> = { "/slow": 80, "/mid": 30, "/fast": 0 };
    const started: string[] = [];
    const server = startServer(async (request) => {
      started.push(request.target);
      const body = request.body === null ? "" : (await collect(request.body)).toString("latin1");
      await Bun.sleep(delays[request.target] ?? 0);
      return reply(200, `${request.target}:${body}`);
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/slow") + post("/mid", "posted body") + get("/fast") + get("/last"));
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push((await raw.readResponse()).body.toString("latin1"));
    expect(bodies).toEqual(["/slow:", "/mid:posted body", "/fast:", "/last:"]);
    expect(started).toEqual(["/slow", "/mid", "/fast", "/last"]);
    expect(raw.isClosed).toBe(false);
  });

  test("a burst of 20000 pipelined requests to a synchronous handler is answered whole and in order", async () => {
    // 20000 minimal requests are about 540 KB; one read of the socket takes up to 512 KB. Each
    // request answered synchronously must not leave frames on the stack for the next one.
    const internal: unknown[] = [];
    const server = startServer(echoTarget, { onInternalError: (error) => internal.push(error) });
    const raw = await RawClient.connect(server.port);
    const count = 20_000;
    let burst = "";
    for (let i = 0; i < count; i++) burst += `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`;
    await raw.write(burst);
    let answered = 0;
    try {
      for (; answered < count; answered++) {
        const response = await raw.readResponse("GET", 10_000);
        if (response.body.toString("latin1") !== `/${answered}`) throw new Error(`response ${answered} was for ${response.body.toString("latin1")}`);
      }
    } catch (error) {
      throw new Error(`after ${answered} answers: ${(error as Error).message.slice(0, 120)}; internal errors: ${internal.map(String).join("; ")}`);
    }
    expect(internal).toEqual([]);
    expect(raw.isClosed).toBe(false);
    expect(server.pendingRequests).toBe(0);
  });

  test("a burst of 2000 pipelined requests to an asynchronous handler is answered whole and in order", async () => {
    const server = startServer(async (request) => echoTarget(request));
    const raw = await RawClient.connect(server.port);
    const count = 2000;
    let burst = "";
    for (let i = 0; i < count; i++) burst += get(`/${i}`);
    await raw.write(burst);
    for (let i = 0; i < count; i++) {
      const response = await raw.readResponse("GET", 10_000);
      if (response.body.toString("latin1") !== `/${i}`) throw new Error(`response ${i} was for ${response.body.toString("latin1")}`);
    }
    expect(server.pendingRequests).toBe(0);
  });

  test("an HTTP/1.0 client without keep-alive gets connection: close and the server closes", async () => {
    const server = startServer(echoTarget);
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/old", "", "1.0"));
    const response = await raw.readResponse();
    expect(response.status).toBe(200);
    expect(response.version).toBe("HTTP/1.1");
    expect(response.header("connection")).toBe("close");
    expect(response.body.toString("latin1")).toBe("/old");
    await raw.waitForClose();
  });

  test("an HTTP/1.0 client asking for keep-alive gets it, and the connection carries a second request", async () => {
    const server = startServer(echoTarget);
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/a", "Connection: keep-alive\r\n", "1.0"));
    const first = await raw.readResponse();
    expect(first.header("connection")).toBe("keep-alive");
    expect(first.header("content-length")).toBe("2");
    await raw.write(get("/b", "Connection: keep-alive\r\n", "1.0"));
    expect((await raw.readResponse()).body.toString("latin1")).toBe("/b");
    expect(raw.isClosed).toBe(false);
  });

  test("an HTTP/1.1 request with Connection: close is answered with connection: close, then closed; nothing behind it is read", async () => {
    let calls = 0;
    const server = startServer((request) => {
      calls++;
      return echoTarget(request);
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/bye", "Connection: close\r\n") + get("/ignored"));
    const response = await raw.readResponse();
    expect(response.header("connection")).toBe("close");
    await raw.waitForClose();
    expect(raw.received.length).toBe(raw.offset);
    expect(calls).toBe(1);
  });
});

describe("request bodies", () => {
  test("a Content-Length body that came with the head is handed over as bytes", async () => {
    let body: unknown;
    const server = startServer((request) => {
      body = request.body;
      return reply(200, "ok");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(post("/p", "0123456789"));
    await raw.readResponse();
    expect(body).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(body as Uint8Array).toString("latin1")).toBe("0123456789");
  });

  test("a request without a body has body null", async () => {
    let body: unknown = "unset";
    const server = startServer((request) => {
      body = request.body;
      return reply(200, "ok");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/g") + "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    await raw.readResponse();
    expect(body).toBeNull();
    await raw.readResponse();
    expect(body).toBeNull();
  });

  test("a Content-Length body arriving in many small pieces streams to the handler whole", async () => {
    const data = patternBytes(1500, 3);
    const lengths: Array<number | undefined> = [];
    const server = startServer(async (request) => {
      const body = request.body;
      if (body !== null && !(body instanceof Uint8Array)) lengths.push(body.length);
      const whole = await readBody(body, 1 << 20);
      return reply(200, `${whole.byteLength} ${sha(whole)}`);
    });
    const raw = await RawClient.connect(server.port);
    // The head with the first bytes of the body, then the rest in small pieces.
    await raw.write(Buffer.concat([latin1(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${data.length}\r\n\r\n`), data.subarray(0, 100)]));
    await raw.writeInPieces(data.subarray(100), 13);
    expect((await raw.readResponse()).body.toString("latin1")).toBe(`${data.length} ${sha(data)}`);
    expect(lengths).toEqual([data.length]);
    // and the connection carries on
    await raw.write(post("/again", "xyz"));
    expect((await raw.readResponse()).body.toString("latin1")).toBe(`3 ${sha(latin1("xyz"))}`);
  });

  test("a chunked body with extensions and trailers, in small pieces, followed by a pipelined request", async () => {
    const server = startServer(async (request) => {
      const body = request.body === null ? "" : (await collect(request.body)).toString("latin1");
      const length = request.body !== null && !(request.body instanceof Uint8Array) ? String(request.body.length) : "-";
      return reply(200, `${request.target}|${length}|${body}`);
    });
    const raw = await RawClient.connect(server.port);
    const chunked = "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
    await raw.writeInPieces(chunked + get("/after"), 5);
    expect((await raw.readResponse()).body.toString("latin1")).toBe("/c|undefined|Wikipedia in\r\n\r\nchunks.");
    expect((await raw.readResponse()).body.toString("latin1")).toBe("/after|-|");
    expect(raw.isClosed).toBe(false);
  });

  test("a body over the handler's limit: 413 from BodyTooLargeError, connection: close", async () => {
    const server = startServer(async (request) => {
      await readBody(request.body, 100);
      return reply(200, "read");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    await raw.write(new Uint8Array(5000));
    const response = await raw.readResponse();
    expect(response.status).toBe(413);
    expect((JSON.parse(response.body.toString()) as JsonError).error.code).toBe("payload_too_large");
    expect(response.header("connection")).toBe("close");
    await raw.waitForClose();
  });

  test("a malformed chunked body arriving with the head: 400, connection closed, the handler never called", async () => {
    let calls = 0;
    const server = startServer(() => {
      calls++;
      return reply(200, "no");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n");
    const response = await raw.readResponse();
    expect(response.status).toBe(400);
    expect((JSON.parse(response.body.toString()) as JsonError).error.code).toBe("bad_request");
    expect(response.header("connection")).toBe("close");
    await raw.waitForClose();
    expect(calls).toBe(0);
    expect(server.pendingRequests).toBe(0);
  });

  test("a chunked body that turns malformed while the handler reads it: the body fails, 400 is answered, the connection closed", async () => {
    const bodyOutcome = deferred<unknown>();
    let answered = 0;
    const server = startServer(async (request) => {
      const outcome = await collect(request.body).then(
        (data) => data,
        (error: unknown) => error,
      );
      bodyOutcome.resolve(outcome);
      answered++;
      return reply(200, "handler's answer, too late");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    await waitUntil(() => server.pendingRequests === 1, "the handler reading");
    await sleep(10);
    await raw.write("ZZ\r\n");
    const response = await raw.readResponse();
    expect(response.status).toBe(400);
    expect(response.header("connection")).toBe("close");
    await raw.waitForClose();
    const outcome = await within(bodyOutcome.promise, 2000, "the body failing");
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toContain("chunked");
    await waitUntil(() => answered === 1 && server.pendingRequests === 0, "the handler done, nothing pending");
    expect(raw.receivedText).not.toContain("too late");
  });

  test("a chunked body turning malformed while a streamed answer is being written: no second status line inside the answer", async () => {
    const source = new PushSource();
    const server = startServer(() => {
      void source.piped.promise.then(() => source.push("streaming answer;"));
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    await raw.waitFor((b) => b.toString("latin1").includes("streaming answer;"), "the answer under way");
    await raw.write("ZZ\r\n");
    await raw.waitForClose();
    // The answer's head is out: a status can no longer be given, only the connection cut.
    expect(raw.receivedText.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 200"]);
    expect(source.cancelled).toBeInstanceOf(Error);
    expect(server.pendingRequests).toBe(0);
  });

  test("a handler that does not read its body pauses the socket instead of buffering the body", async () => {
    const size = 24 * 1024 * 1024;
    const sinkReady = deferred<{ sink: BodySink; resume: () => void; received: () => number; ended: Promise<void> }>();
    const server = startServer(async (request) => {
      const body = request.body;
      if (body === null || body instanceof Uint8Array) return reply(500, "expected a stream");
      let received = 0;
      const ended = deferred<void>();
      const sink: BodySink = {
        write(chunk) {
          received += chunk.byteLength;
          return false; // full until the test resumes it
        },
        end: () => ended.resolve(),
        fail: (error) => ended.reject(error),
      };
      body.pipe(sink);
      sinkReady.resolve({ sink, resume: () => body.resume(), received: () => received, ended: ended.promise });
      await ended.promise;
      return reply(200, `got ${received}`);
    });
    const raw = await RawClient.connect(server.port);
    const data = patternBytes(size, 9);
    raw.writeNoWait(`POST /slow-reader HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
    raw.writeNoWait(data);
    const handle = await within(sinkReady.promise, 5000, "the handler piping the body");
    await sleep(300);
    // The server stopped reading: most of the body is still with the client (or the kernel).
    expect(handle.received()).toBeLessThan(size / 2);
    expect(raw.socket.writableLength).toBeGreaterThan(0);
    // Resumed whenever asked, it all arrives.
    const pump = setInterval(handle.resume, 1);
    try {
      await within(handle.ended, 10_000, "the whole body");
    } finally {
      clearInterval(pump);
    }
    expect((await raw.readResponse()).body.toString()).toBe(`got ${size}`);
  });
});

describe("answers", () => {
  test("a streamed body of unknown length goes chunked to an HTTP/1.1 client, and the connection carries on", async () => {
    const server = startServer((request) => {
      if (request.target === "/plain") return reply(200, "plain");
      const source = new PushSource();
      void (async () => {
        await source.piped.promise;
        for (const part of ["first ", "second ", "third"]) {
          source.push(part);
          await Bun.sleep(5);
        }
        source.end();
      })();
      return { status: 200, headers: new Fields(["content-type", "text/event-stream"]), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/stream"));
    const response = await raw.readResponse();
    expect(response.header("transfer-encoding")).toBe("chunked");
    expect(response.header("content-length")).toBeUndefined();
    expect(response.body.toString("latin1")).toBe("first second third");
    await raw.write(get("/plain"));
    expect((await raw.readResponse()).body.toString("latin1")).toBe("plain");
  });

  test("the first part of a streamed body reaches the client before the rest exists", async () => {
    const release = deferred<void>();
    const server = startServer(() => {
      const source = new PushSource();
      void source.piped.promise.then(async () => {
        source.push("event: one\n\n");
        await release.promise;
        source.push("event: two\n\n");
        source.end();
      });
      return { status: 200, headers: new Fields(["content-type", "text/event-stream"]), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/events"));
    await raw.waitFor((b) => b.toString("latin1").includes("event: one"), "the first event");
    expect(raw.receivedText).not.toContain("event: two");
    release.resolve();
    expect((await raw.readResponse()).body.toString("latin1")).toBe("event: one\n\nevent: two\n\n");
  });

  test("a streamed body of unknown length runs until close for an HTTP/1.0 client", async () => {
    const server = startServer(() => {
      const source = new PushSource();
      void source.piped.promise.then(async () => {
        source.push("part1,");
        await Bun.sleep(5);
        source.push("part2");
        source.end();
      });
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/s", "Connection: keep-alive\r\n", "1.0"));
    await raw.waitForClose();
    const parsed = parseRawResponse(raw.received, 0, "GET", true)!;
    expect(parsed.response.header("transfer-encoding")).toBeUndefined();
    expect(parsed.response.header("content-length")).toBeUndefined();
    expect(parsed.response.header("connection")).toBe("close");
    expect(parsed.response.body.toString("latin1")).toBe("part1,part2");
  });

  test("a streamed body of known length goes with Content-Length, not chunked", async () => {
    const server = startServer(() => {
      const source = new PushSource(10);
      void source.piped.promise.then(() => {
        source.push("01234");
        source.push("56789");
        source.end();
      });
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/known") + get("/known"));
    for (let i = 0; i < 2; i++) {
      const response = await raw.readResponse();
      expect(response.header("content-length")).toBe("10");
      expect(response.header("transfer-encoding")).toBeUndefined();
      expect(response.body.toString("latin1")).toBe("0123456789");
    }
  });

  test("an empty chunk in a streamed body does not end the chunked answer early", async () => {
    const server = startServer(() => {
      const source = new PushSource();
      void source.piped.promise.then(() => {
        source.push("a");
        source.push(new Uint8Array(0));
        source.push("b");
        source.end();
      });
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/e") + get("/e"));
    expect((await raw.readResponse()).body.toString("latin1")).toBe("ab");
    expect((await raw.readResponse()).body.toString("latin1")).toBe("ab");
  });

  test("framing fields from the handler are the server's to write; other fields keep their order; a Date given is kept", async () => {
    const server = startServer(() =>
      reply(201, "hello", [
        "x-first",
        "1",
        "content-length",
        "999",
        "transfer-encoding",
        "chunked",
        "connection",
        "keep-alive, x-first",
        "keep-alive",
        "timeout=5",
        "date",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "x-last",
        "2",
      ]),
    );
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/f"));
    const response = await raw.readResponse();
    expect(response.status).toBe(201);
    expect(response.reason).toBe("Created");
    expect(response.all("content-length")).toEqual(["5"]);
    expect(response.header("transfer-encoding")).toBeUndefined();
    expect(response.header("connection")).toBeUndefined();
    expect(response.header("keep-alive")).toBeUndefined();
    expect(response.all("date")).toEqual(["Thu, 01 Jan 1970 00:00:00 GMT"]);
    expect(response.headers.map(([name]) => name)).toEqual(["x-first", "date", "x-last", "content-length"]);
    expect(response.body.toString("latin1")).toBe("hello");
  });

  test("a status without a known reason phrase is sent with an empty one", async () => {
    const server = startServer(() => reply(299, "odd"));
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/"));
    await raw.waitFor((b) => b.includes("\r\n\r\n"), "the head");
    expect(raw.receivedText.startsWith("HTTP/1.1 299 \r\n")).toBe(true);
  });

  test("a large byte body (beyond the coalescing size) arrives whole", async () => {
    const data = patternBytes(300_000, 5);
    const server = startServer(() => ({ status: 200, headers: new Fields(), body: data }));
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/big") + get("/big"));
    for (let i = 0; i < 2; i++) expect((await raw.readResponse()).body.equals(data)).toBe(true);
  });

  test("HEAD is answered without a body, with the Content-Length the handler gave; the connection carries on", async () => {
    const server = startServer((request) => reply(200, "hello", request.method === "HEAD" ? ["content-length", "5", "etag", '"x"'] : ["etag", '"x"']));
    const raw = await RawClient.connect(server.port);
    await raw.write("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + get("/h"));
    const head = await raw.readResponse("HEAD");
    expect(head.status).toBe(200);
    expect(head.header("content-length")).toBe("5");
    expect(head.header("transfer-encoding")).toBeUndefined();
    const next = await raw.readResponse();
    expect(next.status).toBe(200);
    expect(next.body.toString("latin1")).toBe("hello");
    expect(raw.received.length).toBe(raw.offset);
  });

  test("HEAD with a streamed body from the handler: the stream is cancelled, nothing is sent", async () => {
    const source = new PushSource();
    const server = startServer((request) => (request.method === "HEAD" ? { status: 200, headers: new Fields(), body: source } : reply(200, "after")));
    const raw = await RawClient.connect(server.port);
    await raw.write("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + get("/next"));
    const head = await raw.readResponse("HEAD");
    expect(head.header("transfer-encoding")).toBeUndefined();
    expect((await raw.readResponse()).body.toString("latin1")).toBe("after");
    expect(source.cancelled).toBeInstanceOf(Error);
    expect(source.sink).toBeUndefined();
  });

  test("204 and 304 carry no body; 304 keeps the Content-Length the full answer would have", async () => {
    const server = startServer((request) => (request.target === "/204" ? reply(204, "ignored") : request.target === "/304" ? reply(304, "ignored", ["content-length", "7", "etag", '"v1"']) : reply(200, "tail")));
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/204") + get("/304") + get("/tail"));
    const noContent = await raw.readResponse();
    expect(noContent.status).toBe(204);
    expect(noContent.header("transfer-encoding")).toBeUndefined();
    const notModified = await raw.readResponse();
    expect(notModified.status).toBe(304);
    expect(notModified.header("content-length")).toBe("7");
    expect(notModified.header("etag")).toBe('"v1"');
    expect((await raw.readResponse()).body.toString("latin1")).toBe("tail");
  });

  test("a 204 answer carries no Content-Length, even when the handler passes one on (RFC 9110 §8.6: MUST NOT)", async () => {
    // A proxied 204 comes back from the client with its fields, Content-Length included.
    const server = startServer(() => reply(204, null, ["content-length", "0"]));
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/204"));
    const response = await raw.readResponse();
    expect(response.status).toBe(204);
    expect(response.header("content-length")).toBeUndefined();
  });

  test("Expect: 100-continue gets 'HTTP/1.1 100 Continue' before the body is sent, then the answer", async () => {
    const server = startServer(async (request) => reply(200, `got ${(await collect(request.body)).toString("latin1")}`));
    const raw = await RawClient.connect(server.port);
    await raw.write("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    await raw.waitFor((b) => b.includes("\r\n\r\n"), "the interim answer");
    expect(raw.receivedText).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    raw.offset = raw.received.length;
    await raw.write("hello");
    const response = await raw.readResponse();
    expect(response.status).toBe(200);
    expect(response.body.toString("latin1")).toBe("got hello");
  });

  test("no 100 Continue when the body came with the head", async () => {
    const server = startServer(async (request) => reply(200, `got ${(await collect(request.body)).toString("latin1")}`));
    const raw = await RawClient.connect(server.port);
    await raw.write("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
    const response = await raw.readResponse();
    expect(response.status).toBe(200);
    expect(raw.receivedText).not.toContain("100 Continue");
  });

  test("an HTTP/1.0 request's Expect: 100-continue is ignored: no interim answer (RFC 9110 §10.1.1)", async () => {
    const server = startServer(async (request) => reply(200, `got ${(await collect(request.body)).toString("latin1")}`));
    const raw = await RawClient.connect(server.port);
    await raw.write("PUT /x HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    await sleep(100);
    await raw.write("hello");
    await raw.waitForClose();
    expect(raw.receivedText).not.toContain("100 Continue");
    expect(raw.receivedText.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
  });
});

describe("refusals", () => {
  const cases: Array<[string, string, number, string]> = [
    ["no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400, "bad_request"],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad_request"],
    ["Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_request"],
    ["conflicting Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, "bad_request"],
    ["a non-digit Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\n", 400, "bad_request"],
    ["a transfer coding we do not implement", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not_implemented"],
    ["a transfer coding without chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_request"],
    ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_request"],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400, "bad_request"],
    ["whitespace before a colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "bad_request"],
    ["a control character in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x07\r\n\r\n", 400, "bad_request"],
    ["a bare CR", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bad_request"],
    ["a bare LF inside the head", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, "bad_request"],
    ["a head of bare-LF lines", "GET / HTTP/1.1\nHost: a\n\n", 400, "bad_request"],
    ["a non-ASCII target", "GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http_version_not_supported"],
    ["the HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "http_version_not_supported"],
    ["not HTTP at all", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "bad_request"],
  ];

  test.each(cases)("%s: the JSON error answer, connection: close, and the connection closed", async (_, head, status, code) => {
    let calls = 0;
    const server = startServer(() => {
      calls++;
      return reply(200, "should not happen");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(head + get("/behind"));
    const response = await raw.readResponse();
    expect(response.status).toBe(status);
    expect(response.header("content-type")).toBe("application/json");
    expect(response.header("connection")).toBe("close");
    const json = JSON.parse(response.body.toString()) as JsonError;
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(0);
    await raw.waitForClose();
    expect(raw.received.length).toBe(raw.offset); // nothing for the request behind it
    expect(calls).toBe(0);
    expect(server.pendingRequests).toBe(0);
  });

  test("a head that grows past maxHeadBytes without ending is refused with 431", async () => {
    const server = startServer(() => reply(200, "no"), { maxHeadBytes: 1024 });
    const raw = await RawClient.connect(server.port);
    await raw.write(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"v".repeat(600)}\r\n`);
    await sleep(20);
    expect(raw.received.length).toBe(0); // still within the limit: waiting
    await raw.write(`X-Bigger: ${"v".repeat(600)}\r\n`);
    const response = await raw.readResponse();
    expect(response.status).toBe(431);
    expect((JSON.parse(response.body.toString()) as JsonError).error.code).toBe("head_too_large");
    await raw.waitForClose();
  });

  test("a whole head larger than maxHeadBytes is refused with 431; one within it passes", async () => {
    const server = startServer(() => reply(200, "fine"), { maxHeadBytes: 1024 });
    const raw = await RawClient.connect(server.port);
    await raw.write(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(900)}\r\n\r\n`);
    expect((await raw.readResponse()).status).toBe(200);
    await raw.write(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(1100)}\r\n\r\n`);
    expect((await raw.readResponse()).status).toBe(431);
    await raw.waitForClose();
  });

  test("more fields than maxFields is 431", async () => {
    const server = startServer(() => reply(200, "fine"), { maxFields: 3 });
    const raw = await RawClient.connect(server.port);
    await raw.write("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n");
    expect((await raw.readResponse()).status).toBe(200);
    await raw.write("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    const response = await raw.readResponse();
    expect(response.status).toBe(431);
    expect((JSON.parse(response.body.toString()) as JsonError).error.code).toBe("head_too_large");
  });

  test("a head arriving a byte at a time is parsed", async () => {
    const server = startServer(echoTarget);
    const raw = await RawClient.connect(server.port);
    await raw.writeInPieces(get("/trickle"), 1, 0);
    expect((await raw.readResponse()).body.toString("latin1")).toBe("/trickle");
  });
});

describe("streaming both ways", () => {
  test("a handler answering with the request body itself echoes a large body as it arrives", async () => {
    const data = patternBytes(3 * 1024 * 1024, 21);
    const server = startServer((request) => ({ status: 200, headers: new Fields(["content-type", "application/octet-stream"]), body: request.body }));
    const raw = await RawClient.connect(server.port);
    raw.writeNoWait(Buffer.concat([latin1(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${data.length}\r\n\r\n`), data]));
    const response = await raw.readResponse("POST", 15_000);
    expect(response.header("content-length")).toBe(String(data.length));
    expect(response.body.equals(data)).toBe(true);
  });

  test("a chunked request echoed back goes out chunked", async () => {
    const server = startServer((request) => ({ status: 200, headers: new Fields(), body: request.body }));
    const raw = await RawClient.connect(server.port);
    await raw.write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    await raw.waitFor((b) => b.toString("latin1").includes("first"), "the first chunk echoed before the body ends");
    await raw.write("7\r\n second\r\n0\r\n\r\n");
    const response = await raw.readResponse();
    expect(response.header("transfer-encoding")).toBe("chunked");
    expect(response.body.toString("latin1")).toBe("first second");
  });
});

describe("timeouts and internal errors", () => {
  test("a head trickling in for longer than the idle time is answered 408", async () => {
    const server = startServer(echoTarget, { idleTimeoutSeconds: 1 });
    const raw = await RawClient.connect(server.port);
    await raw.write("GET /slowloris HTTP/1.1\r\n");
    // The server answers 408 on its own once the time is up (checked once a second), whatever
    // more the client manages to send meanwhile.
    await sleep(1100);
    await raw.write("Host: a\r\n").catch(() => {});
    const response = await raw.readResponse();
    expect(response.status).toBe(408);
    expect((JSON.parse(response.body.toString()) as JsonError).error.code).toBe("request_timeout");
    await raw.waitForClose();
  });

  test("an exception while handling a socket event closes that connection and is reported; the server carries on", async () => {
    const internal: unknown[] = [];
    const broken = new Error("errorResponse is broken");
    const server = startServer(echoTarget, {
      errorResponse: () => {
        throw broken;
      },
      onInternalError: (error) => internal.push(error),
    });
    const raw = await RawClient.connect(server.port);
    await raw.write("GET / HTTP/1.1\r\n\r\n"); // no Host: refused, and building the refusal throws
    await raw.waitForClose();
    expect(internal).toEqual([broken]);
    const other = await RawClient.connect(server.port);
    await other.write(get("/still-serving"));
    expect((await other.readResponse()).body.toString("latin1")).toBe("/still-serving");
  });

  test("request.cancelled and onCancel tell the handler once that the client left", async () => {
    const told = deferred<void>();
    let calls = 0;
    let seen: ServerRequest | undefined;
    const server = startServer(async (request) => {
      seen = request;
      expect(request.cancelled).toBe(false);
      request.onCancel = () => {
        calls++;
        told.resolve();
      };
      await new Promise(() => {});
      return reply(200, "never");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/wait"));
    await waitUntil(() => seen !== undefined, "the handler");
    raw.destroy();
    await within(told.promise, 3000, "onCancel");
    expect(seen!.cancelled).toBe(true);
    expect((seen!.cancelReason as DOMException).name).toBe("AbortError");
    await sleep(20);
    expect(calls).toBe(1);
  });
});

describe("handler failures", () => {
  test("a handler that throws: 500 with the JSON error, onHandlerError told, the connection carries on", async () => {
    const errors: Array<[unknown, string]> = [];
    const boom = new Error("boom");
    const server = startServer(
      (request) => {
        if (request.target === "/throw") throw boom;
        return echoTarget(request);
      },
      { onHandlerError: (error, request) => errors.push([error, request.target]) },
    );
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/throw") + get("/fine"));
    const response = await raw.readResponse();
    expect(response.status).toBe(500);
    expect((JSON.parse(response.body.toString()) as JsonError).error.code).toBe("internal");
    expect(response.body.toString()).not.toContain("boom");
    expect(errors).toEqual([[boom, "/throw"]]);
    expect((await raw.readResponse()).body.toString("latin1")).toBe("/fine");
    expect(server.pendingRequests).toBe(0);
  });

  test("a handler that rejects: 500, onHandlerError told", async () => {
    const errors: unknown[] = [];
    const server = startServer(
      async () => {
        await Bun.sleep(1);
        throw new TypeError("async boom");
      },
      { onHandlerError: (error) => errors.push(error) },
    );
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/reject"));
    expect((await raw.readResponse()).status).toBe(500);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("async boom");
  });

  test("a streamed answer that breaks off mid-way: the connection is cut, the chunked body left unterminated", async () => {
    const server = startServer(() => {
      const source = new PushSource();
      void source.piped.promise.then(async () => {
        source.push("partial");
        await Bun.sleep(10);
        source.fail(new Error("upstream died"));
      });
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/breaks"));
    await raw.waitForClose();
    const text = raw.receivedText;
    expect(text).toContain("partial");
    expect(text.endsWith("0\r\n\r\n")).toBe(false);
    expect(parseRawResponse(raw.received, 0, "GET", false)).toBeUndefined();
    await waitUntil(() => server.pendingRequests === 0, "no pending request");
  });
});

describe("the client going away", () => {
  test("a client disconnecting mid-request aborts request.signal; the late answer is dropped", async () => {
    const aborted = deferred<unknown>();
    const answer = deferred<void>();
    const late = new PushSource();
    const server = startServer(async (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve(request.signal.reason));
      await answer.promise;
      return { status: 200, headers: new Fields(), body: late };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/wait"));
    await waitUntil(() => server.pendingRequests === 1, "the request under way");
    raw.destroy();
    const reason = await within(aborted.promise, 3000, "request.signal aborting");
    expect((reason as DOMException).name).toBe("AbortError");
    await waitUntil(() => server.pendingRequests === 0, "no pending request");
    answer.resolve();
    await waitUntil(() => late.cancelled !== undefined, "the late answer's body cancelled");
    expect(late.sink).toBeUndefined();
  });

  test("a signal read after the client left is already aborted", async () => {
    const left = deferred<void>();
    const seen = deferred<boolean>();
    const server = startServer(async (request) => {
      await left.promise;
      await Bun.sleep(50);
      seen.resolve(request.signal.aborted);
      return reply(200, "late");
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/x"));
    await waitUntil(() => server.pendingRequests === 1, "the request under way");
    raw.destroy();
    left.resolve();
    expect(await within(seen.promise, 3000, "the handler")).toBe(true);
  });

  test("a client going away during a streamed answer cancels the source", async () => {
    const source = new PushSource();
    const server = startServer(() => ({ status: 200, headers: new Fields(), body: source }));
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/stream"));
    await source.piped.promise;
    source.push("some");
    await raw.waitFor((b) => b.toString("latin1").includes("some"), "the first part");
    raw.destroy();
    await waitUntil(() => source.cancelled !== undefined, "the source cancelled");
    await waitUntil(() => server.pendingRequests === 0, "no pending request");
  });

  test("a client that half-closes after sending its request is treated as gone: the request is cancelled, as nginx does", async () => {
    // `printf 'GET / ...' | nc -N host port`: Bun keeps no half-open connections, so the FIN ends
    // the connection and the handler's request is cancelled (nginx: "client prematurely closed").
    let cancelled = false;
    const server = startServer(async (request) => {
      request.signal.addEventListener("abort", () => (cancelled = true));
      await Bun.sleep(50);
      return echoTarget(request);
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/half"));
    raw.endWriting();
    await raw.waitForClose();
    await waitUntil(() => cancelled, "the request's signal to abort");
    expect(parseRawResponse(raw.received, 0, "GET", true)).toBeUndefined();
  });
});

describe("backpressure on answers", () => {
  test("a client that does not read: the streamed source is told to wait instead of the server buffering it all", async () => {
    const chunk = patternBytes(256 * 1024, 11);
    const cap = 512 * 1024 * 1024;
    let pushed = 0;
    let pushedBeforeFull = -1;
    let finish: (() => void) | undefined;
    const source = new PushSource();
    const server = startServer(() => ({ status: 200, headers: new Fields(), body: source }));
    const raw = await RawClient.connect(server.port);
    raw.socket.pause();
    await raw.write(get("/firehose"));
    await source.piped.promise;
    // Push while the sink takes more.
    while (pushed < cap) {
      pushed += chunk.length;
      if (!source.push(chunk)) break;
    }
    pushedBeforeFull = pushed;
    expect(pushedBeforeFull).toBeLessThan(64 * 1024 * 1024);
    // Nothing resumes the source while the client does not read.
    await sleep(100);
    expect(source.resumes).toBe(0);
    // Now the client reads; each resume lets the source push on, for 16 MiB more in all.
    const target = pushed + 16 * 1024 * 1024;
    const done = (async () => {
      while (pushed < target) {
        await source.nextResume();
        while (pushed < target) {
          pushed += chunk.length;
          if (!source.push(chunk)) break;
        }
      }
      source.end();
    })();
    finish = () => raw.socket.resume();
    finish();
    await within(done, 15_000, "the source pushing everything");
    await raw.waitFor(() => parseRawResponse(raw.received, 0) !== undefined, "the whole answer", 15_000);
    const response = (await raw.readResponse("GET", 15_000)).body;
    expect(response.length).toBe(pushed);
    expect(response.subarray(0, chunk.length).equals(chunk)).toBe(true);
    expect(response.subarray(response.length - chunk.length).equals(chunk)).toBe(true);
    expect(source.resumes).toBeGreaterThan(0);
  });
});

describe("declared lengths of streamed answers", () => {
  test("a streamed answer shorter than its declared length does not leave the connection open as if it were whole", async () => {
    const server = startServer(() => {
      const source = new PushSource(10);
      void source.piped.promise.then(() => {
        source.push("short");
        source.end();
      });
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/short"));
    await raw.waitFor((b) => b.toString("latin1").includes("short"), "the five bytes");
    // The client still waits for 5 bytes that will never come; the only honest thing left is to close.
    await raw.waitForClose(2000);
  });

  test("a streamed answer longer than its declared length: nothing past it is sent as if it were the next answer", async () => {
    const server = startServer((request) => {
      if (request.target !== "/long") return reply(200, "second");
      const source = new PushSource(3);
      void source.piped.promise.then(() => {
        source.push("abcHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled");
        source.end();
      });
      return { status: 200, headers: new Fields(), body: source };
    });
    const raw = await RawClient.connect(server.port);
    await raw.write(get("/long"));
    const first = await raw.readResponse();
    expect(first.body.toString("latin1")).toBe("abc");
    await raw.write(get("/next"));
    await sleep(100);
    // Whatever the server does (cut the connection, or drop the excess), the next bytes on the
    // wire must not be an answer the server never gave.
    expect(raw.received.subarray(raw.offset).toString("latin1")).not.toContain("smuggled");
  });
});

describe("stop and pendingRequests", () => {
  test("stop(false): idle connections close at once, an in-flight request finishes with connection: close, then it resolves", async () => {
    const release = deferred<void>();
    const server = startServer(async (request) => {
      if (request.target === "/slow") await release.promise;
      return echoTarget(request);
    });
    const idle = await RawClient.connect(server.port);
    await idle.write(get("/quick"));
    await idle.readResponse();
    const busy = await RawClient.connect(server.port);
    await busy.write(get("/slow"));
    await waitUntil(() => server.pendingRequests === 1, "the slow request under way");

    let stopped = false;
    const stopping = server.stop(false).then(() => {
      stopped = true;
    });
    await idle.waitForClose();
    expect(idle.received.length).toBe(idle.offset); // closed without another word
    // New connections are refused.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port: server.port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", () => resolve(true));
    });
    expect(refused).toBe(true);
    await sleep(30);
    expect(stopped).toBe(false);
    expect(server.pendingRequests).toBe(1);

    release.resolve();
    const response = await busy.readResponse();
    expect(response.status).toBe(200);
    expect(response.body.toString("latin1")).toBe("/slow");
    expect(response.header("connection")).toBe("close");
    await busy.waitForClose();
    await within(stopping, 5000, "stop(false) resolving");
    expect(server.pendingRequests).toBe(0);
  });

  test("stop(true) cuts everything now: the in-flight request gets no answer and its signal aborts", async () => {
    const aborted = deferred<void>();
    const server = startServer(async (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      await new Promise(() => {});
      return reply(200, "never");
    });
    const busy = await RawClient.connect(server.port);
    const idle = await RawClient.connect(server.port);
    await busy.write(get("/hang"));
    await waitUntil(() => server.pendingRequests === 1, "the request under way");
    await within(server.stop(true), 5000, "stop(true) resolving");
    await busy.waitForClose();
    await idle.waitForClose();
    expect(busy.received.length).toBe(0);
    await within(aborted.promise, 2000, "request.signal aborting");
    expect(server.pendingRequests).toBe(0);
  });

  test("closeAfterEachResponse: still accepting, each answer says connection: close and its connection closes; an idle one stays open until it is used", async () => {
    const server = startServer(echoTarget);
    const used = await RawClient.connect(server.port);
    await used.write(get("/before"));
    expect((await used.readResponse()).header("connection")).toBeUndefined();
    const idle = await RawClient.connect(server.port);
    await idle.write(get("/before"));
    await idle.readResponse();

    server.closeAfterEachResponse();
    // A connection that was already open gets its next answer whole, told to close.
    await used.write(get("/during"));
    const answer = await used.readResponse();
    expect(answer.status).toBe(200);
    expect(answer.body.toString("latin1")).toBe("/during");
    expect(answer.header("connection")).toBe("close");
    await used.waitForClose();
    // New connections are still accepted, and answered the same way.
    const fresh = await RawClient.connect(server.port);
    await fresh.write(get("/fresh"));
    expect((await fresh.readResponse()).header("connection")).toBe("close");
    await fresh.waitForClose();
    // The idle connection was not closed under a request the client could be sending.
    await sleep(50);
    expect(idle.isClosed).toBe(false);
    await idle.write(get("/late"));
    expect((await idle.readResponse()).body.toString("latin1")).toBe("/late");
    await idle.waitForClose();
    await within(server.stop(false), 2000, "stop(false)");
  });

  test("stop(false) with no connections resolves at once", async () => {
    const server = startServer(echoTarget);
    await within(server.stop(false), 1000, "stop(false)");
  });

  test("stop(false) followed by stop(true): both promises resolve", async () => {
    const server = startServer(() => new Promise(() => {}));
    const busy = await RawClient.connect(server.port);
    await busy.write(get("/hang"));
    await waitUntil(() => server.pendingRequests === 1, "the request under way");
    const graceful = server.stop(false);
    const forced = server.stop(true);
    await within(forced, 3000, "stop(true)");
    await within(graceful, 3000, "the earlier stop(false)");
  });

  test("stop(false) called twice: both promises resolve once the last connection is gone", async () => {
    const release = deferred<void>();
    const server = startServer(async (request) => {
      await release.promise;
      return echoTarget(request);
    });
    const busy = await RawClient.connect(server.port);
    await busy.write(get("/slow"));
    await waitUntil(() => server.pendingRequests === 1, "the request under way");
    const first = server.stop(false);
    const second = server.stop(false);
    release.resolve();
    expect((await busy.readResponse()).header("connection")).toBe("close");
    await within(second, 3000, "the second stop(false)");
    await within(first, 3000, "the first stop(false)");
  });

  test("pendingRequests counts requests received and not yet answered, across connections", async () => {
    const releases: Array<() => void> = [];
    const server = startServer(async (request) => {
      await new Promise<void>((resolve) => releases.push(resolve));
      return echoTarget(request);
    });
    expect(server.pendingRequests).toBe(0);
    const a = await RawClient.connect(server.port);
    const b = await RawClient.connect(server.port);
    await a.write(get("/a"));
    await b.write(get("/b"));
    await waitUntil(() => server.pendingRequests === 2, "two pending");
    releases[0]!();
    await waitUntil(() => server.pendingRequests === 1, "one pending");
    releases[1]!();
    await waitUntil(() => server.pendingRequests === 0, "none pending");
    expect((await a.readResponse()).status).toBe(200);
    expect((await b.readResponse()).status).toBe(200);
  });

  test("the port is a real listening port, given back when port 0 was asked", async () => {
    const server = startServer(echoTarget);
    expect(server.port).toBeGreaterThan(0);
    await server.stop(true);
    // After a forced stop nothing listens there any more.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port: server.port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  test("listening on a port in use throws", () => {
    const first = startServer(echoTarget);
    expect(() => startServer(echoTarget, { port: first.port })).toThrow();
  });
});
