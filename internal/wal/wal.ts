// An open write-ahead log: appends with group commit, snapshots, segment rollover and release.
// openWal (open.ts) builds one after recovery; the on-disk layout is described in segment-file.ts.

import { join } from "node:path";
import type { Entry, HardState, Snapshot } from "../raft/types.ts";
import { encodeVote, entrySize, hardStateSize, MARKER_SIZE, writeEntry, writeHardState, writeMarker, type SnapshotMarker } from "./codec.ts";
import { WalClosedError, WalWriteError } from "./errors.ts";
import type { WalFile } from "./file-system.ts";
import { FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES, RecordType, sealFrame } from "./record.ts";
import { createSegment, type Layout, type Segment } from "./segment-file.ts";
import { listSnapshotFiles, writeSnapshotFile } from "./snapshot-files.ts";

export interface WalStats {
  /** save() and saveSnapshot() calls that became durable. */
  readonly saves: number;
  /** Group commits: each wrote the records of one or more saves with one write and one fsync. */
  readonly commits: number;
  /** fdatasync/fsync calls on segments, including those of segment rollover. */
  readonly fsyncs: number;
  readonly bytesWritten: number;
  readonly segmentsCreated: number;
}

/** Records of one save() call waiting for the next group commit. */
interface Pending {
  /** Work that must be durable before these records are written (a snapshot file); run once, in queue order. */
  prepare: (() => Promise<void>) | undefined;
  readonly bytes: Uint8Array;
  readonly hardState: HardState | undefined;
  readonly marker: SnapshotMarker | undefined;
  /** The highest index the next entry may have, once these records are in. */
  readonly nextIndex: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** What has been written to the segments so far (not necessarily synced yet). */
export interface Written {
  hardState: HardState | undefined;
  marker: SnapshotMarker | undefined;
  nextIndex: number;
}

/** Where a Wal starts: what openWal found or created. */
export interface WalInit {
  readonly layout: Layout;
  readonly metadata: Uint8Array;
  /** Oldest first; the last is the one being appended to. */
  readonly segments: Segment[];
  readonly file: WalFile;
  /** Where the next record goes in the last segment. */
  readonly offset: number;
  /** Where its header records end. */
  readonly segmentStart: number;
  readonly written: Written;
}

/**
 * An open write-ahead log. Appends go through one queue: save() and saveSnapshot() encode their
 * records at once, in call order, and a single flush loop writes whatever has queued up with one
 * write and one fdatasync (group commit), then resolves every call in that batch. Any I/O error
 * stops the WAL for good (fail-stop): see WalWriteError.
 */
export class Wal {
  private readonly layout: Layout;
  private readonly metadata: Uint8Array;
  private readonly segments: Segment[];
  private file: WalFile;
  private offset: number;
  /** Where the current segment's header records end: a segment never holds less than them plus one batch. */
  private segmentStart: number;
  private readonly written: Written;
  /** Validation state as of the last queued save, which may not be written yet. */
  private queuedNext: number;
  private queuedMarker: SnapshotMarker | undefined;
  /** The newest marker known to be durable: releaseTo never goes past it. */
  private durableMarker: SnapshotMarker | undefined;

  private pending: Pending[] = [];
  private flushing = false;
  private failure: WalWriteError | undefined;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  /** saveSnapshot calls still running (their purge may follow the marker's commit); close waits for them. */
  private readonly snapshotsInFlight = new Set<Promise<void>>();
  private readonly counters = { saves: 0, commits: 0, fsyncs: 0, bytesWritten: 0, segmentsCreated: 0 };

  /** @internal Use openWal. */
  constructor(init: WalInit) {
    this.layout = init.layout;
    this.metadata = init.metadata;
    this.segments = init.segments;
    this.file = init.file;
    this.offset = init.offset;
    this.segmentStart = init.segmentStart;
    this.written = init.written;
    this.queuedNext = init.written.nextIndex;
    this.queuedMarker = init.written.marker;
    this.durableMarker = init.written.marker;
  }

  /** Counters for metrics and the benchmark. */
  get stats(): WalStats {
    return { ...this.counters };
  }

