import { describe, expect, test } from "bun:test";
import { forwardHeaders, responseHeaders } from "./forward.ts";

describe("forwarded headers", () => {
  test("hop-by-hop headers and those named by Connection are dropped; X-Forwarded-For grows", () => {
    const incoming = new Headers({
      connection: "keep-alive, x-private",
      "keep-alive": "timeout=5",
      "x-private": "secret",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
      host: "sidecar:15001",
      authorization: "Bearer t",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "x-forwarded-for": "10.0.0.1",
    });
    const out = forwardHeaders(incoming, "10.0.0.2");
    expect([...out.keys()].sort()).toEqual(["authorization", "traceparent", "x-forwarded-for"]);
    expect(out.get("x-forwarded-for")).toBe("10.0.0.1, 10.0.0.2");
    const back = responseHeaders(new Headers({ connection: "close", "content-type": "application/json", "transfer-encoding": "chunked", "content-length": "2" }));
    expect([...back.keys()].sort()).toEqual(["content-length", "content-type"]);
  });
});
