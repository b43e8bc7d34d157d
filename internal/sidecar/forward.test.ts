import { describe, expect, test } from "bun:test";
import { BodyTooLargeError, ClientError, Fields, bytesSource, readBody } from "../http1/index.ts";
import { bufferBody, classifyFailure, forwardHeaders, isTooLarge, limitedBody, stripHopByHop } from "./forward.ts";

describe("forwarded fields", () => {
  test("hop-by-hop fields and those named by Connection are dropped, in place", () => {
    const incoming = Fields.from({
      connection: "keep-alive, X-Private",
      "keep-alive": "timeout=5",
      "x-private": "secret",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
      expect: "100-continue",
      te: "trailers",
      host: "sidecar:15001",
      authorization: "Bearer t",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    const out = forwardHeaders(incoming);
    expect(out).toBe(incoming);
    expect([...out].map(([name]) => name).sort()).toEqual(["authorization", "traceparent"]);
    const back = stripHopByHop(Fields.from({ connection: "close", "content-type": "application/json", "transfer-encoding": "chunked", "content-length": "2" }));
    expect([...back].map(([name]) => name).sort()).toEqual(["content-length", "content-type"]);
  });

  test("repeated fields survive in order; nothing is removed when nothing is hop-by-hop", () => {
    const fields = new Fields(["accept", "a", "x-n", "1", "x-n", "2"]);
    const list = fields.list;
    stripHopByHop(fields);
    expect(fields.list).toBe(list);
    expect(fields.list).toEqual(["accept", "a", "x-n", "1", "x-n", "2"]);
  });
});

describe("bodies on the way through", () => {
  test("bufferBody reads a stream whole, refuses one over the limit, and keeps null", async () => {
    const source = bytesSource(new TextEncoder().encode("hello"));
    expect(new TextDecoder().decode((await bufferBody(source, 10))!)).toBe("hello");
    expect(await bufferBody(null, 10)).toBeNull();
    const error = await bufferBody(bytesSource(new Uint8Array(11)), 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
  });

  test("limitedBody refuses a declared or held body over the limit at once, and a stream once it passes it", async () => {
    expect(() => limitedBody(new Uint8Array(11), 10)).toThrow(BodyTooLargeError);
    expect(() => limitedBody(bytesSource(new Uint8Array(11)), 10)).toThrow(BodyTooLargeError);
    const chunks = [new Uint8Array(6), new Uint8Array(6)];
    const unknownLength = {
      length: undefined,
      pipe(sink: { write(c: Uint8Array): boolean; end(): void }) {
        for (const chunk of chunks) sink.write(chunk);
        sink.end();
      },
      resume() {},
      cancel() {},
    };
    const limited = limitedBody(unknownLength, 10);
    const error = await readBody(limited, 100).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(isTooLarge(new Error("wrapped", { cause: error }))).toBe(true);
  });

  test("failures are classified for the retry policy; the caller's own abort is not a failure", () => {
    expect(classifyFailure(new ClientError("connect", "refused"), false)).toBe("connect");
    expect(classifyFailure(new ClientError("reset", "closed"), false)).toBe("reset");
    expect(classifyFailure(new DOMException("t", "TimeoutError"), false)).toBe("timeout");
    expect(classifyFailure(new DOMException("a", "AbortError"), false)).toBeUndefined();
    expect(classifyFailure(new Error("?"), true)).toBe("timeout");
    expect(classifyFailure(new Error("?"), false)).toBe("reset");
  });
});
