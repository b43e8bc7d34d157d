// Record framing and the segment scanner that tells a torn tail from corruption.
//
// A record is a 16-byte frame header followed by its payload (all little-endian):
//
//   0   u32  payload length
//   4   u8   record type (RecordType)
//   5   u8×3 reserved, zero
//   8   u32  CRC-32 of the payload
//   12  u32  CRC-32 of bytes 0..11 of this header
//   16  ...  payload
//
// The header has its own checksum so that a damaged length field is recognised as damage instead of
// sending the reader to a wrong offset, and so that the scanner can look for a valid record at any
// byte offset after a bad one. That search is what separates the two cases a reader must not mix
// up: a torn tail (nothing valid follows: cut it off) and corruption in the middle (valid records
// follow: refuse to start). An all-zero header never checks out, so preallocated space reads as
// "no more records".

import { WalCorruptError } from "./errors.ts";

export const RecordType = {
  /** Segment header: format version, sequence, first index and the driver's metadata. First in every segment. */
  metadata: 1,
  entry: 2,
  hardState: 3,
  /** A snapshot marker: the snapshot (index, term) has been written to snap/. */
  snapshot: 4,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

export const FRAME_HEADER_BYTES = 16;
/** Larger lengths are treated as damage; no single entry comes near this. */
export const MAX_PAYLOAD_BYTES = 1 << 30;
/** The unit in which a disk loses unsynced writes; see scanSegment. */
const SECTOR_BYTES = 512;

const crc32 = (bytes: Uint8Array): number => Bun.hash.crc32(bytes);

/**
 * Completes the frame whose payload (`len` bytes) is already in place at `off + 16`: writes the
 * length, type and both checksums into the 16 bytes at `off`.
 */
export function sealFrame(buf: Uint8Array, view: DataView, off: number, type: RecordTypeCode, len: number): void {
  view.setUint32(off, len, true);
  view.setUint32(off + 4, type, true); // type byte, then three zero reserved bytes
  view.setUint32(off + 8, crc32(buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len)), true);
  view.setUint32(off + 12, crc32(buf.subarray(off, off + 12)), true);
}

export interface Frame {
  readonly type: RecordTypeCode;
  /** Where the frame header starts. */
  readonly offset: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** Just past the payload. */
  readonly end: number;
}

type FrameCheck =
  | { readonly kind: "ok"; readonly frame: Frame }
  /** Damaged or incomplete: a torn write or corruption, depending on what follows. */
  | { readonly kind: "bad"; readonly reason: string }
  /** Checksums match but the content is not ours to read (unknown type, reserved bits): always corruption. */
  | { readonly kind: "invalid"; readonly reason: string };

export function checkFrameAt(buf: Uint8Array, view: DataView, off: number): FrameCheck {
  const size = buf.length;
  if (off + FRAME_HEADER_BYTES > size) return { kind: "bad", reason: "incomplete record header" };
  if (view.getUint32(off + 12, true) !== crc32(buf.subarray(off, off + 12))) {
    return { kind: "bad", reason: isZero(buf, off, off + FRAME_HEADER_BYTES) ? "zeros where a record was expected" : "record header checksum mismatch" };
  }
  const len = view.getUint32(off, true);
  const type = view.getUint8(off + 4);
  if (type < RecordType.metadata || type > RecordType.snapshot) return { kind: "invalid", reason: `unknown record type ${type}` };
  if (view.getUint8(off + 5) !== 0 || view.getUint16(off + 6, true) !== 0) return { kind: "invalid", reason: "reserved header bytes are set" };
  if (len > MAX_PAYLOAD_BYTES) return { kind: "invalid", reason: `record length ${len} exceeds the maximum` };
  const payloadOffset = off + FRAME_HEADER_BYTES;
  const end = payloadOffset + len;
  if (end > size) return { kind: "bad", reason: `incomplete record payload (${size - payloadOffset} of ${len} bytes)` };
  if (view.getUint32(off + 8, true) !== crc32(buf.subarray(payloadOffset, end))) return { kind: "bad", reason: "record payload checksum mismatch" };
  return { kind: "ok", frame: { type: type as RecordTypeCode, offset: off, payloadOffset, payloadLength: len, end } };
}

export interface SegmentScan {
  readonly frames: readonly Frame[];
  /** Just past the last valid record: where the next record goes. */
  readonly end: number;
  /** Set when the tail of the last segment was torn: everything from `offset` on must be cut off. */
  readonly torn: { readonly offset: number; readonly bytesDropped: number; readonly reason: string } | undefined;
}

