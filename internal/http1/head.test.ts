import { describe, expect, test } from "bun:test";
import { HeadError, findHeadEnd, hasBareLfEnd, parseRequestHead, parseResponseHead, reasonPhrase, responseFraming, type RequestHead, type ResponseHead } from "./head.ts";

const LIMITS = { maxFields: 100 };

/** Parses a request head given as latin1 text (the head must end with CRLFCRLF). */
function request(head: string, maxFields = 100): RequestHead {
  const buf = Buffer.from(head, "latin1");
  const end = findHeadEnd(buf, 0);
  if (end < 0) throw new Error("test bug: no CRLFCRLF in the head");
  return parseRequestHead(buf, end, { maxFields });
}

function response(head: string): ResponseHead {
  const buf = Buffer.from(head, "latin1");
  const end = findHeadEnd(buf, 0);
  if (end < 0) throw new Error("test bug: no CRLFCRLF in the head");
  return parseResponseHead(buf, end, LIMITS);
}

/** The HeadError a parse throws (fails the test when it parses). */
function refusal(parse: () => unknown): HeadError {
  let result: unknown;
  try {
    result = parse();
  } catch (error) {
    expect(error).toBeInstanceOf(HeadError);
    return error as HeadError;
  }
  throw new Error(`expected a HeadError, but it parsed: ${JSON.stringify(result, (_, v: unknown) => (v instanceof Object && "list" in v ? (v as { list: unknown }).list : v))}`);
}

const refuseRequest = (head: string, maxFields = 100) => refusal(() => request(head, maxFields));
const refuseResponse = (head: string) => refusal(() => response(head));

