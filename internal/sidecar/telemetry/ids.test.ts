import { describe, expect, test } from "bun:test";
import { PooledIdGenerator } from "./ids.ts";

describe("PooledIdGenerator", () => {
  test("answers valid, distinct W3C ids across pool refills", () => {
    const ids = new PooledIdGenerator();
    const spans = new Set<string>();
    const traces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const span = ids.generateSpanId();
      const trace = ids.generateTraceId();
      expect(span).toMatch(/^(?!0{16})[\da-f]{16}$/);
      expect(trace).toMatch(/^(?!0{32})[\da-f]{32}$/);
      spans.add(span);
      traces.add(trace);
    }
    expect(spans.size).toBe(2000);
    expect(traces.size).toBe(2000);
  });

  test("a primed trace id is answered once; unprime drops it", () => {
    const ids = new PooledIdGenerator();
    const primed = "0af7651916cd43dd8448eb211c80319c";
    ids.prime(primed);
    expect(ids.generateSpanId()).not.toBe(primed);
    expect(ids.generateTraceId()).toBe(primed);
    expect(ids.generateTraceId()).not.toBe(primed);
    ids.prime(primed);
    ids.unprime();
    expect(ids.generateTraceId()).not.toBe(primed);
  });
});
