// The Raft log as the core sees it: stable entries read through Storage, followed by the unstable
// part, plus the commit and apply indexes. Pure bookkeeping: no I/O beyond Storage reads.

import { CompactedError, RaftStateCorruptError, UnavailableError } from "./errors.ts";
import { UnstableLog } from "./log-unstable.ts";
import { entryBytes, limitSize, type Storage } from "./storage.ts";
import type { Entry, Snapshot } from "./types.ts";

export class RaftLog {
  readonly unstable: UnstableLog;
  /** Highest index known to be committed (on a quorum of voters). */
  committed: number;
  /** Highest index the driver has applied and acknowledged with advance(). */
  applied: number;
  /** Highest index handed to the driver to apply (applied <= applying <= committed). */
  applying: number;

  constructor(
    readonly storage: Storage,
    readonly maxCommittedBytesPerReady: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
    this.applying = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The term of the entry at index i, or undefined if i is compacted or beyond the log. */
  term(i: number): number | undefined {
    if (i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    if (i < this.firstIndex() - 1) return undefined;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** §5.4.1: a candidate's log (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The index of the first entry of ents that conflicts with (or is missing from) the log, or 0. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (0 if unknown). Used on
   * both sides of a rejected append to skip a whole divergent term per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * AppendEntries consistency check and append (Figure 2, receiver rules 2-5). Returns the index
   * of the last new entry and the entries actually written (replacing everything from their first
   * index on), undefined if the log does not contain (index, logTerm), or "conflict" if the
   * entries would overwrite committed ones (only a forged or corrupt message can ask for that).
   * The commit index moves only after the caller has taken note of the new entries.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    ents: readonly Entry[],
  ): { lastNew: number; appended: readonly Entry[] } | undefined | "conflict" {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci === 0) return { lastNew, appended: [] };
    if (ci <= this.committed) return "conflict";
    const appended = ents.slice(ci - index - 1);
    this.append(appended);
    return { lastNew, appended };
  }

  /** Appends entries after the committed prefix; returns the new last index. */
  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    if (first.index - 1 < this.committed) {
      throw new RaftStateCorruptError(
        `append at ${first.index} would overwrite committed index ${this.committed}`,
      );
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Raises the commit index; returns false (doing nothing) if `c` is beyond the last index. */
  commitTo(c: number): boolean {
    if (c <= this.committed) return true;
    if (c > this.lastIndex()) return false;
    this.committed = c;
    return true;
  }

  /** Commits maxIndex if it is newer and its entry is of `term` (§5.4.2, Figure 8). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.committed = maxIndex;
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i <= this.applied) return;
    this.applied = Math.min(i, this.committed);
    if (this.applying < this.applied) this.applying = this.applied;
  }

  /** The entries to hand to the driver for persistence. */
  unstableEntries(): Entry[] {
    return this.unstable.entries.length === 0 ? [] : this.unstable.entries.slice();
  }

  /** True if committed entries wait to be handed to the driver (none while a snapshot is pending). */
  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== null) return false;
    return Math.max(this.applying + 1, this.firstIndex()) <= this.committed;
  }

  /** The next committed entries to apply, at most maxCommittedBytesPerReady (but at least one). */
  nextCommittedEntries(): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, this.maxCommittedBytesPerReady);
  }

  /** The snapshot to use for a lagging follower: the pending one, else the storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Entries from lo to the end, at most maxBytes (at least one). Throws CompactedError. */
  entriesFrom(lo: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxBytes);
  }

  /** Entries [lo, hi) across storage and the unstable part. Throws CompactedError if lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    const last = this.lastIndex();
    if (hi > last + 1) throw new UnavailableError(hi - 1, last);
    const off = this.unstable.offset;
    if (hi <= off) return this.storage.entries(lo, hi, maxBytes);
    if (lo >= off) return limitSize(this.unstable.slice(lo, hi), maxBytes);
    const stored = this.storage.entries(lo, off, maxBytes);
    if (stored.length < off - lo) return stored;
    let size = 0;
    for (const e of stored) size += entryBytes(e);
    for (const e of this.unstable.entries) {
      if (e.index >= hi) break;
      size += entryBytes(e);
      if (size > maxBytes) break;
      stored.push(e);
    }
    return stored;
  }

  /** A snapshot from the leader replaces the log (its index is committed by definition). */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }
}
