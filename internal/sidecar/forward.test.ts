import { describe, expect, test } from "bun:test";
import { forwardHeaders, stripHopByHop } from "./forward.ts";

describe("forwarded headers", () => {
  test("hop-by-hop headers and those named by Connection are dropped, in place", () => {
    const incoming = new Headers({
      connection: "keep-alive, X-Private",
      "keep-alive": "timeout=5",
      "x-private": "secret",
      "transfer-encoding": "chunked",
      upgrade: "h2c",
      host: "sidecar:15001",
      authorization: "Bearer t",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    const out = forwardHeaders(incoming);
    expect(out).toBe(incoming);
    expect([...out.keys()].sort()).toEqual(["authorization", "traceparent"]);
    const back = stripHopByHop(new Headers({ connection: "close", "content-type": "application/json", "transfer-encoding": "chunked", "content-length": "2" }));
    expect([...back.keys()].sort()).toEqual(["content-length", "content-type"]);
  });
});
