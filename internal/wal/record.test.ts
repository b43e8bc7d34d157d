import { describe, expect, test } from "bun:test";
import { WalCorruptError } from "./errors.ts";
import { checkFrameAt, FRAME_HEADER_BYTES, RecordType, scanSegment, sealFrame, type RecordTypeCode } from "./record.ts";

/** A segment image: the given payloads framed back to back, then `tail` zero bytes. */
function segment(payloads: readonly Uint8Array[], tail = 0, type: RecordTypeCode = RecordType.entry): { buf: Uint8Array; offsets: number[]; end: number } {
  let size = tail;
  for (const p of payloads) size += FRAME_HEADER_BYTES + p.length;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  const offsets: number[] = [];
  let off = 0;
  for (const p of payloads) {
    offsets.push(off);
    buf.set(p, off + FRAME_HEADER_BYTES);
    sealFrame(buf, view, off, type, p.length);
    off += FRAME_HEADER_BYTES + p.length;
  }
  return { buf, offsets, end: off };
}

const payloads = Array.from({ length: 20 }, (_, i) => new Uint8Array(40 + i).fill(i + 1));

describe("scanSegment", () => {
  test("reads every record and stops cleanly at preallocated zeros", () => {
    const { buf, end } = segment(payloads, 4096);
    const scan = scanSegment(buf, "f", true);
    expect(scan.frames.length).toBe(20);
    expect(scan.end).toBe(end);
    expect(scan.torn).toBeUndefined();
  });

  test("an all-zero header never checks out", () => {
    const buf = new Uint8Array(64);
    expect(checkFrameAt(buf, new DataView(buf.buffer), 0)).toMatchObject({ kind: "bad" });
  });

  test("a torn last record is reported for cutting, with the non-zero bytes it held", () => {
    const { buf, offsets } = segment(payloads);
    const last = offsets.at(-1)!;
    for (const cut of [last + 1, last + 15, last + 16, buf.length - 1]) {
      const scan = scanSegment(buf.subarray(0, cut), "f", true);
      expect(scan.end).toBe(last);
      expect(scan.torn).toMatchObject({ offset: last, bytesDropped: cut - last });
    }
  });

  test("a damaged record with valid records after it is corruption", () => {
    const { buf, offsets } = segment(payloads, 1000);
    buf[offsets[10]! + 30]! ^= 0x04;
    expect(() => scanSegment(buf, "seg.wal", true)).toThrow(WalCorruptError);
    try {
      scanSegment(buf, "seg.wal", true);
    } catch (err) {
      expect(err).toMatchObject({ file: "seg.wal", offset: offsets[10] });
    }
  });

  test("a damaged length field is found as damage, not followed to a wrong offset", () => {
    const { buf, offsets } = segment(payloads);
    buf[offsets[3]!]! ^= 0x01;
    expect(() => scanSegment(buf, "f", true)).toThrow(`offset ${offsets[3]}`);
  });

  test("any bad record or trailing zeros in a segment that is not the last is corruption", () => {
    const { buf, offsets } = segment(payloads, 100);
    expect(() => scanSegment(buf, "f", false)).toThrow("not the last");
    const clean = segment(payloads);
    expect(() => scanSegment(clean.buf.subarray(0, clean.end - 1), "f", false)).toThrow(`offset ${offsets.at(-1)}`);
    expect(scanSegment(clean.buf, "f", false).frames.length).toBe(20);
  });

  test("checksums that match over invalid content are corruption even at the tail", () => {
    const { buf } = segment([new Uint8Array(10)], 0, 9 as RecordTypeCode);
    expect(() => scanSegment(buf, "f", true)).toThrow("unknown record type 9");
  });

  test("a zero-filled sector before later valid records is a lost unsynced write: cut as torn", () => {
    // Records spanning several sectors; the second sector's bytes never reached the disk.
    const { buf, offsets } = segment(Array.from({ length: 40 }, () => new Uint8Array(100).fill(7)), 2048);
    buf.fill(0, 512, 1024);
    const firstBad = offsets.findLast((o) => o < 512)!;
    const scan = scanSegment(buf, "f", true);
    expect(scan.end).toBe(firstBad);
    expect(scan.torn?.offset).toBe(firstBad);
    expect(scan.torn?.reason).toContain("lost unsynced sectors");
  });
});
