// Lowe's memo table: the configurations (set of completed operations placed, set of unknown
// operations placed, state) the search has visited. A configuration is skipped when one with the
// same completed set and state and a subset of its unknown operations was visited: that one had
// every option this one has. Sets are stored as word windows in one growing arena, since the table
// holds millions of entries on long histories and per-entry typed arrays would dominate the time.

import type { Bitset } from "./bitset.ts";

export class ConfigurationMemo<S> {
  /** Bucket (key & mask) → most recent entry in it, or -1; older ones are chained through `#chain`. */
  #heads = new Int32Array(16).fill(-1);
  readonly #chain: number[] = [];
  readonly #key: number[] = [];
  readonly #stateId: number[] = [];
  readonly #lo: number[] = [];
  readonly #length: number[] = [];
  readonly #offset: number[] = [];
  readonly #state: S[] = [];
  #arena = new Uint32Array(256);
  #used = 0;

  readonly #unknownWords: number;
  readonly #equal: ((a: S, b: S) => boolean) | undefined;

  /**
   * `unknownWords` is the word count of the unknown-operation sets; `equal` compares states whose
   * keys match, and may be left out when the key determines the state.
   */
  constructor(unknownWords: number, equal: ((a: S, b: S) => boolean) | undefined) {
    this.#unknownWords = unknownWords;
    this.#equal = equal;
  }

  get size(): number {
    return this.#chain.length;
  }

  /**
   * Records the configuration and returns true, or returns false if it is dominated by a recorded
   * one. `key` (an int32) must be a function of the completed set and the state only; `stateId`
   * identifies the state up to `equal`.
   */
  visit(key: number, known: Bitset, unknown: Bitset, stateId: number, state: S): boolean {
    const lo = known.lo;
    const hi = known.hi;
    const words = known.words;
    const arena = this.#arena;
    const mask = this.#heads.length - 1;
    for (let e = this.#heads[key & mask] as number; e >= 0; e = this.#chain[e] as number) {
      if (this.#key[e] !== key || this.#stateId[e] !== stateId || this.#lo[e] !== lo || this.#length[e] !== hi - lo) continue;
      const offset = this.#offset[e] as number;
      let same = true;
      for (let i = 0; i < hi - lo; i++) {
        if (arena[offset + i] !== words[lo + i]) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      if (this.#unknownWords > 0 && !unknown.containsAll(arena, offset + hi - lo)) continue;
      if (this.#equal && !this.#equal(this.#state[e] as S, state)) continue;
      return false;
    }

    const need = hi - lo + this.#unknownWords;
    if (this.#used + need > this.#arena.length) {
      const grown = new Uint32Array(Math.max(this.#arena.length * 2, this.#used + need));
      grown.set(this.#arena);
      this.#arena = grown;
    }
    const offset = this.#used;
    const into = this.#arena;
    for (let i = lo; i < hi; i++) into[offset + i - lo] = words[i] as number;
    if (this.#unknownWords > 0) into.set(unknown.words, offset + hi - lo);
    this.#used += need;

    const e = this.#chain.length;
    this.#chain.push(this.#heads[key & mask] as number);
    this.#heads[key & mask] = e;
    this.#key.push(key);
    this.#stateId.push(stateId);
    if (e + 1 > this.#heads.length) this.#rehash();
    this.#lo.push(lo);
    this.#length.push(hi - lo);
    this.#offset.push(offset);
    if (this.#equal) this.#state.push(state);
    return true;
  }

  #rehash(): void {
    const heads = new Int32Array(this.#heads.length * 4).fill(-1);
    const mask = heads.length - 1;
    for (let e = 0; e < this.#chain.length; e++) {
      const bucket = (this.#key[e] as number) & mask;
      this.#chain[e] = heads[bucket] as number;
      heads[bucket] = e;
    }
    this.#heads = heads;
  }
}
