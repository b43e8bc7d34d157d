// Creating a segment file, and the layout of a WAL directory that every writer shares.
//
//   dir/LOCK                      flock'd while the WAL is open (dir-lock.ts)
//   dir/wal/<seq>-<first>.wal     segments: record.ts frames the records, codec.ts encodes them
//   dir/snap/<index>-<term>.snap  snapshots (snapshot-files.ts)
//
// Every segment starts with a metadata record (format version, its sequence, its first index, the
// driver's metadata), then the newest snapshot marker and hard state as of its creation. That
// repetition makes each segment a self-sufficient starting point, which is what lets releaseTo
// delete older segments without losing the hard state or the marker.

import { join } from "node:path";
import type { HardState } from "../raft/types.ts";
import {
  encodeVote,
  hardStateSize,
  MARKER_SIZE,
  segmentHeaderSize,
  writeHardState,
  writeMarker,
  writeSegmentHeader,
  type SnapshotMarker,
} from "./codec.ts";
import type { WalFile, WalFs, WalLock } from "./file-system.ts";
import { segmentName, TMP_SUFFIX } from "./names.ts";
import { FRAME_HEADER_BYTES, RecordType, sealFrame } from "./record.ts";

export interface Layout {
  readonly fs: WalFs;
  readonly lock: WalLock;
  readonly walDir: string;
  readonly snapDir: string;
  readonly segmentBytes: number;
  readonly retainSnapshots: number;
}

export interface Segment {
  readonly seq: number;
  readonly firstIndex: number;
  readonly path: string;
}

/** Creates segment `seq` atomically (.tmp, header records, preallocate, fsync, rename, fsync dir). */
export async function createSegment(
  layout: Layout,
  seq: number,
  firstIndex: number,
  metadata: Uint8Array,
  marker: SnapshotMarker | undefined,
  hardState: HardState | undefined,
): Promise<{ file: WalFile; end: number }> {
  const { fs, walDir, segmentBytes } = layout;
  const header = { seq, firstIndex, metadata };
  const vote = hardState === undefined ? null : encodeVote(hardState);
  const len =
    FRAME_HEADER_BYTES +
    segmentHeaderSize(header) +
    (marker === undefined ? 0 : FRAME_HEADER_BYTES + MARKER_SIZE) +
    (hardState === undefined ? 0 : FRAME_HEADER_BYTES + hardStateSize(vote));
  const buf = new Uint8Array(len);
  const view = new DataView(buf.buffer);
  let off = 0;
  writeSegmentHeader(buf, view, off + FRAME_HEADER_BYTES, header);
  sealFrame(buf, view, off, RecordType.metadata, segmentHeaderSize(header));
  off += FRAME_HEADER_BYTES + segmentHeaderSize(header);
  if (marker !== undefined) {
    writeMarker(view, off + FRAME_HEADER_BYTES, marker);
    sealFrame(buf, view, off, RecordType.snapshot, MARKER_SIZE);
    off += FRAME_HEADER_BYTES + MARKER_SIZE;
  }
  if (hardState !== undefined) {
    writeHardState(buf, view, off + FRAME_HEADER_BYTES, hardState, vote);
    sealFrame(buf, view, off, RecordType.hardState, hardStateSize(vote));
    off += FRAME_HEADER_BYTES + hardStateSize(vote);
  }

  const path = join(walDir, segmentName(seq, firstIndex));
  const tmp = path + TMP_SUFFIX;
  const file = await fs.create(tmp);
  try {
    await file.write(buf, 0);
    // Preallocation: the file never grows while records are appended, so fdatasync need not
    // journal a size change. (ftruncate leaves a sparse file; node has no fallocate.)
    await file.truncate(Math.max(segmentBytes, len));
    await file.sync();
    await fs.rename(tmp, path);
    await fs.syncDir(walDir);
  } catch (err) {
    await file.close().catch(() => {});
    throw err;
  }
  return { file: new RenamedFile(file, path), end: len };
}

/** A WalFile whose path reflects the rename its handle survived. */
class RenamedFile implements WalFile {
  constructor(
    private readonly inner: WalFile,
    readonly path: string,
  ) {}
  write(data: Uint8Array, position: number): Promise<void> {
    return this.inner.write(data, position);
  }
  datasync(): Promise<void> {
    return this.inner.datasync();
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}