// Per-instance ejection: the failure count, the ejection time and the cap on ejected instances.
import { describe, expect, test } from "bun:test";
import { FakeTime } from "./fake-time.ts";
import { OutlierDetector } from "./outlier-detector.ts";
import { outlierPolicy } from "./test-policies.ts";

function detector(section: Record<string, unknown>, instances: string[]) {
  const time = new FakeTime();
  const ejections: string[] = [];
  const d = new OutlierDetector(outlierPolicy(section), { clock: time, onEjection: (id) => ejections.push(id) });
  d.setInstances(instances);
  const fail = (id: string, n: number) => {
    for (let i = 0; i < n; i++) d.record(id, false);
  };
  return { d, time, ejections, fail };
}

describe("OutlierDetector", () => {
  test("ejects after N failures in a row; a success in between starts the count again", () => {
    const { d, fail, ejections } = detector({ consecutiveFailures: 3 }, ["a", "b", "c"]);
    fail("a", 2);
    d.record("a", true);
    fail("a", 2);
    expect(d.isEjected("a")).toBe(false);
    fail("a", 1);
    expect(d.isEjected("a")).toBe(true);
    expect(d.ejected()).toEqual(["a"]);
    expect(ejections).toEqual(["a"]);
  });

  test("returns after ejectionMs with a clean record", () => {
    const { d, time, fail } = detector({ consecutiveFailures: 2, ejectionMs: 1000 }, ["a", "b"]);
    fail("a", 2);
    time.advance(999);
    expect(d.isEjected("a")).toBe(true);
    time.advance(1);
    expect(d.isEjected("a")).toBe(false);
    expect(d.excluded().size).toBe(0);
    fail("a", 1);
    expect(d.isEjected("a")).toBe(false); // the failures before the ejection were forgotten
    fail("a", 1);
    expect(d.isEjected("a")).toBe(true);
  });

  test("never ejects more than maxEjectionPercent of the instances (3 at 50 %: one)", () => {
    const { d, time, fail, ejections } = detector({ consecutiveFailures: 1, ejectionMs: 1000, maxEjectionPercent: 50 }, ["a", "b", "c"]);
    expect(d.maxEjected).toBe(1);
    fail("a", 1);
    fail("b", 3);
    expect(d.ejected()).toEqual(["a"]);
    time.advance(1000);
    expect(d.ejected()).toEqual([]);
    fail("b", 1); // room again: b's next failure ejects it
    expect(d.ejected()).toEqual(["b"]);
    expect(ejections).toEqual(["a", "b"]);
  });

  test("rounds down, but ejects at least one unless the percentage is 0", () => {
    const counts = (percent: number, n: number) =>
      detector({ maxEjectionPercent: percent }, Array.from({ length: n }, (_, i) => `i${i}`)).d.maxEjected;
    expect(counts(50, 4)).toBe(2);
    expect(counts(50, 5)).toBe(2);
    expect(counts(10, 3)).toBe(1);
    expect(counts(50, 1)).toBe(1);
    expect(counts(100, 3)).toBe(3);
    expect(counts(0, 10)).toBe(0);
    const { d, fail } = detector({ consecutiveFailures: 1, maxEjectionPercent: 0 }, ["a", "b"]);
    fail("a", 10);
    expect(d.ejected()).toEqual([]);
  });

  test("setInstances forgets instances that left, ejected ones included", () => {
    const { d, fail } = detector({ consecutiveFailures: 2, maxEjectionPercent: 100 }, ["a", "b", "c"]);
    fail("a", 2);
    fail("b", 1);
    d.setInstances(["b", "c", "d"]);
    expect(d.ejected()).toEqual([]);
    expect(d.maxEjected).toBe(3);
    fail("b", 1);
    expect(d.ejected()).toEqual(["b"]); // b kept its count
  });
});
