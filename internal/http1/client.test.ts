import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BodyError, type Body, type BodySource } from "./body.ts";
import { ClientError, HttpClient, originOf, type CancelLink, type ClientOptions, type ClientRequest } from "./client.ts";
import { Fields } from "./fields.ts";
import { PushSource, RawClient, RawServer, RecordingSink, bodyText, closedPort, collect, deferred, latin1, onCleanup, patternBytes, reply, runCleanups, sleep, startServer, waitUntil, within } from "./test-support.ts";

afterEach(runCleanups);

function client(options: ClientOptions = {}): HttpClient {
  const c = new HttpClient(options);
  onCleanup(() => c.close());
  return c;
}

function req(method: string, target: string, body: Body = null, headers: string[] = []): ClientRequest {
  return { method, target, headers: new Fields(headers.slice()), body };
}

const ok = (body: string, extra = "") => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

/** The rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("originOf", () => {
  test("host, port, tls, Host value and pool key from a URL; the path is ignored", () => {
    expect(originOf("http://example.com/some/path?q")).toEqual({ hostname: "example.com", port: 80, tls: false, host: "example.com", key: "http://example.com" });
    expect(originOf("https://example.com")).toMatchObject({ port: 443, tls: true, key: "https://example.com" });
    expect(originOf("http://127.0.0.1:8080/x")).toMatchObject({ hostname: "127.0.0.1", port: 8080, host: "127.0.0.1:8080", key: "http://127.0.0.1:8080" });
    expect(originOf("http://[::1]:9000/")).toMatchObject({ hostname: "::1", port: 9000, host: "[::1]:9000" });
    expect(originOf("http://example.com:80/")).toMatchObject({ port: 80, host: "example.com" });
  });

  test("the same string gives the same object; other schemes are refused", () => {
    expect(originOf("http://a.test:1/")).toBe(originOf("http://a.test:1/"));
    expect(() => originOf("ftp://example.com/")).toThrow(TypeError);
    expect(() => originOf("not a url")).toThrow();
  });
});

describe("keep-alive", () => {
  test("a second request goes on the same connection, which waits in the pool between", async () => {
    const upstream = new RawServer((peer, request) => peer.write(ok(`you asked ${request.target}`)));
    const c = client();
    const origin = originOf(upstream.url);
    const first = await c.request(origin, req("GET", "/one"));
    expect(first.status).toBe(200);
    expect(first.body).toBeInstanceOf(Uint8Array);
    expect(await bodyText(first.body)).toBe("you asked /one");
    expect(c.idleConnections).toBe(1);
    const second = await c.request(origin, req("GET", "/two"));
    expect(await bodyText(second.body)).toBe("you asked /two");
    expect(upstream.peers).toHaveLength(1);
    expect(upstream.requests.map(({ request }) => request.target)).toEqual(["/one", "/two"]);
    expect(c.idleConnections).toBe(1);
  });

  test("the request head: the caller's fields in order, Host added once, framing fields the client's own", async () => {
    const upstream = new RawServer((peer) => peer.write(ok("")));
    const c = client();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/a?b=1", null, ["x-first", "1", "connection", "close", "transfer-encoding", "chunked", "content-length", "99", "keep-alive", "x", "x-last", "2"]));
    await c.request(origin, req("POST", "/p", latin1("hello"), ["host", "custom.example"]));
    await c.request(origin, req("DELETE", "/d"));
    const heads = upstream.requests.map(({ request }) => request.head);
    expect(heads[0]).toBe(`GET /a?b=1 HTTP/1.1\r\nx-first: 1\r\nx-last: 2\r\nhost: 127.0.0.1:${upstream.port}`);
    expect(heads[1]).toBe("POST /p HTTP/1.1\r\nhost: custom.example\r\ncontent-length: 5");
    expect(upstream.requests[1]!.request.body).toBe("hello");
    expect(heads[2]).toBe(`DELETE /d HTTP/1.1\r\nhost: 127.0.0.1:${upstream.port}\r\ncontent-length: 0`);
    expect(upstream.peers).toHaveLength(1);
  });

  test("concurrent requests use separate connections; the pool keeps at most maxIdlePerOrigin", async () => {
    const upstream = new RawServer((peer, request) => {
      setTimeout(() => peer.write(ok(request.target)), 20);
    });
    const c = client({ maxIdlePerOrigin: 2 });
    const origin = originOf(upstream.url);
    const responses = await Promise.all(["/1", "/2", "/3"].map((target) => c.request(origin, req("GET", target))));
    expect(await Promise.all(responses.map((r) => bodyText(r.body)))).toEqual(["/1", "/2", "/3"]);
    expect(upstream.peers).toHaveLength(3);
    expect(c.idleConnections).toBe(2);
    await waitUntil(() => upstream.peers.filter((p) => p.closed).length === 1, "the third connection closed");
  });

  test("a response saying Connection: close, or HTTP/1.0 without keep-alive, is not reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target === "/close") peer.write(ok("x", "connection: close\r\n"));
      else if (request.target === "/old") peer.write("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\ny");
      else peer.write("HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\nz");
    });
    const c = client();
    const origin = originOf(upstream.url);
    expect(await bodyText((await c.request(origin, req("GET", "/close"))).body)).toBe("x");
    expect(c.idleConnections).toBe(0);
    expect(await bodyText((await c.request(origin, req("GET", "/old"))).body)).toBe("y");
    expect(c.idleConnections).toBe(0);
    expect(await bodyText((await c.request(origin, req("GET", "/old-keep-alive"))).body)).toBe("z");
    expect(c.idleConnections).toBe(1);
    expect(upstream.peers).toHaveLength(3);
  });

  test("close() closes every idle connection and refuses new requests", async () => {
    const upstream = new RawServer((peer, request) => {
      setTimeout(() => peer.write(ok(request.target)), 20);
    });
    const c = client();
    const origin = originOf(upstream.url);
    await Promise.all(["/1", "/2", "/3", "/4"].map((target) => c.request(origin, req("GET", target))));
    expect(c.idleConnections).toBe(4);
    c.close();
    expect(c.idleConnections).toBe(0);
    await waitUntil(() => upstream.peers.every((p) => p.closed), () => `every connection closed (closed: ${upstream.peers.map((p) => p.closed).join(",")})`, 2000);
    const error = await rejection(c.request(origin, req("GET", "/after")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("connect");
  });

  test("a connection the server closed while idle leaves the pool; the next request opens a new one", async () => {
    const upstream = new RawServer((peer, request) => {
      peer.write(ok(request.target));
      if (request.target === "/then-close") setTimeout(() => peer.end(), 10);
    });
    const c = client();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/then-close"));
    await waitUntil(() => c.idleConnections === 0, "the pool dropping the closed connection");
    expect(await bodyText((await c.request(origin, req("GET", "/fresh"))).body)).toBe("/fresh");
    expect(upstream.peers).toHaveLength(2);
  });

  test("bytes an idle connection receives unasked make it unusable", async () => {
    const upstream = new RawServer((peer, request) => {
      peer.write(ok(request.target));
      if (request.target === "/first") setTimeout(() => peer.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray"), 20);
    });
    const c = client();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/first"));
    await waitUntil(() => c.idleConnections === 0, "the connection dropped");
    expect(await bodyText((await c.request(origin, req("GET", "/second"))).body)).toBe("/second");
    expect(upstream.peers).toHaveLength(2);
  });
});

describe("response framing", () => {
  test("a body by length arriving after the head streams, then the connection is reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target !== "/pieces") return peer.write(ok("again"));
      peer.write("HTTP/1.1 200 OK\r\ncontent-length: 12\r\nx-kind: pieces\r\n\r\n");
      setTimeout(() => peer.write("hello "), 10);
      setTimeout(() => peer.write("world!"), 20);
    });
    const c = client();
    const origin = originOf(upstream.url);
    const response = await c.request(origin, req("GET", "/pieces"));
    expect(response.headers.get("x-kind")).toBe("pieces");
    expect(response.headers.has("content-length")).toBe(false);
    const body = response.body as BodySource;
    expect(body).not.toBeInstanceOf(Uint8Array);
    expect(body.length).toBe(12);
    expect(await bodyText(body)).toBe("hello world!");
    await waitUntil(() => c.idleConnections === 1, "back in the pool");
    expect(await bodyText((await c.request(origin, req("GET", "/x"))).body)).toBe("again");
    expect(upstream.peers).toHaveLength(1);
  });

  test("a chunked body in pieces, its framing fields removed, then the connection is reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target !== "/chunked") return peer.write(ok("again"));
      const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n\r\n5;ext\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n";
      let at = 0;
      const timer = setInterval(() => {
        peer.write(wire.slice(at, at + 7));
        at += 7;
        if (at >= wire.length) clearInterval(timer);
      }, 1);
      onCleanup(() => clearInterval(timer));
    });
    const c = client();
    const origin = originOf(upstream.url);
    const response = await c.request(origin, req("GET", "/chunked"));
    expect(response.headers.list).toEqual(["x-a", "1"]);
    expect((response.body as BodySource).length).toBeUndefined();
    expect(await bodyText(response.body)).toBe("hello world!");
    await waitUntil(() => c.idleConnections === 1, "back in the pool");
    expect(await bodyText((await c.request(origin, req("GET", "/x"))).body)).toBe("again");
    expect(upstream.peers).toHaveLength(1);
  });

  test("a body without a length runs until the server closes; that connection is not reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target !== "/until-close") return peer.write(ok("fresh"));
      peer.write("HTTP/1.1 200 OK\r\nx-kind: until-close\r\n\r\nstart,");
      setTimeout(() => peer.write("middle,"), 10);
      setTimeout(() => {
        peer.write("end");
        peer.end();
      }, 20);
    });
    const c = client();
    const origin = originOf(upstream.url);
    const response = await c.request(origin, req("GET", "/until-close"));
    expect(await bodyText(response.body)).toBe("start,middle,end");
    expect(c.idleConnections).toBe(0);
    expect(await bodyText((await c.request(origin, req("GET", "/next"))).body)).toBe("fresh");
    expect(upstream.peers).toHaveLength(2);
  });

  test("HEAD: no body, the Content-Length of the full answer kept; the connection carries on", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.method === "HEAD") peer.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\netag: \"e\"\r\n\r\n");
      else peer.write(ok("after head"));
    });
    const c = client();
    const origin = originOf(upstream.url);
    const response = await c.request(origin, req("HEAD", "/h"));
    expect(response.body).toBeNull();
    expect(response.headers.get("content-length")).toBe("100");
    expect(response.headers.get("etag")).toBe('"e"');
    expect(c.idleConnections).toBe(1);
    expect(await bodyText((await c.request(origin, req("GET", "/g"))).body)).toBe("after head");
    expect(upstream.peers).toHaveLength(1);
  });

  test("204 and 304: no body, whatever the fields say; the connection carries on", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target === "/204") peer.write("HTTP/1.1 204 No Content\r\nx: 1\r\n\r\n");
      else if (request.target === "/304") peer.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 42\r\netag: "v"\r\n\r\n');
      else peer.write(ok("last"));
    });
    const c = client();
    const origin = originOf(upstream.url);
    const noContent = await c.request(origin, req("GET", "/204"));
    expect(noContent.status).toBe(204);
    expect(noContent.body).toBeNull();
    const notModified = await c.request(origin, req("GET", "/304"));
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBeNull();
    expect(notModified.headers.get("content-length")).toBe("42");
    expect(await bodyText((await c.request(origin, req("GET", "/last"))).body)).toBe("last");
    expect(upstream.peers).toHaveLength(1);
  });

  test("interim 1xx answers are skipped, in the same packet or apart", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target === "/together") {
        peer.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n" + ok("final"));
      } else {
        peer.write("HTTP/1.1 100 Continue\r\n\r\n");
        setTimeout(() => peer.write(ok("final apart")), 20);
      }
    });
    const c = client();
    const origin = originOf(upstream.url);
    const together = await c.request(origin, req("POST", "/together", latin1("x")));
    expect(together.status).toBe(200);
    expect(together.headers.has("link")).toBe(false);
    expect(await bodyText(together.body)).toBe("final");
    const apart = await c.request(origin, req("POST", "/apart", latin1("y"), ["expect", "100-continue"]));
    expect(apart.status).toBe(200);
    expect(await bodyText(apart.body)).toBe("final apart");
    expect(upstream.peers).toHaveLength(1);
  });

  test("101 Switching Protocols is refused: ClientError reset", async () => {
    const upstream = new RawServer((peer) => peer.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"));
    const c = client();
    const error = await rejection(c.request(originOf(upstream.url), req("GET", "/ws", null, ["upgrade", "websocket"])));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("reset");
    expect(c.idleConnections).toBe(0);
    await waitUntil(() => upstream.peers[0]?.closed === true, "the connection closed");
  });

  test("a response with both Content-Length and chunked is read as chunked, and its connection not reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target === "/both") peer.write("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
      else peer.write(ok("new"));
    });
    const c = client();
    const origin = originOf(upstream.url);
    const response = await c.request(origin, req("GET", "/both"));
    expect(await bodyText(response.body)).toBe("hello");
    expect(response.headers.has("content-length")).toBe(false);
    expect(c.idleConnections).toBe(0);
    await c.request(origin, req("GET", "/next"));
    expect(upstream.peers).toHaveLength(2);
  });

  test("bytes beyond a length-framed response that came whole: its connection is not reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target === "/extra") peer.write(ok("ok") + "EXTRA");
      else peer.write(ok("new"));
    });
    const c = client();
    const origin = originOf(upstream.url);
    expect(await bodyText((await c.request(origin, req("GET", "/extra"))).body)).toBe("ok");
    expect(c.idleConnections).toBe(0);
    await c.request(origin, req("GET", "/next"));
    expect(upstream.peers).toHaveLength(2);
  });

  test("bytes beyond a chunked response: its connection is not reused", async () => {
    // client.ts marks the connection `reusable = false` when a body leaves bytes unread, but only
    // after feeding the body, and feeding the last bytes of the body already put the connection
    // back in the pool.
    const upstream = new RawServer((peer, request) => {
      if (request.target === "/extra") peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-le");
      else peer.write(ok("new"));
    });
    const c = client();
    const origin = originOf(upstream.url);
    expect(await bodyText((await c.request(origin, req("GET", "/extra"))).body)).toBe("ok");
    expect(c.idleConnections).toBe(0);
  });

  test("bytes beyond a length-framed body that arrived after its head: its connection is not reused", async () => {
    const upstream = new RawServer((peer, request) => {
      if (request.target !== "/extra") return peer.write(ok("new"));
      peer.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
      setTimeout(() => peer.write("okHTTP/1.1 200 OK\r\ncontent-le"), 20);
    });
    const c = client();
    const origin = originOf(upstream.url);
    expect(await bodyText((await c.request(origin, req("GET", "/extra"))).body)).toBe("ok");
    expect(c.idleConnections).toBe(0);
  });
});

describe("failures", () => {
  test("nothing listening: ClientError connect, with the cause", async () => {
    const c = client();
    const port = closedPort();
    const error = await rejection(c.request(originOf(`http://127.0.0.1:${port}`), req("GET", "/")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("connect");
    expect((error as ClientError).name).toBe("ClientError");
    expect((error as ClientError).message).toContain(String(port));
    expect(c.idleConnections).toBe(0);
  });

  test("the server closing mid-body: the response resolved, its body fails with BodyError", async () => {
    const upstream = new RawServer((peer) => {
      peer.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
      setTimeout(() => peer.end(), 20);
    });
    const c = client();
    const response = await c.request(originOf(upstream.url), req("GET", "/cut"));
    expect(response.status).toBe(200);
    const error = await rejection(collect(response.body));
    expect(error).toBeInstanceOf(BodyError);
    expect(c.idleConnections).toBe(0);
  });

  test("the server closing mid-chunked-body: the body fails", async () => {
    const upstream = new RawServer((peer) => {
      peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
      setTimeout(() => peer.end(), 20);
    });
    const c = client();
    const response = await c.request(originOf(upstream.url), req("GET", "/cut"));
    expect(await rejection(collect(response.body))).toBeInstanceOf(BodyError);
  });

  test("a malformed chunked body: the body fails and the connection is closed", async () => {
    const upstream = new RawServer((peer) => peer.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhelloXX"));
    const c = client();
    const response = await c.request(originOf(upstream.url), req("GET", "/bad"));
    expect(await rejection(collect(response.body))).toBeInstanceOf(Error);
    await waitUntil(() => upstream.peers[0]?.closed === true, "the connection closed");
    expect(c.idleConnections).toBe(0);
  });

  test("the server closing a new connection before answering: ClientError reset, not retried", async () => {
    const upstream = new RawServer((peer) => peer.end());
    const c = client();
    const error = await rejection(c.request(originOf(upstream.url), req("GET", "/")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("reset");
    expect(upstream.peers).toHaveLength(1);
  });

  test.each([
    ["garbage", "this is not http\r\n\r\n"],
    ["whitespace before a colon", "HTTP/1.1 200 OK\r\nx : y\r\ncontent-length: 0\r\n\r\n"],
    ["a bare LF in a value", "HTTP/1.1 200 OK\r\nx: a\nb\r\ncontent-length: 0\r\n\r\n"],
    ["conflicting lengths", "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"],
    ["HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"],
    ["a bad status", "HTTP/1.1 2x0 OK\r\n\r\n"],
  ])("a malformed response (%s): ClientError reset, connection closed", async (_, wire) => {
    const upstream = new RawServer((peer) => peer.write(wire));
    const c = client();
    const error = await rejection(c.request(originOf(upstream.url), req("GET", "/")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("reset");
    await waitUntil(() => upstream.peers[0]?.closed === true, "the connection closed");
  });

  test("a response head larger than maxHeadBytes: ClientError reset", async () => {
    const upstream = new RawServer((peer) => peer.write(`HTTP/1.1 200 OK\r\nx-big: ${"v".repeat(3000)}\r\n`));
    const c = client({ maxHeadBytes: 1024 });
    const error = await rejection(c.request(originOf(upstream.url), req("GET", "/")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("reset");
  });

  test("a response head arriving a byte at a time is read", async () => {
    const upstream = new RawServer((peer) => {
      const wire = ok("slowly");
      let at = 0;
      const timer = setInterval(() => {
        peer.write(wire.slice(at, at + 1));
        if (++at >= wire.length) clearInterval(timer);
      }, 1);
      onCleanup(() => clearInterval(timer));
    });
    const c = client();
    expect(await bodyText((await c.request(originOf(upstream.url), req("GET", "/"))).body)).toBe("slowly");
  });
});

describe("retrying a request on a reused connection", () => {
  test("the server closed the reused idle connection as it was used: sent again on a new one, transparently", async () => {
    const upstream = new RawServer((peer, request, index) => {
      if (index === 1) peer.end(); // the second request, on the first connection: closed unanswered
      else peer.write(ok(`${request.method} ${request.target} ${request.body}`));
    });
    const c = client();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/first"));
    const response = await c.request(origin, req("PUT", "/again", latin1("replayable bytes")));
    expect(response.status).toBe(200);
    expect(await bodyText(response.body)).toBe("PUT /again replayable bytes");
    expect(upstream.peers).toHaveLength(2);
    expect(upstream.requests.map(({ peer }) => peer.id)).toEqual([0, 0, 1]);
  });

  test("a streamed request body cannot be sent twice: the reset is the caller's", async () => {
    const upstream = new RawServer((peer, request, index) => {
      if (index === 1) peer.end();
      else peer.write(ok(request.target));
    });
    // The raw server reads a chunked body only once it is whole, so the source ends at once.
    const c = client();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/first"));
    const source = new PushSource();
    const sending = c.request(origin, req("POST", "/stream", source));
    await source.piped.promise;
    source.push("data");
    source.end();
    const error = await rejection(sending);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("reset");
    expect(upstream.peers).toHaveLength(1);
  });

  test("an answer that had begun is not retried", async () => {
    const upstream = new RawServer((peer, _request, index) => {
      if (index === 1) {
        peer.write("HTTP/1.1 200 OK\r\ncontent-");
        setTimeout(() => peer.end(), 10);
      } else peer.write(ok("fine"));
    });
    const c = client();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/first"));
    const error = await rejection(c.request(origin, req("GET", "/second")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("reset");
    expect(upstream.peers).toHaveLength(1);
  });
});

describe("aborting", () => {
  test("abort before the head: rejects with the signal's reason, the connection is closed", async () => {
    const upstream = new RawServer(() => {}); // never answers
    const c = client();
    const controller = new AbortController();
    const sending = c.request(originOf(upstream.url), req("GET", "/hang"), controller.signal);
    await waitUntil(() => upstream.requests.length === 1, "the request at the server");
    const reason = new Error("caller gave up");
    controller.abort(reason);
    expect(await rejection(sending)).toBe(reason);
    await waitUntil(() => upstream.peers[0]?.closed === true, "the connection closed");
    expect(c.idleConnections).toBe(0);
  });

  test("an already aborted signal rejects with its reason without connecting", async () => {
    const upstream = new RawServer(() => {});
    const c = client();
    const reason = new Error("too late");
    expect(await rejection(c.request(originOf(upstream.url), req("GET", "/"), AbortSignal.abort(reason)))).toBe(reason);
    await sleep(20);
    expect(upstream.peers).toHaveLength(0);
  });

  test("abort while connecting rejects with the reason", async () => {
    const upstream = new RawServer(() => {});
    const c = client();
    const controller = new AbortController();
    const reason = new Error("abort during connect");
    const sending = c.request(originOf(upstream.url), req("GET", "/"), controller.signal);
    controller.abort(reason);
    expect(await rejection(sending)).toBe(reason);
  });

  test("a signal that aborts after the exchange is over does nothing to the pooled connection", async () => {
    const upstream = new RawServer((peer) => peer.write(ok("done")));
    const c = client();
    const controller = new AbortController();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/"), controller.signal);
    controller.abort(new Error("late"));
    expect(c.idleConnections).toBe(1);
    expect(await bodyText((await c.request(origin, req("GET", "/"))).body)).toBe("done");
    expect(upstream.peers).toHaveLength(1);
  });
});

/** A CancelLink as a server request provides one. */
class Link implements CancelLink {
  cancelled = false;
  readonly cancelReason: unknown = new Error("the caller of the link went away");
  onCancel: (() => void) | undefined = undefined;

