// Rebuilds a member's durable state from the records of its segments, in order. Pure: no I/O.
//
// The rules mirror how the writer uses the log:
//  - An entry whose index is at or below the last one read replaces the tail from that index on: a
//    new leader overwrote a conflicting suffix (Raft truncation).
//  - A snapshot marker beyond the last entry (a snapshot installed from the leader) ends the old
//    log: the next entry follows the snapshot.
//  - Any other jump forward is a gap, which the writer never produces: corruption.
//  - The last hard state wins.

import { EMPTY_HARD_STATE, type Entry, type HardState } from "../raft/types.ts";
import { DecodeError, readEntry, readHardState, readMarker, readSegmentHeader, type SegmentHeader, type SnapshotMarker } from "./codec.ts";
import { WalCorruptError } from "./errors.ts";
import { RecordType, type Frame } from "./record.ts";

export interface Position {
  readonly file: string;
  readonly offset: number;
}

export class Replay {
  hardState: HardState = EMPTY_HARD_STATE;
  /** Contiguous, oldest first; may start at or before the snapshot that will be chosen. */
  entries: Entry[] = [];
  /** Where the first of `entries` was read, for error messages. */
  firstEntryAt: Position | undefined;
  /** Distinct markers in the order they were written; the last is the newest. */
  readonly markers: SnapshotMarker[] = [];
  /** The index the next entry may have at most; undefined before the first segment header. */
  nextIndex: number | undefined;
  metadata: Uint8Array | undefined;

  /** Applies one segment; `header` is what the segment's name says. */
  segment(file: string, buf: Uint8Array, frames: readonly Frame[], expected: { seq: number; firstIndex: number }): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const first = frames[0];
    if (first === undefined || first.type !== RecordType.metadata) {
      throw new WalCorruptError(file, 0, "the segment does not start with its header record");
    }
    for (const frame of frames) {
      try {
        this.record(file, buf, view, frame, expected);
      } catch (err) {
        if (err instanceof DecodeError) throw new WalCorruptError(file, frame.offset, `undecodable record: ${err.message}`);
        throw err;
      }
    }
  }

  private record(file: string, buf: Uint8Array, view: DataView, f: Frame, expected: { seq: number; firstIndex: number }): void {
    const at: Position = { file, offset: f.offset };
    switch (f.type) {
      case RecordType.metadata:
        return this.header(at, readSegmentHeader(buf, view, f.payloadOffset, f.payloadLength), expected);
      case RecordType.entry:
        return this.entry(at, readEntry(buf, view, f.payloadOffset, f.payloadLength));
      case RecordType.hardState:
        this.hardState = readHardState(buf, view, f.payloadOffset, f.payloadLength);
        return;
      case RecordType.snapshot:
        return this.marker(readMarker(view, f.payloadOffset, f.payloadLength));
    }
  }

  private header(at: Position, h: SegmentHeader, expected: { seq: number; firstIndex: number }): void {
    if (at.offset !== 0) throw new WalCorruptError(at.file, at.offset, "a segment header in the middle of a segment");
    if (h.seq !== expected.seq || h.firstIndex !== expected.firstIndex) {
      throw new WalCorruptError(at.file, 0, `the header says sequence ${h.seq}, first index ${h.firstIndex}; the file name disagrees`);
    }
    if (this.nextIndex !== undefined && h.firstIndex !== this.nextIndex) {
      throw new WalCorruptError(at.file, 0, `the segment starts at index ${h.firstIndex} but the previous one ended before ${this.nextIndex}`);
    }
    this.metadata ??= h.metadata;
    // The first segment read (the oldest retained) says where the log stood when it was started.
    this.nextIndex ??= h.firstIndex;
  }

  private entry(at: Position, e: Entry): void {
    if (e.index < 1) throw new WalCorruptError(at.file, at.offset, `entry index ${e.index}`);
    if (this.nextIndex !== undefined && e.index > this.nextIndex) {
      throw new WalCorruptError(at.file, at.offset, `entry ${e.index} leaves a gap after index ${this.nextIndex - 1}`);
    }
    const head = this.entries[0];
    if (head !== undefined && e.index < head.index + this.entries.length) {
      // Truncation: e replaces the entry at its index and everything after it.
      this.entries.length = Math.max(0, e.index - head.index);
    }
    if (this.entries.length === 0) this.firstEntryAt = at;
    this.entries.push(e);
    this.nextIndex = e.index + 1;
  }

  private marker(m: SnapshotMarker): void {
    const last = this.markers[this.markers.length - 1];
    if (last === undefined || last.index !== m.index || last.term !== m.term) this.markers.push(m);
    if (this.nextIndex === undefined || m.index >= this.nextIndex) {
      // Installed from the leader: nothing before it is continued by what comes next.
      this.entries = [];
      this.firstEntryAt = undefined;
      this.nextIndex = m.index + 1;
    }
  }
}