  /**
   * Appends `entries` and then `hardState` (either may be empty/undefined) and resolves once they
   * are fsynced. Calls made while a commit is in flight share the next one. Entries must be
   * contiguous, start at or below the index after the last one saved (a lower start replaces the
   * tail: Raft truncation) and above the newest snapshot; otherwise it rejects with a RangeError
   * and writes nothing. Rejects with WalWriteError if the WAL has stopped, WalClosedError after close().
   */
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== undefined) return Promise.reject(refusal);
    let bytes: Uint8Array;
    let nextIndex: number;
    try {
      nextIndex = this.checkEntries(entries);
      bytes = encodeSave(hardState, entries);
    } catch (err) {
      return Promise.reject(err);
    }
    this.queuedNext = nextIndex;
    return this.enqueue(bytes, hardState, undefined, nextIndex, undefined);
  }

  /**
   * Writes `snapshot` to snap/ atomically and durably, then a snapshot marker into the log, and
   * resolves once the marker is fsynced; then deletes the snapshot files older than the newest
   * `retainSnapshots`. It takes its place in the queue when called: saves made after it are
   * written after the marker, so entries that follow an installed snapshot may be saved without
   * waiting for it; when a Raft Ready carries a snapshot, call this before save() (as etcd's
   * server does). The snapshot must not be older than the last one saved. A snapshot beyond the
   * last entry (installed from the leader) ends the log: the next entry follows it.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    const running = this.snapshot(snapshot);
    const tracked = running.catch(() => {});
    this.snapshotsInFlight.add(tracked);
    void tracked.then(() => this.snapshotsInFlight.delete(tracked));
    return running;
  }

  private async snapshot(snapshot: Snapshot): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== undefined) throw refusal;
    const { index, term } = snapshot.metadata;
    if (!Number.isSafeInteger(index) || index < 1 || !Number.isSafeInteger(term) || term < 0) {
      throw new RangeError(`bad snapshot index ${index} / term ${term}`);
    }
    if (this.queuedMarker !== undefined && index < this.queuedMarker.index) {
      throw new RangeError(`snapshot index ${index} is older than the last saved snapshot ${this.queuedMarker.index}`);
    }
    const marker = { index, term };
    const nextIndex = Math.max(this.queuedNext, index + 1);
    const bytes = new Uint8Array(FRAME_HEADER_BYTES + MARKER_SIZE);
    const view = new DataView(bytes.buffer);
    writeMarker(view, FRAME_HEADER_BYTES, marker);
    sealFrame(bytes, view, 0, RecordType.snapshot, MARKER_SIZE);
    this.queuedMarker = marker;
    this.queuedNext = nextIndex;
    const { fs, snapDir } = this.layout;
    await this.enqueue(bytes, undefined, marker, nextIndex, async () => {
      await writeSnapshotFile(fs, snapDir, snapshot);
    });
    await this.purgeSnapshots();
  }

  /**
   * Keeps the newest `retainSnapshots` files at or below the newest durable marker. Files above it
   * belong to a saveSnapshot still in flight and are left alone, so the snapshot the durable
   * marker names is never deleted.
   */
  private async purgeSnapshots(): Promise<void> {
    const { fs, snapDir, retainSnapshots } = this.layout;
    const durable = this.durableMarker?.index ?? 0;
    try {
      const covered = (await listSnapshotFiles(fs, snapDir)).filter((s) => s.index <= durable);
      for (const old of covered.slice(retainSnapshots)) await fs.unlink(join(snapDir, old.name));
    } catch (err) {
      throw this.stop(snapDir, err);
    }
  }

  /**
   * Deletes the segments that hold nothing after `index`, oldest first: a segment goes when the
   * next one starts at or below index + 1. `index` is capped at the newest durable snapshot, so
   * what the snapshot does not cover stays; the current segment always stays.
   */
  async releaseTo(index: number): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== undefined) throw refusal;
    const upTo = Math.min(index, this.durableMarker?.index ?? 0);
    let removed = false;
    try {
      while (this.segments.length > 1 && this.segments[1]!.firstIndex <= upTo + 1) {
        // Off the list before the await, so that a concurrent releaseTo does not delete it twice.
        const seg = this.segments.shift()!;
        await this.layout.fs.unlink(seg.path);
        removed = true;
      }
      if (removed) await this.layout.fs.syncDir(this.layout.walDir);
    } catch (err) {
      throw this.stop(this.layout.walDir, err);
    }
  }

  /** Waits for queued saves to commit, then closes the segment and releases the directory lock. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.flushing) await new Promise<void>((resolve) => (this.drained = resolve));
      await Promise.all(this.snapshotsInFlight);
      try {
        await this.file.close();
      } finally {
        await this.layout.lock.release();
      }
    })();
    return this.closing;
  }

  /** Segment paths, oldest first (for tests and diagnostics). */
  get segmentPaths(): readonly string[] {
    return this.segments.map((s) => s.path);
  }

  private refusal(): Error | undefined {
    if (this.closing !== undefined) return new WalClosedError();
    if (this.failure !== undefined) return new WalWriteError(this.failure.file, this.failure.cause, false);
    return undefined;
  }

  /** Validates a save's entries against what is queued before it; returns the next index after them. */
  private checkEntries(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.queuedNext;
    const floor = this.queuedMarker?.index ?? 0;
    if (!Number.isSafeInteger(first.index) || first.index <= floor || first.index > this.queuedNext) {
      throw new RangeError(`entries must start within ${floor + 1}..${this.queuedNext}, got index ${first.index}`);
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== first.index + i) throw new RangeError(`entries are not contiguous at position ${i}`);
      if (entrySize(e) > MAX_PAYLOAD_BYTES) throw new RangeError(`entry ${e.index} is larger than ${MAX_PAYLOAD_BYTES} bytes`);
    }
    return first.index + entries.length;
  }

  private enqueue(
    bytes: Uint8Array,
    hardState: HardState | undefined,
    marker: SnapshotMarker | undefined,
    nextIndex: number,
    prepare: (() => Promise<void>) | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ prepare, bytes, hardState, marker, nextIndex, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // A microtask later, not now: saves made in the same turn (for instance the callers that
        // the previous commit just resumed) join this commit instead of waiting for the next.
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0 && this.failure === undefined) {
      const head = this.pending[0]!;
      if (head.prepare !== undefined) {
        try {
          await head.prepare();
          head.prepare = undefined;
        } catch (err) {
          this.stop(this.layout.snapDir, err);
          break;
        }
      }
      // One commit takes everything queued, up to the next record that needs its own preparation.
      let n = 1;
      while (n < this.pending.length && this.pending[n]!.prepare === undefined) n++;
      const batch = this.pending.splice(0, n);
      let len = 0;
      for (const p of batch) len += p.bytes.length;
      try {
        if (len > 0) {
          if (this.offset > this.segmentStart && this.offset + len > this.layout.segmentBytes) await this.cut();
          await this.file.write(concat(batch, len), this.offset);
          this.offset += len;
          this.counters.bytesWritten += len;
          for (const p of batch) {
            if (p.hardState !== undefined) this.written.hardState = p.hardState;
            if (p.marker !== undefined) this.written.marker = p.marker;
            this.written.nextIndex = p.nextIndex;
          }
          await this.file.datasync();
          this.counters.fsyncs++;
          this.counters.commits++;
        }
      } catch (err) {
        const failure = this.stop(this.file.path, err);
        for (const p of batch) p.reject(failure);
        break;
      }
      this.counters.saves += batch.length;
      for (const p of batch) {
        if (p.marker !== undefined) this.durableMarker = p.marker;
        p.resolve();
      }
    }
    this.flushing = false;
    this.drained?.();
  }

  /** Finishes the current segment (cut to its last record, fsynced) and starts the next. */
  private async cut(): Promise<void> {
    await this.file.truncate(this.offset);
    await this.file.sync();
    this.counters.fsyncs++;
    await this.file.close();
    const cur = this.segments[this.segments.length - 1]!;
    const seq = cur.seq + 1;
    const { file, end } = await createSegment(this.layout, seq, this.written.nextIndex, this.metadata, this.written.marker, this.written.hardState);
    this.counters.fsyncs++;
    this.counters.segmentsCreated++;
    this.segments.push({ seq, firstIndex: this.written.nextIndex, path: file.path });
    this.file = file;
    this.offset = end;
    this.segmentStart = end;
  }

  /** Enters fail-stop: every queued and later call is rejected; nothing more is written. */
  private stop(file: string, err: unknown): WalWriteError {
    if (this.failure === undefined) this.failure = err instanceof WalWriteError ? err : new WalWriteError(file, err);
    const failure = this.failure;
    const queued = this.pending;
    this.pending = [];
    for (const p of queued) p.reject(failure);
    return failure;
  }
}

