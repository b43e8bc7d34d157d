// What a member finds after a crash, a damaged disk or a full one.

import { describe, expect, test } from "bun:test";
import { cpSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HardState } from "../raft/types.ts";
import { FaultyFs } from "./faulty-fs.ts";
import { cleanTempDirsAfterEach, entries, entry, fingerprint, segmentFiles, tempDir } from "./fixtures.ts";
import { openWal, WalCorruptError, WalWriteError, type WalOptions, type WalState } from "./index.ts";
import { scanSegment } from "./record.ts";

cleanTempDirsAfterEach();

const SMALL: WalOptions = { segmentBytes: 4096 };
const HS1: HardState = { term: 1, vote: "a", commit: 2 };
const HS2: HardState = { term: 2, vote: "b", commit: 3 };

async function reopen(dir: string, options: WalOptions = SMALL): Promise<WalState> {
  const { wal, state } = await openWal(dir, options);
  await wal.close();
  return state;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

/** A WAL holding entries 1..3 with HS1, then entry 4 alone in the last record; returns that record's bounds. */
async function walWithKnownLastRecord(dir: string): Promise<{ file: string; start: number; end: number }> {
  const { wal } = await openWal(dir, SMALL);
  await wal.save(HS1, entries(1, 3));
  await wal.save(undefined, [entry(4, 1, 40)]);
  await wal.close();
  const file = segmentFiles(dir).at(-1)!;
  const frames = scanSegment(readFileSync(file), file, true).frames;
  const last = frames.at(-1)!;
  return { file, start: last.offset, end: last.end };
}

function lastNonZero(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] !== 0) return i;
  return -1;
}

describe("crash recovery", () => {
  test("torn WAL tail", async () => {
    const base = tempDir();
    const { file, start, end } = await walWithKnownLastRecord(base);
    const image = readFileSync(file);
    const rel = file.slice(base.length);
    for (const shape of ["file ends", "zeros follow"] as const) {
      for (let k = 0; k < end - start; k++) {
        const dir = tempDir();
        cpSync(base, dir, { recursive: true });
        const torn = new Uint8Array(shape === "file ends" ? start + k : image.length);
        torn.set(image.subarray(0, start + k));
        writeFileSync(dir + rel, torn);

        const state = await reopen(dir);
        expect(state.entries).toStrictEqual(entries(1, 3));
        expect(state.hardState).toStrictEqual(HS1);
        const dropped = lastNonZero(image.subarray(start, start + k)) + 1;
        if (dropped === 0) expect(state.repaired).toBeUndefined();
        else expect(state.repaired).toMatchObject({ file: dir + rel, offset: start, bytesDropped: dropped });

        // The cut is durable and the WAL appends after it.
        const { wal } = await openWal(dir, SMALL);
        await wal.save(HS2, [entry(4, 2)]);
        await wal.close();
        const after = await reopen(dir);
        expect(after.repaired).toBeUndefined();
        expect(after.entries).toStrictEqual([...entries(1, 3), entry(4, 2)]);
        rmSync(dir, { recursive: true });
      }
    }
  });

  test("WAL that lost its unsynced suffix in a crash", async () => {
    for (const loss of ["truncated to the synced length", "zeros after the synced length", "half of the unsynced bytes kept"] as const) {
      const dir = tempDir();
      const faulty = new FaultyFs();
      const { wal } = await openWal(dir, { ...SMALL, fs: faulty });
      await wal.save(HS1, entries(1, 3));
      const synced = faulty.syncedLength(wal.segmentPaths.at(-1)!);

      faulty.holdSyncs();
      let acknowledged = false;
      void wal.save(HS2, entries(4, 8, 2, 100)).then(() => (acknowledged = true));
      await faulty.syncsHeld(1); // written, fsync in flight...
      expect(acknowledged).toBe(false);
      await faulty.crash(); // ...and the process dies before it completes

      const file = segmentFiles(dir).at(-1)!;
      const image = readFileSync(file);
      const written = lastNonZero(image) + 1;
      expect(written).toBeGreaterThan(synced);
      if (loss === "truncated to the synced length") truncateSync(file, synced);
      else if (loss === "zeros after the synced length") writeFileSync(file, Buffer.concat([image.subarray(0, synced), Buffer.alloc(image.length - synced)]));
      else truncateSync(file, synced + Math.floor((written - synced) / 2));

      const state = await reopen(dir);
      // Whole records of the unsynced save may survive; torn ones are cut; what was synced is all there.
      expect(state.entries.slice(0, 3)).toStrictEqual(entries(1, 3));
      if (loss === "half of the unsynced bytes kept") {
        expect(state.repaired).toMatchObject({ file });
        expect(state.entries.length).toBeGreaterThan(3);
        expect(state.hardState).toStrictEqual(HS1); // the hard state comes after the entries of its save
      } else {
        expect(state.repaired).toBeUndefined();
        expect(state.entries).toStrictEqual(entries(1, 3));
        expect(state.hardState).toStrictEqual(HS1);
      }
    }
  });

  test("a crash that persisted a later sector of an unsynced write but not an earlier one", async () => {
    const dir = tempDir();
    const faulty = new FaultyFs();
    const { wal } = await openWal(dir, { segmentBytes: 16384, fs: faulty });
    await wal.save(HS1, entries(1, 3));
    const synced = faulty.syncedLength(wal.segmentPaths.at(-1)!);
    faulty.holdSyncs();
    void wal.save(HS2, entries(4, 40, 2, 100));
    await faulty.syncsHeld(1);
    await faulty.crash();

    const file = segmentFiles(dir).at(-1)!;
    const image = readFileSync(file);
    const hole = Math.ceil((synced + 1) / 512) * 512 + 512; // a whole sector inside the unsynced write
    image.fill(0, hole, hole + 512);
    writeFileSync(file, image);

    const state = await reopen(dir, { segmentBytes: 16384 });
    expect(state.repaired?.reason).toContain("lost unsynced sectors");
    expect(state.entries.slice(0, 3)).toStrictEqual(entries(1, 3));
    expect(state.entries.at(-1)!.index).toBeLessThan(40);
  });
});

