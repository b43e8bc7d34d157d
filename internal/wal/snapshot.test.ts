// Snapshot files and what openWal does when one is damaged or missing.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Snapshot } from "../raft/types.ts";
import { FaultyFs } from "./faulty-fs.ts";
import { cleanTempDirsAfterEach, entries, entry, fingerprint, tempDir } from "./fixtures.ts";
import { loadNewestSnapshot, nodeFs, openWal, WalSnapshotMissingError, type Wal } from "./index.ts";
import { snapshotName } from "./names.ts";
import { writeSnapshotFile } from "./snapshot-files.ts";

cleanTempDirsAfterEach();

const SMALL = { segmentBytes: 4096 };

function snapshot(index: number, term = 1): Snapshot {
  return { metadata: { index, term, confState: { voters: ["a", "b", "c"], learners: [] } }, data: new TextEncoder().encode(`applied through ${index}`) };
}

function snapPath(dir: string, index: number, term = 1): string {
  return join(dir, "snap", snapshotName(index, term));
}

async function saveRange(wal: Wal, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await wal.save({ term: 1, vote: "a", commit: i }, [entry(i, 1, 200)]);
}

describe("loadNewestSnapshot", () => {
  test("returns the newest intact snapshot, passing over damaged ones", async () => {
    const dir = tempDir();
    for (const i of [10, 20, 30]) await writeSnapshotFile(nodeFs, dir, snapshot(i));
    const bytes = readFileSync(join(dir, snapshotName(30, 1)));
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(join(dir, snapshotName(30, 1)), bytes);
    truncateSync(join(dir, snapshotName(20, 1)), 30);

    const loaded = await loadNewestSnapshot(dir);
    expect(loaded.snapshot).toStrictEqual(snapshot(10));
    expect(loaded.rejected.map((r) => r.reason)).toStrictEqual(["checksum mismatch", "checksum mismatch"]);
    expect(readdirSync(dir).length).toBe(3); // nothing deleted
  });

  test("a file whose name disagrees with its contents is refused", async () => {
    const dir = tempDir();
    await writeSnapshotFile(nodeFs, dir, snapshot(10));
    writeFileSync(join(dir, snapshotName(11, 1)), readFileSync(join(dir, snapshotName(10, 1))));
    const loaded = await loadNewestSnapshot(dir);
    expect(loaded.snapshot?.metadata.index).toBe(10);
    expect(loaded.rejected[0]?.reason).toContain("not what its name says");
  });
});

describe("openWal and snapshots", () => {
  test("a corrupted newest snapshot falls back to an older one and the log after it", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.save({ term: 1, vote: "a", commit: 10 }, entries(1, 10));
    await wal.saveSnapshot(snapshot(5));
    await wal.save({ term: 1, vote: "a", commit: 20 }, entries(11, 20));
    await wal.saveSnapshot(snapshot(15));
    await wal.save({ term: 1, vote: "a", commit: 25 }, entries(21, 25));
    await wal.close();
    const newest = snapPath(dir, 15);
    const bytes = readFileSync(newest);
    bytes[20]! ^= 0x10;
    writeFileSync(newest, bytes);
    const before = fingerprint(dir);

    const { wal: w2, state } = await openWal(dir);
    expect(state.snapshot).toStrictEqual(snapshot(5));
    expect(state.entries).toStrictEqual(entries(6, 25));
    expect(state.skippedSnapshots).toStrictEqual([{ file: newest, reason: "checksum mismatch" }]);
    await w2.close();
    expect(fingerprint(dir)).toStrictEqual(before); // the damaged file is kept for the operator
  });

  test("a missing snapshot that the marker refers to refuses to start when the log no longer covers it", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    await saveRange(wal, 1, 60);
    await wal.saveSnapshot(snapshot(60));
    await saveRange(wal, 61, 70);
    await wal.releaseTo(60);
    await wal.close();
    unlinkSync(snapPath(dir, 60));
    const before = fingerprint(dir);

    const err = await openWal(dir, SMALL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalSnapshotMissingError);
    expect(err).toMatchObject({ index: 60, term: 1 });
    expect(fingerprint(dir)).toStrictEqual(before);
  });

  test("a corrupt newest snapshot refuses to start when an older one exists but its log was released", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    await saveRange(wal, 1, 30);
    await wal.saveSnapshot(snapshot(30));
    await saveRange(wal, 31, 90);
    await wal.saveSnapshot(snapshot(90));
    await wal.releaseTo(90);
    await wal.close();
    writeFileSync(snapPath(dir, 90), "garbage");
    const before = fingerprint(dir);

    const err = await openWal(dir, SMALL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalSnapshotMissingError);
    const rejected = (err as WalSnapshotMissingError).rejected;
    expect(rejected.map((r) => r.file)).toStrictEqual([snapPath(dir, 90), snapPath(dir, 30)]);
    expect(rejected[1]!.reason).toContain("does not hold entries 31..90");
    expect(fingerprint(dir)).toStrictEqual(before);
  });

  test("a snapshot file whose marker never became durable is ignored", async () => {
    const dir = tempDir();
    const faulty = new FaultyFs();
    const { wal } = await openWal(dir, { fs: faulty });
    await wal.save({ term: 1, vote: "a", commit: 10 }, entries(1, 10));
    await wal.saveSnapshot(snapshot(4));
    faulty.failNext({ op: "write", code: "EIO", pathIncludes: ".wal" }); // the marker's write
    await expect(wal.saveSnapshot(snapshot(8))).rejects.toMatchObject({ name: "WalWriteError" });
    await wal.close();

    const { wal: w2, state } = await openWal(dir);
    expect(state.snapshot).toStrictEqual(snapshot(4));
    expect(state.entries).toStrictEqual(entries(5, 10));
    expect(state.skippedSnapshots).toStrictEqual([{ file: snapPath(dir, 8), reason: "no snapshot marker in the WAL refers to it" }]);
    await w2.close();
  });

  test("leftover temp files are removed on open, and snapshots without a WAL are refused", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.close();
    writeFileSync(join(dir, "snap", `${snapshotName(3, 1)}.tmp`), "partial");
    writeFileSync(join(dir, "wal", "0000000000000002-0000000000000001.wal.tmp"), "partial");
    const { wal: w2 } = await openWal(dir);
    await w2.close();
    expect(readdirSync(join(dir, "snap"))).toStrictEqual([]);
    expect(readdirSync(join(dir, "wal"))).toStrictEqual(["0000000000000001-0000000000000001.wal"]);

    const lost = tempDir();
    const { wal: w3 } = await openWal(lost);
    await w3.saveSnapshot(snapshot(3));
    await w3.close();
    for (const n of readdirSync(join(lost, "wal"))) unlinkSync(join(lost, "wal", n));
    await expect(openWal(lost)).rejects.toThrow("snapshots exist but wal/ holds no segment");
  });
});