function concat(batch: readonly Pending[], len: number): Uint8Array {
  if (batch.length === 1) return batch[0]!.bytes;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of batch) {
    out.set(p.bytes, off);
    off += p.bytes.length;
  }
  return out;
}

/**
 * One save's records in one buffer: the entries, then the hard state. In that order, any prefix
 * that survives a torn write never holds a hard state whose commit index is ahead of its entries.
 */
function encodeSave(hardState: HardState | undefined, entries: readonly Entry[]): Uint8Array {
  const vote = hardState === undefined ? null : encodeVote(hardState);
  let size = hardState === undefined ? 0 : FRAME_HEADER_BYTES + hardStateSize(vote);
  for (const e of entries) size += FRAME_HEADER_BYTES + entrySize(e);
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  let off = 0;
  for (const e of entries) {
    const len = entrySize(e);
    writeEntry(buf, view, off + FRAME_HEADER_BYTES, e);
    sealFrame(buf, view, off, RecordType.entry, len);
    off += FRAME_HEADER_BYTES + len;
  }
  if (hardState !== undefined) {
    const len = hardStateSize(vote);
    writeHardState(buf, view, off + FRAME_HEADER_BYTES, hardState, vote);
    sealFrame(buf, view, off, RecordType.hardState, len);
  }
  return buf;
}
