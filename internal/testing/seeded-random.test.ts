import { expect, test } from "bun:test";
import { seededRandom } from "./seeded-random.ts";

test("the same seed gives the same stream; another seed another; values lie in [0, 1)", () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const c = seededRandom(43);
  const xs = Array.from({ length: 1000 }, () => a());
  expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
  expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
  expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  expect(new Set(xs).size).toBeGreaterThan(990);
});
