// The read interface the core uses to reach the persisted log, and MemoryStorage: the driver's
// in-memory mirror of its write-ahead log (entries, hard state and latest snapshot), as etcd's.

import {
  CompactedError,
  RaftError,
  SnapshotOutOfDateError,
  UnavailableError,
} from "./errors.ts";
import type { ConfState, Entry, HardState, Snapshot } from "./types.ts";
import { EMPTY_HARD_STATE } from "./types.ts";

/** What a member starts from: the persisted hard state and the membership as of its snapshot. */
export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/**
 * The persisted log as the core reads it. Everything returned must already be on stable storage.
 * Indexes: the log holds entries firstIndex()..lastIndex(); term(firstIndex()-1) is still known
 * (the compaction point, or the snapshot's index). Methods throw CompactedError for indexes before
 * that point and UnavailableError past the last index.
 */
export interface Storage {
  initialState(): InitialState;
  /** Entries [lo, hi), at most maxBytes in total but always at least one if any is in range. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot; may throw SnapshotTemporarilyUnavailableError while one is being made. */
  snapshot(): Snapshot;
}

export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: [], learners: [] });
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
  data: new Uint8Array(0),
});

/** Bytes an entry counts for in size limits (messages, Ready batches, the uncommitted log). */
export function entryBytes(e: Entry): number {
  return e.data.byteLength + 16;
}

/**
 * Keeps the longest prefix of `ents` whose total size is at most maxBytes, but at least one entry.
 * Returns `ents` itself when everything fits.
 */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1 || maxBytes === Infinity) return ents;
  let size = 0;
  for (let i = 0; i < ents.length; i++) {
    size += entryBytes(ents[i]!);
    if (size > maxBytes && i > 0) {
      ents.length = i;
      return ents;
    }
  }
  return ents;
}

/**
 * An in-memory Storage, also writable: the driver appends each Ready's entries, snapshot and hard
 * state here once they are on its write-ahead log, and compacts it after taking a snapshot. The
 * entry arrays it returns are fresh copies; the entries themselves are shared and must be
 * treated as immutable.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /** The compaction point: the index and term of the entry just before ents[0]. */
  private offsetIndex = 0;
  private offsetTerm = 0;
  private ents: Entry[] = [];

  /** The hard state and the membership of the latest snapshot. */
  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** Records the hard state of a Ready (after the driver wrote it to its log). */
  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /** The hard state last recorded with setHardState. */
  getHardState(): HardState {
    return this.hardState;
  }

  /** See Storage.entries. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offsetIndex) throw new CompactedError(lo, this.firstIndex());
    const last = this.lastIndex();
    if (hi > last + 1) throw new UnavailableError(hi - 1, last);
    if (lo >= hi) return [];
    const base = this.offsetIndex + 1;
    // Find the cut before copying: a follower far behind must not cost a copy of the whole log.
    let end = hi - base;
    if (maxBytes !== Infinity) {
      let size = 0;
      for (let i = lo - base; i < end; i++) {
        size += entryBytes(this.ents[i]!);
        if (size > maxBytes && i > lo - base) {
          end = i;
          break;
        }
      }
    }
    return this.ents.slice(lo - base, end);
  }

  /** See Storage.term. */
  term(index: number): number {
    if (index < this.offsetIndex) throw new CompactedError(index, this.firstIndex());
    if (index === this.offsetIndex) return this.offsetTerm;
    const e = this.ents[index - this.offsetIndex - 1];
    if (e === undefined) throw new UnavailableError(index, this.lastIndex());
    return e.term;
  }

  /** See Storage.firstIndex. */
  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  /** See Storage.lastIndex. */
  lastIndex(): number {
    return this.offsetIndex + this.ents.length;
  }

  /** See Storage.snapshot. */
  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the whole log with a snapshot received from the leader (Ready.snapshot): the entries
   * are dropped, the snapshot's index becomes the compaction point. Throws SnapshotOutOfDateError
   * for a snapshot not newer than the one held.
   */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(s.metadata.index, this.snap.metadata.index);
    }
    this.snap = s;
    this.offsetIndex = s.metadata.index;
    this.offsetTerm = s.metadata.term;
    this.ents = [];
    if (this.hardState.commit < s.metadata.index) {
      this.hardState = { ...this.hardState, commit: s.metadata.index };
    }
  }

  /**
   * Records a snapshot the driver made of its state machine as of `index` (an applied index),
   * with the membership as of that index. Entries are kept until compact() is called. Returns the
   * snapshot, which the core hands to followers too far behind.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    }
    const last = this.lastIndex();
    if (index > last) throw new UnavailableError(index, last);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /**
   * Discards the entries up to and including `index`, which must be covered by the snapshot
   * (createSnapshot first). Compacting at or before the current compaction point does nothing.
   */
  compact(index: number): void {
    if (index <= this.offsetIndex) return;
    if (index > this.snap.metadata.index) {
      throw new RaftError(
        `cannot compact to ${index}: the snapshot only covers ${this.snap.metadata.index}`,
      );
    }
    const term = this.term(index);
    this.ents = this.ents.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }

  /**
   * Appends entries (Ready.entries), first dropping any stored suffix they conflict with. Entries
   * at or before the compaction point are ignored; a gap after the last index is an error.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    let from = 0;
    if (first.index <= this.offsetIndex) {
      from = this.offsetIndex + 1 - first.index;
      if (from >= entries.length) return;
    }
    const start = first.index + from;
    const last = this.lastIndex();
    if (start > last + 1) {
      throw new RaftError(`missing log entries: appending at ${start} after last index ${last}`);
    }
    this.ents.length = start - this.offsetIndex - 1;
    for (let i = from; i < entries.length; i++) this.ents.push(entries[i]!);
  }
}
