import { describe, expect, test } from "bun:test";
import { diffValues, jsonEqual, renderChanges } from "./policy-diff.ts";

describe("diffValues", () => {
  test("nothing for equal values, whatever the key order", () => {
    expect(diffValues({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
    expect(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(jsonEqual([1], { 0: 1 })).toBe(false);
  });

  test("changed, added and removed leaves with their paths", () => {
    const before = { timeoutMs: 250, retry: { maxAttempts: 3, on: ["502", "503"] }, fallback: { status: 503 } };
    const after = { timeoutMs: 300, retry: { maxAttempts: 3, on: ["503"] }, circuitBreaker: { failures: 5 }, "odd key": true };
    expect(diffValues(before, after)).toEqual([
      { path: "timeoutMs", op: "change", before: 250, after: 300 },
      { path: "retry.on[0]", op: "change", before: "502", after: "503" },
      { path: "retry.on[1]", op: "remove", before: "503" },
      { path: "circuitBreaker.failures", op: "add", after: 5 },
      { path: '["odd key"]', op: "add", after: true },
      { path: "fallback.status", op: "remove", before: 503 },
    ]);
  });

  test("a new value lists every leaf; a type change is one change", () => {
    expect(diffValues(undefined, { a: { b: 1 }, c: [], d: null })).toEqual([
      { path: "a.b", op: "add", after: 1 },
      { path: "c", op: "add", after: [] },
      { path: "d", op: "add", after: null },
    ]);
    expect(diffValues({ a: [1] }, { a: { x: 1 } })).toEqual([{ path: "a", op: "change", before: [1], after: { x: 1 } }]);
  });

  test("renders one line per change", () => {
    expect(renderChanges(diffValues({ a: 1, b: 2 }, { a: 2, c: "x" }))).toBe('  ~ a: 1 → 2\n  + c: "x"\n  - b: 2\n');
  });
});
