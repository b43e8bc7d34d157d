// Opening a WAL: create a new one, or recover an existing one. Recovery reads and checks
// everything first (segments, replay, snapshot choice) and only then changes anything on disk (cut
// a torn tail, delete leftover temp files), so a refusal leaves every file as it was.

import { dirname, join } from "node:path";
import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from "../raft/types.ts";
import { WalCorruptError, WalSnapshotMissingError } from "./errors.ts";
import { nodeFs, type WalFs } from "./file-system.ts";
import { parseSegmentName, TMP_SUFFIX, type SegmentName } from "./names.ts";
import { scanSegment, type SegmentScan } from "./record.ts";
import { Replay } from "./replay.ts";
import { createSegment, type Layout } from "./segment-file.ts";
import { listSnapshotFiles, loadNewestSnapshot } from "./snapshot-files.ts";
import { Wal } from "./wal.ts";

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_RETAIN_SNAPSHOTS = 3;

export interface WalOptions {
  /**
   * A new segment is started before a write would take the current one past this size; segments
   * are preallocated to it. Default 64 MiB; tests use a few KiB to exercise rollover.
   */
  readonly segmentBytes?: number;
  /** Written into every segment header when the WAL is created (e.g. cluster and member id); ignored after. */
  readonly metadata?: Uint8Array;
  /** How many snapshot files saveSnapshot keeps, newest first; at least 1. Default 3. */
  readonly retainSnapshots?: number;
  /** The file layer; tests inject one that counts fsyncs and fails on command. Default: node:fs. */
  readonly fs?: WalFs;
}

/** A torn tail that openWal cut off the last segment; the driver logs it. */
export interface WalRepair {
  readonly file: string;
  /** Where the segment now ends: just past its last good record. */
  readonly offset: number;
  /** Non-zero bytes that were cut (trailing zeros are preallocated space, not data). */
  readonly bytesDropped: number;
  readonly reason: string;
}

/** What a member had on stable storage, as openWal recovered it. */
export interface WalState {
  /** The metadata the WAL was created with. */
  readonly metadata: Uint8Array;
  /** The last hard state saved; EMPTY_HARD_STATE if none. */
  readonly hardState: HardState;
  /** The newest usable snapshot the WAL refers to; undefined if it refers to none. */
  readonly snapshot: Snapshot | undefined;
  /** The log after the snapshot (or from index 1 without one), contiguous. */
  readonly entries: readonly Entry[];
  /** Set when a torn tail was cut off. */
  readonly repaired: WalRepair | undefined;
  /** Snapshot files passed over (corrupt, or not referred to by the WAL); nothing was deleted. */
  readonly skippedSnapshots: readonly { readonly file: string; readonly reason: string }[];
  /** True when openWal created a new, empty WAL. */
  readonly created: boolean;
}

/**
 * Opens (or creates) the WAL in `dir` and recovers what it holds: the newest usable snapshot, the
 * entries after it, the last hard state. Takes the directory lock first (WalLockedError if it is
 * held). Validates everything before changing anything: on WalCorruptError or
 * WalSnapshotMissingError no file has been modified or deleted. Then cuts a torn tail off the last
 * segment (reported in `state.repaired`), deletes leftover .tmp files, and returns a Wal ready to
 * append after the last good record.
 */
