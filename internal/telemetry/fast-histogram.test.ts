import { describe, expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { FastHistogram } from "./fast-histogram.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];

describe("FastHistogram", () => {
  test("exposes the same text as a prom-client Histogram fed the same values", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FastHistogram({ name: "x_seconds", help: "X.", labelNames: ["a", "b"], buckets: BUCKETS, registers: [ours] });
    const reference = new Histogram({ name: "x_seconds", help: "X.", labelNames: ["a", "b"], buckets: BUCKETS, registers: [theirs] });
    const values = [0, 0.0005, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.5, 1, 2, 30];
    for (const [i, value] of values.entries()) {
      const labels = i % 2 === 0 ? ["in", "get"] : ["out", "post"];
      fast.child(...labels).observe(value);
      reference.labels(...labels).observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  test("a value on a bound goes into that bucket (le is inclusive); +Inf counts everything", async () => {
    const registry = new Registry();
    const h = new FastHistogram({ name: "y", help: "Y.", labelNames: [], buckets: BUCKETS, registers: [registry] });
    const child = h.child();
    for (const v of [0.001, 0.01, 0.1, 1, 1.0001]) child.observe(v);
    expect([...child.counts]).toEqual([1, 1, 1, 1, 1]);
    expect(child.count).toBe(5);
    const text = await registry.metrics();
    expect(text).toContain('y_bucket{le="0.001"} 1');
    expect(text).toContain('y_bucket{le="1"} 4');
    expect(text).toContain('y_bucket{le="+Inf"} 5');
  });

  test("children are bound once per label set; non-finite values are ignored, never thrown", () => {
    const h = new FastHistogram({ name: "z", help: "Z.", labelNames: ["k"], buckets: BUCKETS });
    expect(h.child("a")).toBe(h.child("a"));
    expect(h.child("a")).not.toBe(h.child("b"));
    const child = h.child("a");
    child.observe(Number.NaN);
    child.observe(Number.POSITIVE_INFINITY);
    expect(child.count).toBe(0);
    expect(() => h.child()).toThrow(RangeError);
    expect(() => new FastHistogram({ name: "w", help: "W.", labelNames: [], buckets: [1, 0.5] })).toThrow(RangeError);
  });

  test("reset forgets every series", async () => {
    const registry = new Registry();
    const h = new FastHistogram({ name: "r", help: "R.", labelNames: ["k"], buckets: BUCKETS, registers: [registry] });
    h.child("a").observe(1);
    h.reset();
    expect(await registry.metrics()).not.toContain("r_bucket");
  });
});