describe("corruption refuses to start and changes nothing", () => {
  test("every single-bit flip in a record in the middle of the last segment", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    for (let i = 1; i <= 10; i++) await wal.save({ term: 1, vote: "a", commit: i }, [entry(i, 1, 20)]);
    await wal.close();
    const file = segmentFiles(dir).at(-1)!;
    const image = readFileSync(file);
    const victim = scanSegment(image, file, true).frames[8]!;

    for (let at = victim.offset; at < victim.end; at++) {
      const damaged = Buffer.from(image);
      damaged[at]! ^= 1 << (at % 8);
      writeFileSync(file, damaged);
      const before = fingerprint(dir);
      const err = await rejection(openWal(dir, SMALL));
      expect(err).toBeInstanceOf(WalCorruptError);
      expect(err).toMatchObject({ file, offset: victim.offset });
      expect(fingerprint(dir)).toStrictEqual(before);
    }
  });

  test("a damaged record in a segment that is not the last", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    for (let i = 1; i <= 60; i++) await wal.save(undefined, [entry(i, 1, 200)]);
    await wal.close();
    const [first] = segmentFiles(dir);
    const image = readFileSync(first!);
    const frames = scanSegment(image, first!, false).frames;
    const last = frames.at(-1)!; // even the very last record: only the last segment may be torn
    image[last.end - 1]! ^= 0x80;
    writeFileSync(first!, image);
    const before = fingerprint(dir);
    const err = await rejection(openWal(dir, SMALL));
    expect(err).toMatchObject({ name: "WalCorruptError", file: first, offset: last.offset });
    expect(fingerprint(dir)).toStrictEqual(before);

    // A segment cut short is refused the same way.
    image[last.end - 1]! ^= 0x80;
    writeFileSync(first!, image.subarray(0, last.end - 3));
    await expect(openWal(dir, SMALL)).rejects.toMatchObject({ name: "WalCorruptError", file: first, offset: last.offset });
  });

  test("a missing segment in the sequence", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    for (let i = 1; i <= 60; i++) await wal.save(undefined, [entry(i, 1, 200)]);
    await wal.close();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    unlinkSync(files[1]!);
    const before = fingerprint(dir);
    const err = await rejection(openWal(dir, SMALL));
    expect(err).toMatchObject({ name: "WalCorruptError", file: files[2], offset: 0 });
    expect(String(err)).toContain("segment 2 is missing");
    expect(fingerprint(dir)).toStrictEqual(before);
  });

  test("a damaged last record looks like a torn write and is cut (as in etcd)", async () => {
    const dir = tempDir();
    const { file, end } = await walWithKnownLastRecord(dir);
    const image = readFileSync(file);
    image[end - 1]! ^= 0x01;
    writeFileSync(file, image);
    const state = await reopen(dir);
    expect(state.entries).toStrictEqual(entries(1, 3));
    expect(state.repaired?.reason).toBe("record payload checksum mismatch");
  });
});