  cancel(): void {
    this.cancelled = true;
    const onCancel = this.onCancel;
    this.onCancel = undefined;
    onCancel?.();
  }
}

describe("cancelling through a CancelLink", () => {
  test("cancelled before the head: rejects with its cancelReason, the connection is closed", async () => {
    const upstream = new RawServer(() => {});
    const c = client();
    const link = new Link();
    const sending = c.request(originOf(upstream.url), req("GET", "/hang"), link);
    await waitUntil(() => upstream.requests.length === 1, "the request at the server");
    expect(link.onCancel).toBeFunction();
    link.cancel();
    expect(await rejection(sending)).toBe(link.cancelReason);
    await waitUntil(() => upstream.peers[0]?.closed === true, "the connection closed");
    expect(c.idleConnections).toBe(0);
  });

  test("already cancelled: rejects with its reason without connecting", async () => {
    const upstream = new RawServer(() => {});
    const c = client();
    const link = new Link();
    link.cancelled = true;
    expect(await rejection(c.request(originOf(upstream.url), req("GET", "/"), link))).toBe(link.cancelReason);
    await sleep(20);
    expect(upstream.peers).toHaveLength(0);
  });

  test("once answered, the link is let go: a later cancel does nothing to the pooled connection", async () => {
    const upstream = new RawServer((peer) => peer.write(ok("done")));
    const c = client();
    const link = new Link();
    const origin = originOf(upstream.url);
    await c.request(origin, req("GET", "/"), link);
    expect(link.onCancel).toBeUndefined();
    link.cancel();
    expect(c.idleConnections).toBe(1);
    expect(await bodyText((await c.request(origin, req("GET", "/"))).body)).toBe("done");
    expect(upstream.peers).toHaveLength(1);
  });

  test("a proxy passing its server request as the link: the client leaving closes the upstream call", async () => {
    const upstream = new RawServer(() => {}); // never answers
    const c = client();
    const outcome = deferred<unknown>();
    const proxy = startServer(async (request) => {
      try {
        return await c.request(originOf(upstream.url), req("GET", request.target), request);
      } catch (error) {
        outcome.resolve(error);
        throw error;
      }
    });
    const raw = await RawClient.connect(proxy.port);
    await raw.write("GET /through HTTP/1.1\r\nHost: proxy\r\n\r\n");
    await waitUntil(() => upstream.requests.length === 1, "the request at the upstream");
    raw.destroy();
    const error = await within(outcome.promise, 3000, "the upstream call failing");
    expect((error as DOMException).name).toBe("AbortError");
    await waitUntil(() => upstream.peers[0]?.closed === true, "the upstream connection closed");
  });
});

