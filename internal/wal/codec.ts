// Binary encodings of the payloads the WAL stores: Entry, HardState, snapshot markers, segment
// headers and snapshot file bodies. Little-endian throughout; a u64 is written as two u32 halves
// and read back only if it is a safe integer, so every term and index round-trips exactly.
// Each encoder is a size function plus a writer into a caller-owned buffer, so that a whole batch
// of records is encoded into one allocation on the hot path.

import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from "../raft/types.ts";

/** A payload that does not decode: the caller knows the file and offset and reports corruption. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
}

const TWO_32 = 0x1_0000_0000;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function writeU64(view: DataView, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  view.setUint32(off, n >>> 0, true);
  view.setUint32(off + 4, Math.floor(n / TWO_32), true);
}

export function readU64(view: DataView, off: number): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  if (hi >= 0x20_0000) throw new DecodeError(`u64 at ${off} exceeds 2^53`);
  return hi * TWO_32 + lo;
}

function need(len: number, min: number, what: string): void {
  if (len < min) throw new DecodeError(`${what} payload is ${len} bytes, shorter than ${min}`);
}

// ---- Entry: term u64, index u64, type u8 (0 normal, 1 confChange), data ----

const ENTRY_FIXED = 17;
const ENTRY_TYPES: readonly EntryType[] = ["normal", "confChange"];

export function entrySize(e: Entry): number {
  return ENTRY_FIXED + e.data.length;
}

export function writeEntry(buf: Uint8Array, view: DataView, off: number, e: Entry): void {
  writeU64(view, off, e.term);
  writeU64(view, off + 8, e.index);
  view.setUint8(off + 16, e.type === "normal" ? 0 : 1);
  buf.set(e.data, off + ENTRY_FIXED);
}

export function readEntry(buf: Uint8Array, view: DataView, off: number, len: number): Entry {
  need(len, ENTRY_FIXED, "entry");
  const type = ENTRY_TYPES[view.getUint8(off + 16)];
  if (type === undefined) throw new DecodeError(`unknown entry type ${view.getUint8(off + 16)}`);
  return {
    term: readU64(view, off),
    index: readU64(view, off + 8),
    type,
    // A copy, so that the entry does not pin the whole segment buffer in memory.
    data: buf.slice(off + ENTRY_FIXED, off + len),
  };
}

// ---- HardState: term u64, commit u64, hasVote u8, vote UTF-8 ----

const HARD_STATE_FIXED = 17;

/** The vote's UTF-8 bytes, computed once and shared by hardStateSize and writeHardState. */
export function encodeVote(hs: HardState): Uint8Array | null {
  return hs.vote === null ? null : utf8.encode(hs.vote);
}

export function hardStateSize(vote: Uint8Array | null): number {
  return HARD_STATE_FIXED + (vote?.length ?? 0);
}

export function writeHardState(buf: Uint8Array, view: DataView, off: number, hs: HardState, vote: Uint8Array | null): void {
  writeU64(view, off, hs.term);
  writeU64(view, off + 8, hs.commit);
  view.setUint8(off + 16, vote === null ? 0 : 1);
  if (vote !== null) buf.set(vote, off + HARD_STATE_FIXED);
}

export function readHardState(buf: Uint8Array, view: DataView, off: number, len: number): HardState {
  need(len, HARD_STATE_FIXED, "hard state");
  const flag = view.getUint8(off + 16);
  if (flag > 1 || (flag === 0 && len !== HARD_STATE_FIXED)) throw new DecodeError("bad vote field");
  return {
    term: readU64(view, off),
    commit: readU64(view, off + 8),
    vote: flag === 0 ? null : decodeText(buf.subarray(off + HARD_STATE_FIXED, off + len)),
  };
}

// ---- Snapshot marker: index u64, term u64 ----

export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
}

export const MARKER_SIZE = 16;

export function writeMarker(view: DataView, off: number, m: SnapshotMarker): void {
  writeU64(view, off, m.index);
  writeU64(view, off + 8, m.term);
}