describe("write errors stop the WAL", () => {
  test("ENOSPC mid-write fails stop, and reopening yields the last synced state", async () => {
    const dir = tempDir();
    const faulty = new FaultyFs();
    const { wal } = await openWal(dir, { ...SMALL, fs: faulty });
    await wal.save(HS1, entries(1, 3));

    faulty.failNext({ op: "write", code: "ENOSPC", afterBytes: 30 });
    const a = wal.save(HS2, entries(4, 6, 2));
    const b = wal.save(undefined, entries(7, 7, 2)); // queued into the same commit
    const errA = await rejection(a);
    expect(errA).toBeInstanceOf(WalWriteError);
    expect(errA).toMatchObject({ code: "ENOSPC", first: true });
    expect(await rejection(b)).toBeInstanceOf(WalWriteError);
    const writes = faulty.counts.write;

    // Fail-stop: nothing more is accepted, though the disk might now have room.
    const later = await rejection(wal.save(undefined, entries(4, 4, 2)));
    expect(later).toMatchObject({ name: "WalWriteError", code: "ENOSPC", first: false });
    await expect(wal.saveSnapshot({ metadata: { index: 3, term: 1, confState: { voters: ["a"], learners: [] } }, data: new Uint8Array(1) })).rejects.toBeInstanceOf(WalWriteError);
    await expect(wal.releaseTo(3)).rejects.toBeInstanceOf(WalWriteError);
    expect(faulty.counts.write).toBe(writes);
    await wal.close();

    const state = await reopen(dir);
    expect(state.entries).toStrictEqual(entries(1, 3));
    expect(state.hardState).toStrictEqual(HS1);
    // The 30 bytes that reached the disk are cut (bytesDropped counts up to the last non-zero one).
    expect(state.repaired?.bytesDropped).toBeGreaterThan(0);
    expect(state.repaired?.bytesDropped).toBeLessThanOrEqual(30);
  });

  test("a failed fsync (EIO) fails stop; what was acknowledged survives", async () => {
    const dir = tempDir();
    const faulty = new FaultyFs();
    const { wal } = await openWal(dir, { ...SMALL, fs: faulty });
    await wal.save(HS1, entries(1, 3));
    faulty.failNext({ op: "datasync", code: "EIO" });
    expect(await rejection(wal.save(HS2, entries(4, 5, 2)))).toMatchObject({ name: "WalWriteError", code: "EIO" });
    await expect(wal.save(undefined, [])).rejects.toBeInstanceOf(WalWriteError);
    await wal.close();
    const state = await reopen(dir);
    expect(state.entries.slice(0, 3)).toStrictEqual(entries(1, 3));
  });

  test("a failure while starting a new segment fails stop", async () => {
    const dir = tempDir();
    const faulty = new FaultyFs();
    const { wal } = await openWal(dir, { ...SMALL, fs: faulty });
    faulty.failNext({ op: "create", code: "ENOSPC", pathIncludes: ".wal" });
    let saved = 0;
    let failure: unknown;
    for (let i = 1; i <= 100 && failure === undefined; i++) {
      try {
        await wal.save({ term: 1, vote: null, commit: i }, [entry(i, 1, 200)]);
        saved = i;
      } catch (err) {
        failure = err;
      }
    }
    expect(failure).toMatchObject({ name: "WalWriteError", code: "ENOSPC" });
    await wal.close();
    const state = await reopen(dir);
    expect(state.entries).toStrictEqual(Array.from({ length: saved }, (_, i) => entry(i + 1, 1, 200)));
    expect(state.hardState.commit).toBe(saved);
  });

  test("a failed snapshot write fails stop; the WAL reopens without it and drops the temp file", async () => {
    const dir = tempDir();
    const faulty = new FaultyFs();
    const { wal } = await openWal(dir, { ...SMALL, fs: faulty });
    await wal.save(HS1, entries(1, 3));
    faulty.failNext({ op: "write", code: "ENOSPC", pathIncludes: ".snap", afterBytes: 5 });
    const snap = { metadata: { index: 3, term: 1, confState: { voters: ["a"], learners: [] } }, data: new Uint8Array(100) };
    await expect(wal.saveSnapshot(snap)).rejects.toMatchObject({ name: "WalWriteError", code: "ENOSPC" });
    await expect(wal.save(undefined, [entry(4)])).rejects.toBeInstanceOf(WalWriteError);
    await wal.close();
    const state = await reopen(dir);
    expect(state.snapshot).toBeUndefined();
    expect(state.entries).toStrictEqual(entries(1, 3));
    expect(Object.keys(fingerprint(join(dir, "snap")))).toStrictEqual([]);
  });
});
