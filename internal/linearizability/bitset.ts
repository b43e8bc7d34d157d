// Sets of operation slots for the search. Linearized sets grow roughly in call order, so a set is
// mostly a run of full words, a short ragged window, then zero words; the set tracks that window
// as it changes so that the memo table can store and compare just the window.

/** A fixed-size mutable set of small non-negative integers. */
export class Bitset {
  readonly words: Uint32Array;
  /** Number of leading all-ones words. */
  #full = 0;
  /** One past the last non-zero word. */
  #top = 0;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5] as number) & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    const w = i >>> 5;
    const words = this.words;
    words[w] = (words[w] as number) | (1 << (i & 31));
    if (w >= this.#top) this.#top = w + 1;
    if (w === this.#full) while (this.#full < words.length && words[this.#full] === 0xffffffff) this.#full++;
  }

  clear(i: number): void {
    const w = i >>> 5;
    const words = this.words;
    words[w] = (words[w] as number) & ~(1 << (i & 31));
    if (w < this.#full) this.#full = w;
    if (w === this.#top - 1) while (this.#top > 0 && words[this.#top - 1] === 0) this.#top--;
  }

  /** Start of the canonical window: equal sets have equal windows [lo, hi) and equal words in them. */
  get lo(): number {
    return this.#full;
  }

  /** End of the canonical window (exclusive); never below `lo`. */
  get hi(): number {
    return Math.max(this.#full, this.#top);
  }

  /** Whether every member of `other[offset, offset + words.length)`, a copy of a bitset of the same size, is in this set. */
  containsAll(other: Uint32Array, offset: number): boolean {
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (((other[offset + i] as number) & ~(w[i] as number)) !== 0) return false;
    return true;
  }
}
