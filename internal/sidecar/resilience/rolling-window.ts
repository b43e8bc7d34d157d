// A rolling window of counters in a fixed ring of buckets: constant memory however many events it
// sees, and O(1) reads, because running totals are kept and a bucket's counts are subtracted when
// it falls out of the window.

/** How many buckets a window is cut into; an event is forgotten 0.9–1 window after it happened. */
export const WINDOW_BUCKETS = 10;

/**
 * Counts events for `series` separate counters over the last `windowMs`, in WINDOW_BUCKETS
 * buckets of windowMs / WINDOW_BUCKETS each. The window is granular: it covers the current,
 * partial bucket and the nine before it, so an event stops counting between 0.9 × windowMs and
 * windowMs after it was added. Time must not go backwards; if it does, the clock is treated as
 * standing still.
 */
export class RollingCounts {
  readonly #bucketMs: number;
  readonly #series: number;
  readonly #counts: Float64Array;
  readonly #totals: Float64Array;
  #epoch: number;

  constructor(windowMs: number, series: number, now: number) {
    this.#bucketMs = windowMs / WINDOW_BUCKETS;
    this.#series = series;
    this.#counts = new Float64Array(WINDOW_BUCKETS * series);
    this.#totals = new Float64Array(series);
    this.#epoch = Math.floor(now / this.#bucketMs);
  }

  /** Adds `n` (default 1) to counter `series` at time `now`. */
  add(now: number, series: number, n = 1): void {
    this.#advance(now);
    const slot = mod(this.#epoch, WINDOW_BUCKETS) * this.#series + series;
    this.#counts[slot] = (this.#counts[slot] as number) + n;
    this.#totals[series] = (this.#totals[series] as number) + n;
  }

  /** The count of `series` within the window ending at `now`. */
  total(now: number, series: number): number {
    this.#advance(now);
    return this.#totals[series] as number;
  }

  /** Forgets every count. */
  clear(now: number): void {
    this.#counts.fill(0);
    this.#totals.fill(0);
    this.#epoch = Math.floor(now / this.#bucketMs);
  }

  #advance(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    if (epoch <= this.#epoch) return;
    if (epoch - this.#epoch >= WINDOW_BUCKETS) {
      this.#counts.fill(0);
      this.#totals.fill(0);
    } else {
      for (let e = this.#epoch + 1; e <= epoch; e++) {
        const base = mod(e, WINDOW_BUCKETS) * this.#series;
        for (let s = 0; s < this.#series; s++) {
          this.#totals[s] = (this.#totals[s] as number) - (this.#counts[base + s] as number);
          this.#counts[base + s] = 0;
        }
      }
    }
    this.#epoch = epoch;
  }
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}
