import { expect, test } from "bun:test";
import { Bitset } from "./bitset.ts";
import { Prng } from "./prng.ts";

test("the tracked window matches a recomputation after random sets and clears", () => {
  const rng = new Prng(7);
  for (const size of [1, 31, 32, 33, 200]) {
    const bits = new Bitset(size);
    const model = new Set<number>();
    for (let n = 0; n < 5000; n++) {
      const i = rng.int(size);
      // Mostly grow from the low end, as linearized sets do.
      if (rng.chance(0.6)) {
        bits.set(i);
        model.add(i);
      } else {
        bits.clear(i);
        model.delete(i);
      }
      for (const j of [i, rng.int(size)]) expect(bits.has(j)).toBe(model.has(j));
      const words = bits.words;
      let lo = 0;
      while (lo < words.length && words[lo] === 0xffffffff) lo++;
      let hi = words.length;
      while (hi > lo && words[hi - 1] === 0) hi--;
      expect([bits.lo, bits.hi]).toEqual([lo, hi]);
    }
  }
});