export async function openWal(dir: string, options: WalOptions = {}): Promise<{ wal: Wal; state: WalState }> {
  const fs = options.fs ?? nodeFs;
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const retainSnapshots = options.retainSnapshots ?? DEFAULT_RETAIN_SNAPSHOTS;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1024) throw new RangeError(`segmentBytes must be at least 1024, got ${segmentBytes}`);
  if (!Number.isSafeInteger(retainSnapshots) || retainSnapshots < 1) throw new RangeError(`retainSnapshots must be at least 1, got ${retainSnapshots}`);

  await fs.mkdirp(dir);
  const lock = await fs.lock(join(dir, "LOCK"));
  try {
    const walDir = join(dir, "wal");
    const snapDir = join(dir, "snap");
    await fs.mkdirp(walDir);
    await fs.mkdirp(snapDir);
    const layout = { fs, lock, walDir, snapDir, segmentBytes, retainSnapshots };
    const names = await fs.list(walDir);
    const segments = names.map(parseSegmentName).filter((s): s is SegmentName => s !== undefined);
    if (segments.length === 0) return await createWal(dir, layout, options.metadata ?? new Uint8Array(0));
    return await recoverWal(layout, segments, names);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function createWal(dir: string, layout: Layout, metadata: Uint8Array): Promise<{ wal: Wal; state: WalState }> {
  const { fs, snapDir } = layout;
  const snaps = await listSnapshotFiles(fs, snapDir);
  if (snaps.length > 0) {
    throw new WalCorruptError(snapDir, 0, "snapshots exist but wal/ holds no segment: the log was lost");
  }
  // The new wal/ and snap/ entries in dir, and dir's own entry in its parent, must survive a crash.
  await fs.syncDir(dir);
  await fs.syncDir(dirname(dir));
  const { file, end } = await createSegment(layout, 1, 1, metadata, undefined, undefined);
  const wal = new Wal({
    layout,
    metadata,
    segments: [{ seq: 1, firstIndex: 1, path: file.path }],
    file,
    offset: end,
    segmentStart: end,
    written: { hardState: undefined, marker: undefined, nextIndex: 1 },
  });
  const state: WalState = {
    metadata,
    hardState: EMPTY_HARD_STATE,
    snapshot: undefined,
    entries: [],
    repaired: undefined,
    skippedSnapshots: [],
    created: true,
  };
  return { wal, state };
}

async function recoverWal(layout: Layout, found: SegmentName[], names: string[]): Promise<{ wal: Wal; state: WalState }> {
  const { fs, walDir, snapDir } = layout;
  const sorted = [...found].sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.seq !== prev.seq + 1) {
      throw new WalCorruptError(join(walDir, cur.name), 0, `segment ${prev.seq + 1} is missing between ${prev.name} and ${cur.name}`);
    }
  }

  // Read-only pass: scan and replay every segment.
  const replay = new Replay();
  let lastScan: SegmentScan = { frames: [], end: 0, torn: undefined };
  let lastSize = 0;
  for (let i = 0; i < sorted.length; i++) {
    const seg = sorted[i]!;
    const path = join(walDir, seg.name);
    const buf = await fs.readFile(path);
    const scan = scanSegment(buf, path, i === sorted.length - 1);
    replay.segment(path, buf, scan.frames, seg);
    lastScan = scan;
    lastSize = buf.length;
  }
  const last = sorted[sorted.length - 1]!;
  const lastPath = join(walDir, last.name);

  const { snapshot, skipped } = await chooseSnapshot(fs, snapDir, replay);
  const snapIndex = snapshot?.metadata.index ?? 0;
  const head = replay.entries[0];
  if (head !== undefined && head.index > snapIndex + 1) {
    const at = replay.firstEntryAt ?? { file: lastPath, offset: 0 };
    throw new WalCorruptError(
      at.file,
      at.offset,
      snapshot === undefined
        ? `the log starts at index ${head.index} and no snapshot precedes it`
        : `the log resumes at index ${head.index}, leaving a gap after snapshot index ${snapIndex}`,
    );
  }

  // Everything checks out: now tidy and repair.
  for (const name of names) if (name.endsWith(TMP_SUFFIX)) await fs.unlink(join(walDir, name));
  for (const name of await fs.list(snapDir)) if (name.endsWith(TMP_SUFFIX)) await fs.unlink(join(snapDir, name));
  let repaired: WalRepair | undefined;
  const file = await fs.open(lastPath);
  try {
    const torn = lastScan.torn;
    if (torn !== undefined) {
      await file.truncate(torn.offset);
      repaired = { file: lastPath, offset: torn.offset, bytesDropped: torn.bytesDropped, reason: torn.reason };
    }
    if (torn !== undefined || lastSize < layout.segmentBytes) {
      await file.truncate(Math.max(layout.segmentBytes, torn?.offset ?? lastSize));
      await file.sync();
    }
  } catch (err) {
    await file.close();
    throw err;
  }

  const metadata = replay.metadata ?? new Uint8Array(0);
  const hardState = replay.hardState;
  const wal = new Wal({
    layout,
    metadata,
    segments: sorted.map((s) => ({ seq: s.seq, firstIndex: s.firstIndex, path: join(walDir, s.name) })),
    file,
    offset: lastScan.end,
    // The records after the segment header belong to it: a full segment takes no more batches.
    segmentStart: lastScan.frames[0]?.end ?? lastScan.end,
    written: { hardState, marker: replay.markers[replay.markers.length - 1], nextIndex: replay.nextIndex ?? last.firstIndex },
  });
  const state: WalState = {
    metadata,
    hardState,
    snapshot,
    entries: replay.entries.filter((e) => e.index > snapIndex),
    repaired,
    skippedSnapshots: skipped,
    created: false,
  };
  return { wal, state };
}

/**
 * The snapshot to start from: the one the newest marker names, or else an older one that a marker
 * names and that the retained log continues up to the newest marker's index. Throws
 * WalSnapshotMissingError when there are markers but no such snapshot.
 */
async function chooseSnapshot(
  fs: WalFs,
  snapDir: string,
  replay: Replay,
): Promise<{ snapshot: Snapshot | undefined; skipped: { file: string; reason: string }[] }> {
  const newest = replay.markers[replay.markers.length - 1];
  if (newest === undefined) {
    const skipped = (await listSnapshotFiles(fs, snapDir)).map((n) => ({ file: join(snapDir, n.name), reason: "no snapshot marker in the WAL refers to it" }));
    return { snapshot: undefined, skipped };
  }
  const head = replay.entries[0];
  const lastIndex = head === undefined ? 0 : head.index + replay.entries.length - 1;
  const loaded = await loadNewestSnapshot(snapDir, {
    fs,
    accept(index, term) {
      if (!replay.markers.some((m) => m.index === index && m.term === term)) return "no snapshot marker in the WAL refers to it";
      if (index === newest.index) return undefined;
      if (head === undefined || head.index > index + 1 || lastIndex < newest.index) {
        return `the retained log does not hold entries ${index + 1}..${newest.index} to bring it up to the newest snapshot`;
      }
      return undefined;
    },
  });
  if (loaded.snapshot === undefined) throw new WalSnapshotMissingError(newest.index, newest.term, loaded.rejected);
  return { snapshot: loaded.snapshot, skipped: [...loaded.rejected] };
}
