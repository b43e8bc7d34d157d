import { describe, expect, test } from "bun:test";
import { SseParser } from "./sse.ts";

describe("SseParser", () => {
  test("events, ids, comments and multi-line data, as the control plane writes them", () => {
    const parser = new SseParser();
    const text = 'event: ready\ndata: {"fromRevision":null}\nretry: 1000\n\n: keepalive\n\nevent: put\ndata: {"a":1}\n\nevent: delete\ndata: x\ndata: y\nid: 7\n\n';
    expect(parser.push(text)).toEqual([
      { event: "ready", data: '{"fromRevision":null}', retry: 1000 },
      { event: "put", data: '{"a":1}' },
      { event: "delete", data: "x\ny", id: "7" },
    ]);
  });

  test("any chunking gives the same events, CRLF and CR line ends included", () => {
    const text = "event: put\r\ndata: one\r\nid: 1\r\n\r\nevent: put\rdata: two\rid: 2\r\rdata:three\n\n";
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { event: "put", data: "one", id: "1" },
      { event: "put", data: "two", id: "2" },
      { event: "message", data: "three" },
    ]);
    for (let size = 1; size <= 7; size++) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
      expect(events).toEqual(whole);
    }
  });

  test("a block without data dispatches nothing; unknown fields are ignored", () => {
    expect(new SseParser().push("id: 3\nfoo: bar\n\nevent: x\n\n")).toEqual([]);
  });
});