describe("request bodies", () => {
  test("a source of unknown length is sent chunked; one of known length with Content-Length", async () => {
    const seen: Array<{ te: string | null; cl: string | null; body: string }> = [];
    const server = startServer(async (request) => {
      seen.push({ te: request.headers.get("transfer-encoding"), cl: request.headers.get("content-length"), body: await bodyText(request.body) });
      return reply(200, "stored");
    });
    const c = client();
    const origin = originOf(`http://127.0.0.1:${server.port}`);

    const unknown = new PushSource();
    const first = c.request(origin, req("POST", "/unknown", unknown));
    await unknown.piped.promise;
    for (const part of ["alpha ", "beta ", "", "gamma"]) {
      unknown.push(part);
      await Bun.sleep(2);
    }
    unknown.end();
    expect((await first).status).toBe(200);

    const known = new PushSource(11);
    const second = c.request(origin, req("POST", "/known", known));
    await known.piped.promise;
    known.push("hello ");
    known.push("world");
    known.end();
    expect(await bodyText((await second).body)).toBe("stored");

    expect(seen).toEqual([
      { te: "chunked", cl: null, body: "alpha beta gamma" },
      { te: null, cl: "11", body: "hello world" },
    ]);
    expect(c.idleConnections).toBe(1);
  });

  test("a streamed request body longer than its declared length is not sent past it (no second request smuggled upstream)", async () => {
    const upstream = new RawServer((peer, request) => peer.write(ok(request.target)));
    const c = client();
    const source = new PushSource(3);
    const sending = c.request(originOf(upstream.url), req("POST", "/declared-3", source));
    await source.piped.promise;
    source.push("abcGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n");
    source.end();
    await sending.catch(() => {});
    await sleep(100);
    expect(upstream.requests.map(({ request }) => request.target)).toEqual(["/declared-3"]);
  });

  test("a large byte body arrives whole", async () => {
    const data = patternBytes(2 * 1024 * 1024, 77);
    const server = startServer(async (request) => {
      const got = await collect(request.body);
      return reply(200, got.equals(data) ? "same" : `different (${got.length})`);
    });
    const c = client();
    const response = await c.request(originOf(`http://127.0.0.1:${server.port}`), req("PUT", "/big", data));
    expect(await bodyText(response.body)).toBe("same");
  });

  test("a request body that breaks off cuts the connection, so the upstream cannot take it for whole", async () => {
    const upstreamBody = deferred<unknown>();
    const server = startServer(async (request) => {
      upstreamBody.resolve(await collect(request.body).catch((e: unknown) => e));
      return reply(200, "no");
    });
    const c = client();
    const source = new PushSource();
    const sending = c.request(originOf(`http://127.0.0.1:${server.port}`), req("POST", "/", source));
    await source.piped.promise;
    source.push("half");
    await Bun.sleep(10);
    const cause = new BodyError("the caller went away");
    source.fail(cause);
    expect(await rejection(sending)).toBe(cause);
    expect(await within(upstreamBody.promise, 2000, "the upstream's view of the body")).toBeInstanceOf(Error);
  });

  test("an upstream answering before reading the body: the answer is delivered, the body still sent", async () => {
    const upstream = new RawServer(() => {});
    const c = client();
    const source = new PushSource();
    const sending = c.request(originOf(upstream.url), req("POST", "/early", source));
    await source.piped.promise;
    source.push("first part;");
    await waitUntil(() => upstream.peers[0]?.received().includes("first part;") === true, "the first part at the server");
    upstream.peers[0]!.write(ok("early"));
    const response = await sending;
    expect(await bodyText(response.body)).toBe("early");
    source.push("rest");
    source.end();
    await waitUntil(() => upstream.peers[0]!.received().endsWith("0\r\n\r\n"), "the whole body sent");
    await waitUntil(() => c.idleConnections === 1, "back in the pool once both halves are done");
  });
});