describe("findHeadEnd and hasBareLfEnd", () => {
  test("the index just past CRLFCRLF, or -1; searching from an offset", () => {
    const buf = Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", "latin1");
    expect(findHeadEnd(buf, 0)).toBe(buf.length - 4);
    expect(findHeadEnd(buf, buf.length - 6)).toBe(-1);
    expect(findHeadEnd(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n", "latin1"), 0)).toBe(-1);
    expect(findHeadEnd(Buffer.from("\r\n\r\n", "latin1"), 0)).toBe(4);
    const two = Buffer.from("A\r\n\r\nB\r\n\r\n", "latin1");
    expect(findHeadEnd(two, 0)).toBe(5);
    expect(findHeadEnd(two, 5)).toBe(10);
  });

  test("a head whose lines end with bare LF is recognised", () => {
    expect(hasBareLfEnd(Buffer.from("GET / HTTP/1.1\nHost: a\n\n", "latin1"))).toBe(true);
    expect(hasBareLfEnd(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\n", "latin1"))).toBe(true);
    expect(hasBareLfEnd(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n", "latin1"))).toBe(false);
  });
});

describe("parseRequestHead: what is accepted", () => {
  test("a plain HTTP/1.1 GET", () => {
    const head = request("GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    expect(head.method).toBe("GET");
    expect(head.target).toBe("/index.html");
    expect(head.minor).toBe(1);
    expect(head.framing).toEqual({ kind: "none" });
    expect(head.keepAlive).toBe(true);
    expect(head.expectContinue).toBe(false);
    expect(head.fields.list).toEqual(["host", "example.com", "accept", "*/*"]);
  });

  test.each(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "PROPFIND", "M-SEARCH", "BREW", "get", "x!#$%&'*+.^_`|~"])("method %s is kept exactly (methods are case-sensitive)", (method) => {
    expect(request(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`).method).toBe(method);
  });

  test.each([
    ["origin-form with a query", "GET", "/a/b/c?x=1&y=%20z#frag"],
    ["asterisk-form", "OPTIONS", "*"],
    ["absolute-form", "GET", "http://example.com:8080/x?y"],
    ["authority-form", "CONNECT", "example.com:443"],
    ["every visible ASCII character", "GET", "/!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"],
  ])("target: %s", (_, method, target) => {
    const head = request(`${method} ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(head.method).toBe(method);
    expect(head.target).toBe(target);
  });

  test("HTTP/1.0 needs no Host and does not keep the connection by default", () => {
    const head = request("GET / HTTP/1.0\r\n\r\n");
    expect(head.minor).toBe(0);
    expect(head.keepAlive).toBe(false);
    expect(head.fields.size).toBe(0);
  });

  test.each([
    ["HTTP/1.0, no Connection", "HTTP/1.0", "", false],
    ["HTTP/1.0, keep-alive", "HTTP/1.0", "Connection: keep-alive\r\n", true],
    ["HTTP/1.0, Keep-Alive mixed case", "HTTP/1.0", "Connection: Keep-Alive\r\n", true],
    ["HTTP/1.0, keep-alive then close", "HTTP/1.0", "Connection: keep-alive\r\nConnection: close\r\n", false],
    ["HTTP/1.1, no Connection", "HTTP/1.1", "", true],
    ["HTTP/1.1, close", "HTTP/1.1", "Connection: close\r\n", false],
    ["HTTP/1.1, CLOSE among other tokens", "HTTP/1.1", "Connection: Upgrade ,  CLOSE\r\n", false],
    ["HTTP/1.1, keep-alive", "HTTP/1.1", "Connection: keep-alive\r\n", true],
    ["HTTP/1.1, a token that merely contains close", "HTTP/1.1", "Connection: closed, x-close\r\n", true],
  ])("keep-alive: %s", (_, version, extra, keepAlive) => {
    expect(request(`GET / ${version}\r\nHost: a\r\n${extra}\r\n`).keepAlive).toBe(keepAlive);
  });

  test("a higher minor version of HTTP/1 is read as 1.1", () => {
    expect(request("GET / HTTP/1.9\r\nHost: a\r\n\r\n").minor).toBe(1);
  });

  test.each([
    ["Expect: 100-continue", true],
    ["Expect: 100-Continue", true],
    ["EXPECT:   100-continue  ", true],
    ["Expect: 100-continue-please", false],
    ["Expect: 200-ok", false],
  ])("expectContinue for %j", (line, expected) => {
    expect(request(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n${line}\r\n\r\n`).expectContinue).toBe(expected);
  });

  test("field names are lower-cased, common ones interned, unknown ones built", () => {
    const head = request("GET / HTTP/1.1\r\nHOST: a\r\nContent-TYPE: t\r\nX-Custom-Thing: v\r\nx-ALL-lower-AND-upper: w\r\nTraceParent: 00\r\n\r\n");
    expect(head.fields.list).toEqual(["host", "a", "content-type", "t", "x-custom-thing", "v", "x-all-lower-and-upper", "w", "traceparent", "00"]);
  });

  test("names whose hash equals an interned name's are read as themselves", () => {
    // "v'" hashes like "te", "hou6" like "host", "dav'" like "date", "ev#g" like "etag", "vc4y" like "vary".
    const head = request("GET / HTTP/1.1\r\nHost: a\r\nv': 1\r\nHOU6: 2\r\ndav': 3\r\nev#g: 4\r\nVC4Y: 5\r\nTE: 6\r\n\r\n");
    expect(head.fields.list).toEqual(["host", "a", "v'", "1", "hou6", "2", "dav'", "3", "ev#g", "4", "vc4y", "5", "te", "6"]);
    // "hou6" is not a second Host
    expect(head.fields.get("host")).toBe("a");
  });

  test("optional whitespace around values is trimmed; inner whitespace and empty values are kept", () => {
    const head = request("GET / HTTP/1.1\r\nHost:a\r\nX-A:   v  a \t \r\nX-B:\t\tb\r\nX-Empty:\r\nX-Blank:   \t \r\n\r\n");
    expect(head.fields.get("host")).toBe("a");
    expect(head.fields.get("x-a")).toBe("v  a");
    expect(head.fields.get("x-b")).toBe("b");
    expect(head.fields.get("x-empty")).toBe("");
    expect(head.fields.get("x-blank")).toBe("");
  });

  test("obs-text bytes 0x80-0xFF in values are preserved exactly (one character per byte)", () => {
    const value = Buffer.from([0x80, 0x81, 0x9f, 0xa0, 0xc3, 0xa9, 0xe9, 0xfe, 0xff, 0x20, 0x09, 0x41]);
    const buf = Buffer.concat([Buffer.from("GET / HTTP/1.1\r\nHost: a\r\nX-Bin: ", "latin1"), value, Buffer.from("\r\n\r\n", "latin1")]);
    const head = parseRequestHead(buf, findHeadEnd(buf, 0), LIMITS);
    const got = head.fields.get("x-bin")!;
    expect(got.length).toBe(value.length);
    expect(Buffer.from(got, "latin1").equals(value)).toBe(true);
  });

  test("repeated fields are kept in order and joined by get", () => {
    const head = request("GET / HTTP/1.1\r\nHost: a\r\nX-N: 1\r\nAccept: x\r\nX-N: 2\r\n\r\n");
    expect(head.fields.get("x-n")).toBe("1, 2");
    expect(head.fields.size).toBe(4);
  });

  test("the bytes may be a plain Uint8Array (the declared parameter type), not only a Buffer", () => {
    const bytes = new Uint8Array(Buffer.from("GET /plain HTTP/1.1\r\nHost: a\r\nX-Custom-Name: v\xe9\r\n\r\n", "latin1"));
    expect(bytes).not.toBeInstanceOf(Buffer);
    const head = parseRequestHead(bytes, bytes.length, LIMITS);
    expect(head.target).toBe("/plain");
    expect(head.fields.list).toEqual(["host", "a", "x-custom-name", "v\xe9"]);
    const response = new Uint8Array(Buffer.from("HTTP/1.1 200 OK\r\nX-Other: w\r\n\r\n", "latin1"));
    expect(parseResponseHead(response, response.length, LIMITS).fields.list).toEqual(["x-other", "w"]);
  });

  test("only the bytes up to `end` are read (what follows is the body)", () => {
    const buf = Buffer.from("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nX: 1\r\n\r\n", "latin1");
    const head = parseRequestHead(buf, findHeadEnd(buf, 0), LIMITS);
    expect(head.fields.list).toEqual(["host", "a", "content-length", "4"]);
    expect(head.framing).toEqual({ kind: "length", length: 4 });
  });
});

describe("parseRequestHead: framing", () => {
  test.each([
    ["Content-Length: 5", { kind: "length", length: 5 }],
    ["Content-Length: 0", { kind: "none" }],
    ["Content-Length:    12   ", { kind: "length", length: 12 }],
    ["Content-Length: 5, 5", { kind: "length", length: 5 }],
    ["Content-Length: 5\r\nContent-Length: 5", { kind: "length", length: 5 }],
    ["Content-Length: 007", { kind: "length", length: 7 }],
    ["Content-Length: 999999999999999", { kind: "length", length: 999_999_999_999_999 }],
    ["Transfer-Encoding: chunked", { kind: "chunked" }],
    ["Transfer-Encoding: Chunked", { kind: "chunked" }],
    ["Transfer-Encoding:  chunked  ", { kind: "chunked" }],
    ["X-Other: 1", { kind: "none" }],
  ])("%j", (line, framing) => {
    expect(request(`POST / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`).framing).toEqual(framing as RequestHead["framing"]);
  });

  test("HTTP/1.0 with a Content-Length body", () => {
    expect(request("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n").framing).toEqual({ kind: "length", length: 3 });
  });
});

describe("parseRequestHead: what is refused, and with which status", () => {
  test.each([
    ["an HTTP/1.1 request without Host", "GET / HTTP/1.1\r\nAccept: x\r\n\r\n", 400],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400],
    ["two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400],
    ["Content-Length and Transfer-Encoding together", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["Transfer-Encoding before Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400],
    ["conflicting Content-Length fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400],
    ["a conflicting Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400],
    ["a negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400],
    ["a signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400],
    ["a hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400],
    ["a Content-Length with a letter", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", 400],
    ["a Content-Length with a space inside", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400],
    ["a fractional Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1.5\r\n\r\n", 400],
    ["an empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400],
    ["an empty element in a Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400],
    ["a 16-digit Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456\r\n\r\n", 400],
    ["a transfer coding we do not implement, then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["the same over two fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501],
    ["a transfer coding without chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400],
    ["chunked that is not the last coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400],
    ["an empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400],
    ["a misspelt chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400],
    ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["obsolete line folding", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400],
    ["obsolete line folding with HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n", 400],
    ["a first field line starting with whitespace", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
    ["a tab before the colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400],
    ["a space inside a name", "GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n", 400],
    ["a non-token character in a name", "GET / HTTP/1.1\r\nHost: a\r\nX@Y: 1\r\n\r\n", 400],
    ["a non-ASCII name", "GET / HTTP/1.1\r\nHost: a\r\nX-\xe9: 1\r\n\r\n", 400],
    ["an empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400],
    ["a field line without a colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", 400],
    ["NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400],
    ["a control character in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400],
    ["ESC in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n", 400],
    ["DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400],
    ["a bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400],
    ["a bare LF in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", 400],
    ["a bare LF ending a field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400],
    ["a bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400],
    ["a bare CR ending the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400],
    ["a non-ASCII byte in the target", "GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a control character in the target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a DEL in the target", "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a space inside the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a tab between method and target", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["two spaces before the target", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["two spaces before the version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a space after the version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400],
    ["no target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["no method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a non-token method", "GE@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["an empty line before the request line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["a lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400],
    ["a malformed version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400],
    ["a version without its minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505],
    ["HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505],
  ])("%s", (_, head, status) => {
    const error = refuseRequest(head);
    expect(error.status).toBe(status as HeadError["status"]);
    expect(error.message.length).toBeGreaterThan(0);
    expect(error.name).toBe("HeadError");
  });

  test("at most maxFields fields: the limit itself passes, one more is 431", () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    expect(request(`GET / HTTP/1.1\r\nHost: a\r\n${fields(4)}\r\n`, 5).fields.size).toBe(5);
    expect(refuseRequest(`GET / HTTP/1.1\r\nHost: a\r\n${fields(5)}\r\n`, 5).status).toBe(431);
    expect(refuseRequest(`GET / HTTP/1.1\r\nHost: a\r\n${fields(200)}\r\n`).status).toBe(431);
  });
});

describe("parseResponseHead", () => {
  test("a status line with a reason, fields, a Content-Length", () => {
    const head = response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n");
    expect(head.status).toBe(200);
    expect(head.minor).toBe(1);
    expect(head.close).toBe(false);
    expect(head.contentLength).toBe(5);
    expect(head.codings).toBeUndefined();
    expect(head.fields.list).toEqual(["content-type", "text/plain", "content-length", "5"]);
  });

  test.each([
    ["HTTP/1.1 204 \r\n\r\n", 204],
    ["HTTP/1.1 204\r\n\r\n", 204],
    ["HTTP/1.1 599 Whatever You Like\r\n\r\n", 599],
    ["HTTP/1.1 100 Continue\r\n\r\n", 100],
    ["HTTP/1.1 404 Not\tFound \xe9\xff\r\n\r\n", 404],
  ])("status line %j", (head, status) => {
    expect(response(head).status).toBe(status);
  });

  test.each([
    ["HTTP/1.1, nothing said", "HTTP/1.1 200 OK\r\n", false],
    ["HTTP/1.1, close", "HTTP/1.1 200 OK\r\nConnection: close\r\n", true],
    ["HTTP/1.0, nothing said", "HTTP/1.0 200 OK\r\n", true],
    ["HTTP/1.0, keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", false],
  ])("close: %s", (_, head, close) => {
    expect(response(`${head}\r\n`).close).toBe(close);
  });

  test("transfer codings are listed lower-cased, in order, over several fields", () => {
    expect(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: GZIP , Chunked\r\n\r\n").codings).toEqual(["gzip", "chunked"]);
    expect(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").codings).toEqual(["gzip", "chunked"]);
  });

  test("a response may carry Content-Length beside Transfer-Encoding (responseFraming decides)", () => {
    const head = response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n");
    expect(head.contentLength).toBe(10);
    expect(head.codings).toEqual(["chunked"]);
  });

  test("no Host is needed in a response, and its values are read like a request's", () => {
    const head = response("HTTP/1.1 200 OK\r\nX-A:  spaced  \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n");
    expect(head.fields.get("x-a")).toBe("spaced");
    expect(head.fields.list).toEqual(["x-a", "spaced", "set-cookie", "a=1", "set-cookie", "b=2"]);
  });

  test.each([
    ["a two-digit status", "HTTP/1.1 99 OK\r\n\r\n", 400],
    ["a four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 400],
    ["a status starting with 0", "HTTP/1.1 099 OK\r\n\r\n", 400],
    ["a non-numeric status", "HTTP/1.1 abc OK\r\n\r\n", 400],
    ["no space after the version", "HTTP/1.1200 OK\r\n\r\n", 400],
    ["a tab after the status", "HTTP/1.1 200\tOK\r\n\r\n", 400],
    ["a control character in the reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 400],
    ["a bare CR in the reason", "HTTP/1.1 200 O\rK\r\n\r\n", 400],
    ["a bare LF ending the status line", "HTTP/1.1 200 OK\nX: y\r\n\r\n", 400],
    ["not HTTP at all", "ICY 200 OK\r\n\r\n", 400],
    ["conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
    ["a non-digit Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 400],
    ["obsolete line folding", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 400],
    ["whitespace before a colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 400],
    ["a control character in a value", "HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n", 400],
    ["HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 505],
  ])("refused: %s", (_, head, status) => {
    expect(refuseResponse(head).status).toBe(status as HeadError["status"]);
  });

  test("too many fields in a response is 431", () => {
    const buf = Buffer.from(`HTTP/1.1 200 OK\r\n${"X: 1\r\n".repeat(3)}\r\n`, "latin1");
    expect(refusal(() => parseResponseHead(buf, findHeadEnd(buf, 0), { maxFields: 2 })).status).toBe(431);
    expect(parseResponseHead(buf, findHeadEnd(buf, 0), { maxFields: 3 }).fields.size).toBe(3);
  });
});

describe("responseFraming", () => {
  test.each([
    ["HEAD, whatever the fields say", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", "HEAD", { kind: "none" }],
    ["HEAD with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", "HEAD", { kind: "none" }],
    ["100", "HTTP/1.1 100 Continue\r\n", "GET", { kind: "none" }],
    ["101", "HTTP/1.1 101 Switching Protocols\r\n", "GET", { kind: "none" }],
    ["103", "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n", "GET", { kind: "none" }],
    ["204 with a length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n", "GET", { kind: "none" }],
    ["304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n", "GET", { kind: "none" }],
    ["304 with chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n", "GET", { kind: "none" }],
    ["chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", "GET", { kind: "chunked" }],
    ["chunked wins over Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n", "POST", { kind: "chunked" }],
    ["gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n", "GET", { kind: "chunked" }],
    ["a coding that is not chunked runs until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n", "GET", { kind: "close" }],
    ["chunked then gzip runs until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n", "GET", { kind: "close" }],
    ["no length at all runs until close", "HTTP/1.1 200 OK\r\n", "GET", { kind: "close" }],
    ["an HTTP/1.0 answer without a length", "HTTP/1.0 200 OK\r\n", "GET", { kind: "close" }],
    ["Content-Length: 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", "GET", { kind: "none" }],
    ["Content-Length: 10", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", "GET", { kind: "length", length: 10 }],
    ["a 404 with a length", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n", "DELETE", { kind: "length", length: 9 }],
    ["a 205 without a length", "HTTP/1.1 205 Reset Content\r\n", "GET", { kind: "close" }],
  ])("%s", (_, head, method, framing) => {
    expect(responseFraming(response(`${head}\r\n`), method)).toEqual(framing as ReturnType<typeof responseFraming>);
  });
});

describe("reasonPhrase", () => {
  test.each([
    [100, "Continue"],
    [200, "OK"],
    [204, "No Content"],
    [304, "Not Modified"],
    [400, "Bad Request"],
    [404, "Not Found"],
    [413, "Content Too Large"],
    [431, "Request Header Fields Too Large"],
    [500, "Internal Server Error"],
    [501, "Not Implemented"],
    [502, "Bad Gateway"],
    [505, "HTTP Version Not Supported"],
    [299, ""],
    [799, ""],
  ])("%i -> %j", (status, phrase) => {
    expect(reasonPhrase(status)).toBe(phrase);
  });
});