/**
 * Reads every record of one segment file. In the last segment, a bad record at the tail is a torn
 * write: it and everything after it is reported in `torn` for the caller to cut off (the scan itself
 * never writes). Trailing zeros are preallocated space and end the segment cleanly. Everything else
 * throws WalCorruptError naming the file and the offset of the first bad record:
 *  - any bad record, or trailing bytes, in a segment that is not the last;
 *  - a bad record in the last segment with a valid record somewhere after it;
 *  - a record whose checksums match but whose content is invalid.
 * One exception follows etcd: if the stretch between the bad record and the next valid one holds a
 * whole zero-filled 512-byte sector, the disk lost part of an unsynced write (the kernel writes
 * pages back in any order before fsync), so that tail was never acknowledged and is cut as torn.
 */
export function scanSegment(buf: Uint8Array, file: string, isLast: boolean): SegmentScan {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const frames: Frame[] = [];
  let off = 0;
  let bad: string | undefined;
  while (off < buf.length) {
    const check = checkFrameAt(buf, view, off);
    if (check.kind === "invalid") throw new WalCorruptError(file, off, check.reason);
    if (check.kind === "bad") {
      bad = check.reason;
      break;
    }
    frames.push(check.frame);
    off = check.frame.end;
  }
  if (bad === undefined) return { frames, end: off, torn: undefined };
  if (!isLast) throw new WalCorruptError(file, off, `${bad} in a segment that is not the last`);

  const lastNonZero = lastNonZeroByte(buf, off);
  if (lastNonZero < 0) return { frames, end: off, torn: undefined };
  const torn = { offset: off, bytesDropped: lastNonZero + 1 - off, reason: bad };
  const next = findValidFrame(buf, view, off + 1, lastNonZero);
  if (next === undefined) return { frames, end: off, torn };
  if (holdsZeroSector(buf, off, next)) return { frames, end: off, torn: { ...torn, reason: `${bad}; lost unsynced sectors before offset ${next}` } };
  throw new WalCorruptError(file, off, `${bad}, but a valid record follows at offset ${next}`);
}

/** The first offset in [from, last] where a whole valid record starts, if any. */
function findValidFrame(buf: Uint8Array, view: DataView, from: number, last: number): number | undefined {
  const limit = Math.min(last, buf.length - FRAME_HEADER_BYTES);
  for (let p = from; p <= limit; p++) {
    // Cheap filters first: a valid header has a known type and zero reserved bytes.
    const type = buf[p + 4]!;
    if (type < RecordType.metadata || type > RecordType.snapshot || buf[p + 5] !== 0 || buf[p + 6] !== 0 || buf[p + 7] !== 0) continue;
    if (checkFrameAt(buf, view, p).kind === "ok") return p;
  }
  return undefined;
}

function holdsZeroSector(buf: Uint8Array, from: number, to: number): boolean {
  for (let s = Math.ceil(from / SECTOR_BYTES) * SECTOR_BYTES; s + SECTOR_BYTES <= to; s += SECTOR_BYTES) {
    if (isZero(buf, s, s + SECTOR_BYTES)) return true;
  }
  return false;
}

/**
 * The offset of the last non-zero byte at or after `from`, or -1. A preallocated segment is mostly
 * zeros, so the aligned middle is compared eight bytes at a time (as float64; -0 is the one
 * non-zero bit pattern that compares equal to 0).
 */
function lastNonZeroByte(buf: Uint8Array, from: number): number {
  const base = buf.byteOffset;
  const lo = Math.min(buf.length, Math.ceil((base + from) / 8) * 8 - base);
  const hi = Math.max(lo, Math.floor((base + buf.length) / 8) * 8 - base);
  for (let i = buf.length - 1; i >= hi; i--) if (buf[i] !== 0) return i;
  if (hi > lo) {
    const words = new Float64Array(buf.buffer, base + lo, (hi - lo) / 8);
    for (let w = words.length - 1; w >= 0; w--) {
      const x = words[w]!;
      if (x !== 0 || Object.is(x, -0)) {
        for (let i = lo + w * 8 + 7; i >= lo + w * 8; i--) if (buf[i] !== 0) return i;
      }
    }
  }
  for (let i = lo - 1; i >= from; i--) if (buf[i] !== 0) return i;
  return -1;
}

function isZero(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}