export function readMarker(view: DataView, off: number, len: number): SnapshotMarker {
  if (len !== MARKER_SIZE) throw new DecodeError(`snapshot marker payload is ${len} bytes, expected ${MARKER_SIZE}`);
  return { index: readU64(view, off), term: readU64(view, off + 8) };
}

// ---- Segment header (the metadata record, first in every segment):
//      version u8, seq u64, firstIndex u64, metadata bytes ----

export const FORMAT_VERSION = 1;
const SEGMENT_HEADER_FIXED = 17;

export interface SegmentHeader {
  readonly seq: number;
  readonly firstIndex: number;
  /** Opaque to the WAL: the driver's cluster id, member id and the like. */
  readonly metadata: Uint8Array;
}

export function segmentHeaderSize(h: SegmentHeader): number {
  return SEGMENT_HEADER_FIXED + h.metadata.length;
}

export function writeSegmentHeader(buf: Uint8Array, view: DataView, off: number, h: SegmentHeader): void {
  view.setUint8(off, FORMAT_VERSION);
  writeU64(view, off + 1, h.seq);
  writeU64(view, off + 9, h.firstIndex);
  buf.set(h.metadata, off + SEGMENT_HEADER_FIXED);
}

export function readSegmentHeader(buf: Uint8Array, view: DataView, off: number, len: number): SegmentHeader {
  need(len, SEGMENT_HEADER_FIXED, "segment header");
  const version = view.getUint8(off);
  if (version !== FORMAT_VERSION) throw new DecodeError(`unsupported WAL format version ${version}`);
  return {
    seq: readU64(view, off + 1),
    firstIndex: readU64(view, off + 9),
    metadata: buf.slice(off + SEGMENT_HEADER_FIXED, off + len),
  };
}

// ---- Snapshot file body: index u64, term u64, voters, learners, data.
//      A list of ids is count u32 then, per id, length u32 and UTF-8. ----

function idsSize(ids: readonly Uint8Array[]): number {
  let n = 4;
  for (const id of ids) n += 4 + id.length;
  return n;
}

function writeIds(buf: Uint8Array, view: DataView, off: number, ids: readonly Uint8Array[]): number {
  view.setUint32(off, ids.length, true);
  off += 4;
  for (const id of ids) {
    view.setUint32(off, id.length, true);
    buf.set(id, off + 4);
    off += 4 + id.length;
  }
  return off;
}

function readIds(buf: Uint8Array, view: DataView, off: number, end: number): [string[], number] {
  if (off + 4 > end) throw new DecodeError("truncated id list");
  const count = view.getUint32(off, true);
  off += 4;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    if (off + 4 > end) throw new DecodeError("truncated id list");
    const len = view.getUint32(off, true);
    if (off + 4 + len > end) throw new DecodeError("truncated id");
    ids.push(decodeText(buf.subarray(off + 4, off + 4 + len)));
    off += 4 + len;
  }
  return [ids, off];
}

/** The encoded metadata and data of a snapshot, as stored after the snapshot file's header. */
export function encodeSnapshotBody(meta: SnapshotMetadata, data: Uint8Array): Uint8Array {
  const voters = meta.confState.voters.map((v) => utf8.encode(v));
  const learners = meta.confState.learners.map((v) => utf8.encode(v));
  const size = 16 + idsSize(voters) + idsSize(learners) + data.length;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  writeU64(view, 0, meta.index);
  writeU64(view, 8, meta.term);
  let off = writeIds(buf, view, 16, voters);
  off = writeIds(buf, view, off, learners);
  buf.set(data, off);
  return buf;
}

export function decodeSnapshotBody(buf: Uint8Array, off: number, end: number): { metadata: SnapshotMetadata; data: Uint8Array } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (off + 16 > end) throw new DecodeError("truncated snapshot metadata");
  const index = readU64(view, off);
  const term = readU64(view, off + 8);
  const [voters, afterVoters] = readIds(buf, view, off + 16, end);
  const [learners, afterLearners] = readIds(buf, view, afterVoters, end);
  const confState: ConfState = { voters, learners };
  return { metadata: { index, term, confState }, data: buf.slice(afterLearners, end) };
}

function decodeText(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new DecodeError("invalid UTF-8");
  }
}
