// Sets of operation slots for the search's memo table. Linearized sets grow roughly in call
// order, so a set is mostly a run of ones followed by a short ragged window and then zeros; the
// snapshot keeps only the window, which keeps the memo table small on long histories.

/** A stored copy of a bitset, in canonical form: the words from the first not-all-ones word to the last non-zero one. */
export interface BitsetSnapshot {
  readonly lo: number;
  readonly words: Uint32Array;
}

/** A fixed-size mutable set of small non-negative integers. */
export class Bitset {
  readonly words: Uint32Array;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5] as number) & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) | (1 << (i & 31));
  }

  clear(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) & ~(1 << (i & 31));
  }

  /** The canonical window [lo, hi) of word indices; equal sets have equal windows and equal words in them. */
  window(): { lo: number; hi: number } {
    const w = this.words;
    let lo = 0;
    while (lo < w.length && w[lo] === 0xffffffff) lo++;
    let hi = w.length;
    while (hi > lo && w[hi - 1] === 0) hi--;
    return { lo, hi };
  }

  snapshot(lo: number, hi: number): BitsetSnapshot {
    return { lo, words: this.words.slice(lo, hi) };
  }

  /** Whether this set equals the snapshot; `lo`/`hi` must be this set's current window. */
  matches(snapshot: BitsetSnapshot, lo: number, hi: number): boolean {
    if (snapshot.lo !== lo || snapshot.words.length !== hi - lo) return false;
    const w = this.words;
    const s = snapshot.words;
    for (let i = 0; i < s.length; i++) if (s[i] !== w[lo + i]) return false;
    return true;
  }

  /** Whether every member of `subset` (a copy of a bitset of the same size) is in this set. */
  containsAll(subset: Uint32Array): boolean {
    const w = this.words;
    for (let i = 0; i < subset.length; i++) if (((subset[i] as number) & ~(w[i] as number)) !== 0) return false;
    return true;
  }
}