describe("against real servers", () => {
  test("Bun.serve: JSON, a streamed answer, keep-alive", async () => {
    const bunServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url);
        if (url.pathname === "/json") return Response.json({ hello: "world" });
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            for (let i = 0; i < 5; i++) {
              controller.enqueue(latin1(`part${i};`));
              await Bun.sleep(2);
            }
            controller.close();
          },
        });
        return new Response(stream, { headers: { "content-type": "text/plain" } });
      },
    });
    onCleanup(() => bunServer.stop(true));
    const c = client();
    const origin = originOf(`http://127.0.0.1:${bunServer.port}`);
    const json = await c.request(origin, req("GET", "/json"));
    expect(json.headers.get("content-type")).toContain("application/json");
    expect(JSON.parse(await bodyText(json.body))).toEqual({ hello: "world" });
    const streamed = await c.request(origin, req("GET", "/stream"));
    expect(await bodyText(streamed.body)).toBe("part0;part1;part2;part3;part4;");
    await waitUntil(() => c.idleConnections === 1, "back in the pool");
    const again = await c.request(origin, req("GET", "/json"));
    expect(again.status).toBe(200);
    await bodyText(again.body);
  });

  test("listenHttp1: many sequential requests on one pooled connection, a slow reader pausing the body", async () => {
    const big = patternBytes(4 * 1024 * 1024, 5);
    const server = startServer((request) => (request.target === "/big" ? reply(200, big) : reply(200, request.target)));
    const c = client();
    const origin = originOf(`http://127.0.0.1:${server.port}`);
    for (let i = 0; i < 50; i++) {
      const response = await c.request(origin, req("GET", `/n${i}`));
      expect(await bodyText(response.body)).toBe(`/n${i}`);
      expect(c.idleConnections).toBe(1);
    }
    const response = await c.request(origin, req("GET", "/big"));
    const body = response.body as BodySource;
    const sink = new RecordingSink();
    sink.answer = false;
    body.pipe(sink);
    await waitUntil(() => sink.chunks.length > 0, "the first bytes");
    await sleep(50);
    const whilePaused = sink.size;
    expect(whilePaused).toBeLessThan(big.length);
    sink.answer = true;
    body.resume();
    await within(sink.settled, 10_000, "the whole body");
    expect(sink.bytes.equals(big)).toBe(true);
    await waitUntil(() => c.idleConnections === 1, "back in the pool");
  });
});

