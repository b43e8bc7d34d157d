import { describe, expect, test } from "bun:test";
import { mulberry32 } from "./random-commands.ts";
import { SortedKeySet } from "./sorted-key-set.ts";

function model(keys: Set<string>): string[] {
  return [...keys].sort();
}

describe("SortedKeySet", () => {
  test("adds, deletes and walks in order", () => {
    const set = new SortedKeySet();
    expect(set.add("b")).toBe(true);
    expect(set.add("a")).toBe(true);
    expect(set.add("c")).toBe(true);
    expect(set.add("b")).toBe(false);
    expect(set.size).toBe(3);
    expect(set.withPrefix("")).toEqual(["a", "b", "c"]);
    expect(set.delete("b")).toBe(true);
    expect(set.delete("b")).toBe(false);
    expect(set.has("a")).toBe(true);
    expect(set.has("b")).toBe(false);
    expect(set.withPrefix("")).toEqual(["a", "c"]);
  });

  test("prefix walks stop at the end of the prefix", () => {
    const set = new SortedKeySet();
    for (const key of ["a", "a/b", "a/c", "a0", "a/", "b/a", "a/b/c"]) set.add(key);
    expect(set.withPrefix("a/")).toEqual(["a/", "a/b", "a/b/c", "a/c"]);
    expect(set.withPrefix("a/b")).toEqual(["a/b", "a/b/c"]);
    expect(set.withPrefix("z")).toEqual([]);
  });

  for (const seed of [1, 2, 3, 42]) {
    test(`random adds and deletes match a sorted array (seed ${seed}; replay: KV_SEED=${seed})`, () => {
      const random = mulberry32(Number(process.env.KV_SEED ?? seed));
      const set = new SortedKeySet();
      const keys = new Set<string>();
      const universe = 5000;
      for (let step = 0; step < 40_000; step++) {
        const key = `k${Math.floor(random() * universe)}`;
        // Phases of growth and shrinkage exercise splits, borrows and merges at every level.
        const addBias = Math.floor(step / 10_000) % 2 === 0 ? 0.7 : 0.3;
        if (random() < addBias) {
          expect(set.add(key)).toBe(!keys.has(key));
          keys.add(key);
        } else {
          expect(set.delete(key)).toBe(keys.has(key));
          keys.delete(key);
        }
        if (step % 2000 === 0) {
          set.checkInvariants();
          expect(set.withPrefix("")).toEqual(model(keys));
          const prefix = `k${Math.floor(random() * 50)}`;
          expect(set.withPrefix(prefix)).toEqual(model(keys).filter((k) => k.startsWith(prefix)));
        }
      }
      set.checkInvariants();
      expect(set.size).toBe(keys.size);
      for (const key of [...keys]) {
        set.delete(key);
        keys.delete(key);
      }
      set.checkInvariants();
      expect(set.size).toBe(0);
      expect(set.withPrefix("")).toEqual([]);
    });
  }

  test("sequential inserts and deletes keep the tree balanced", () => {
    const set = new SortedKeySet();
    const n = 100_000;
    for (let i = 0; i < n; i++) set.add(String(i).padStart(6, "0"));
    set.checkInvariants();
    for (let i = 0; i < n; i += 2) set.delete(String(i).padStart(6, "0"));
    set.checkInvariants();
    expect(set.size).toBe(n / 2);
    expect(set.withPrefix("00000")).toEqual(["000001", "000003", "000005", "000007", "000009"]);
  });
});
