// The part of the log not yet on stable storage: entries (and possibly a snapshot) the driver will
// receive in the next Ready. entries[i] has index offset + i.

import type { Entry, Snapshot } from "./types.ts";

export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  constructor(public offset: number) {}

  /** The first index if a snapshot is pending (the index after it), else undefined. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  /** The last index held here (entry or snapshot), else undefined. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  /** The term at index i if held here, else undefined. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      const s = this.snapshot;
      return s !== null && s.metadata.index === i ? s.metadata.term : undefined;
    }
    return this.entries[i - this.offset]?.term;
  }

  /** The entries up to (index, term) reached stable storage: forget them, unless since replaced. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const e = this.entries[index - this.offset];
    if (e === undefined || e.term !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  /** The snapshot at `index` reached stable storage. */
  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null;
  }

  /** A snapshot replaces everything held here. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends entries, first truncating whatever they conflict with (ents are contiguous). */
  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = ents.slice();
    } else {
      // Never truncate in place: arrays may be shared with a Ready already handed out.
      const kept = this.entries.slice(0, after - this.offset);
      for (const e of ents) kept.push(e);
      this.entries = kept;
    }
  }

  /** Entries [lo, hi), which must lie within this unstable part. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
