import { describe, expect, test } from "bun:test";
import type { Entry, HardState } from "../raft/types.ts";
import {
  DecodeError,
  decodeSnapshotBody,
  encodeSnapshotBody,
  encodeVote,
  entrySize,
  hardStateSize,
  readEntry,
  readHardState,
  readMarker,
  readSegmentHeader,
  readU64,
  segmentHeaderSize,
  writeEntry,
  writeHardState,
  writeMarker,
  writeSegmentHeader,
  writeU64,
} from "./codec.ts";

function buffer(size: number): { buf: Uint8Array; view: DataView } {
  // An offset into a larger buffer, so that the codecs are proven to respect byteOffset.
  const backing = new Uint8Array(size + 7);
  const buf = backing.subarray(3, 3 + size);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
}

describe("u64", () => {
  for (const n of [0, 1, 0xffff_ffff, 0x1_0000_0000, 2 ** 53 - 1]) {
    test(`round-trips ${n}`, () => {
      const { view } = buffer(8);
      writeU64(view, 0, n);
      expect(readU64(view, 0)).toBe(n);
    });
  }

  test("refuses what is not a non-negative safe integer", () => {
    const { view } = buffer(8);
    for (const n of [-1, 1.5, 2 ** 53, Number.NaN]) expect(() => writeU64(view, 0, n)).toThrow(RangeError);
  });

  test("reads values above 2^53 as damage", () => {
    const { view } = buffer(8);
    view.setUint32(4, 0x20_0000, true);
    expect(() => readU64(view, 0)).toThrow(DecodeError);
  });
});

describe("entry", () => {
  const cases: Entry[] = [
    { term: 1, index: 1, type: "normal", data: new Uint8Array(0) },
    { term: 7, index: 2 ** 53 - 1, type: "confChange", data: new Uint8Array([1, 2, 3]) },
    { term: 2 ** 40, index: 12345, type: "normal", data: new Uint8Array(70_000).fill(0xab) },
  ];
  for (const e of cases) {
    test(`round-trips ${e.type} ${e.index}/${e.term} with ${e.data.length} bytes`, () => {
      const { buf, view } = buffer(entrySize(e));
      writeEntry(buf, view, 0, e);
      expect(readEntry(buf, view, 0, buf.length)).toStrictEqual(e);
    });
  }

  test("an unknown entry type does not decode", () => {
    const e: Entry = { term: 1, index: 1, type: "normal", data: new Uint8Array(0) };
    const { buf, view } = buffer(entrySize(e));
    writeEntry(buf, view, 0, e);
    view.setUint8(16, 9);
    expect(() => readEntry(buf, view, 0, buf.length)).toThrow(DecodeError);
    expect(() => readEntry(buf, view, 0, 16)).toThrow(DecodeError);
  });
});

describe("hard state", () => {
  const cases: HardState[] = [
    { term: 0, vote: null, commit: 0 },
    { term: 5, vote: "cp-1", commit: 99 },
    { term: 2 ** 53 - 1, vote: "nœud-ü-😀", commit: 2 ** 53 - 1 },
  ];
  for (const hs of cases) {
    test(`round-trips ${JSON.stringify(hs)}`, () => {
      const vote = encodeVote(hs);
      const { buf, view } = buffer(hardStateSize(vote));
      writeHardState(buf, view, 0, hs, vote);
      expect(readHardState(buf, view, 0, buf.length)).toStrictEqual(hs);
    });
  }

  test("invalid UTF-8 in the vote does not decode", () => {
    const { buf, view } = buffer(18);
    view.setUint8(16, 1);
    buf[17] = 0xff;
    expect(() => readHardState(buf, view, 0, 18)).toThrow(DecodeError);
  });
});

test("snapshot marker round-trips and checks its length", () => {
  const { view } = buffer(16);
  writeMarker(view, 0, { index: 42, term: 3 });
  expect(readMarker(view, 0, 16)).toStrictEqual({ index: 42, term: 3 });
  expect(() => readMarker(view, 0, 15)).toThrow(DecodeError);
});

test("segment header round-trips", () => {
  const h = { seq: 3, firstIndex: 1001, metadata: new TextEncoder().encode('{"cluster":"c1"}') };
  const { buf, view } = buffer(segmentHeaderSize(h));
  writeSegmentHeader(buf, view, 0, h);
  expect(readSegmentHeader(buf, view, 0, buf.length)).toStrictEqual(h);
  view.setUint8(0, 2);
  expect(() => readSegmentHeader(buf, view, 0, buf.length)).toThrow("unsupported WAL format version 2");
});

test("snapshot body round-trips; a cut inside its metadata does not decode", () => {
  const metadata = { index: 500, term: 4, confState: { voters: ["cp-1", "cp-2", "cp-3"], learners: ["cp-4"] } };
  const data = new Uint8Array([9, 8, 7]);
  const body = encodeSnapshotBody(metadata, data);
  expect(decodeSnapshotBody(body, 0, body.length)).toStrictEqual({ metadata, data });
  // Truncations inside the metadata are caught by the decoder (the file checksum catches the rest).
  const metaEnd = body.length - data.length;
  for (let cut = 0; cut < metaEnd; cut++) expect(() => decodeSnapshotBody(body, 0, cut)).toThrow(DecodeError);
});