describe("https origins", () => {
  // A self-signed certificate for localhost and 127.0.0.1, made for these tests only.
  const cert = readFileSync(join(import.meta.dir, "testdata", "localhost-cert.pem"), "utf8");
  const key = readFileSync(join(import.meta.dir, "testdata", "localhost-key.pem"), "utf8");

  function tlsServer() {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert, key }, fetch: (request) => new Response(`over tls ${new URL(request.url).pathname}`) });
    onCleanup(() => server.stop(true));
    return server;
  }

  test("a certificate the client does not trust is a connect failure that says so; nothing is sent", async () => {
    const server = tlsServer();
    const error = await rejection(client().request(originOf(`https://localhost:${server.port}`), req("GET", "/x")));
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).failure).toBe("connect");
    expect((error as ClientError).message).toContain("TLS handshake");
  });

  test("with the CA given, the request waits for the handshake and is answered; the connection is kept alive", async () => {
    const server = tlsServer();
    const c = client({ ca: cert });
    const origin = originOf(`https://localhost:${server.port}`);
    for (const path of ["/a", "/b"]) {
      const response = await c.request(origin, req("GET", path));
      expect(response.status).toBe(200);
      expect(await bodyText(response.body)).toBe(`over tls ${path}`);
    }
    expect(c.idleConnections).toBe(1);
  });
});
