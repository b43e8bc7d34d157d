import { describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { HardState, Snapshot } from "../raft/types.ts";
import { cleanTempDirsAfterEach, entries, entry, segmentFiles, tempDir } from "./fixtures.ts";
import { openWal, WalClosedError, WalLockedError } from "./index.ts";

cleanTempDirsAfterEach();

const SMALL = { segmentBytes: 4096 };

function snapshot(index: number, term: number, data = "state"): Snapshot {
  return { metadata: { index, term, confState: { voters: ["a", "b", "c"], learners: ["d"] } }, data: new TextEncoder().encode(`${data}@${index}`) };
}

describe("openWal", () => {
  test("creates an empty WAL with its metadata, and reopens it", async () => {
    const dir = tempDir();
    const metadata = new TextEncoder().encode("cluster=c1 member=a");
    const first = await openWal(dir, { metadata });
    expect(first.state).toMatchObject({ created: true, hardState: { term: 0, vote: null, commit: 0 }, entries: [], snapshot: undefined, repaired: undefined });
    expect(basename(first.wal.segmentPaths[0]!)).toBe("0000000000000001-0000000000000001.wal");
    await first.wal.close();

    const again = await openWal(dir, { metadata: new Uint8Array([1]) });
    expect(again.state.created).toBe(false);
    expect(again.state.metadata).toEqual(metadata); // the stored metadata, not the option
    await again.wal.close();
  });

  test("round-trips entries, hard state and snapshot", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    const hs: HardState = { term: 3, vote: "b", commit: 4 };
    await wal.save({ term: 1, vote: "a", commit: 0 }, entries(1, 3));
    await wal.save(hs, [entry(4, 3, 100, "confChange"), entry(5, 3, 0), entry(6, 3, 5000)]);
    await wal.saveSnapshot(snapshot(2, 1));
    await wal.close();

    const { wal: reopened, state } = await openWal(dir);
    expect(state.hardState).toStrictEqual(hs);
    expect(state.snapshot).toStrictEqual(snapshot(2, 1));
    expect(state.entries).toStrictEqual([...entries(3, 3), entry(4, 3, 100, "confChange"), entry(5, 3, 0), entry(6, 3, 5000)]);
    expect(state.repaired).toBeUndefined();
    // Appending continues where the log ended.
    await reopened.save(undefined, [entry(7, 3)]);
    await reopened.close();
    const third = await openWal(dir);
    expect(third.state.entries.at(-1)).toStrictEqual(entry(7, 3));
    await third.wal.close();
  });

  test("replays Raft truncation: a lower index replaces the tail", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.save({ term: 1, vote: "a", commit: 2 }, entries(1, 10, 1));
    await wal.save({ term: 2, vote: "b", commit: 2 }, entries(6, 8, 2)); // new leader overwrote 6..10
    await wal.save(undefined, entries(8, 9, 3)); // and again from 8
    await wal.close();
    const { wal: w2, state } = await openWal(dir);
    expect(state.entries).toStrictEqual([...entries(1, 5, 1), ...entries(6, 7, 2), ...entries(8, 9, 3)]);
    expect(state.hardState).toStrictEqual({ term: 2, vote: "b", commit: 2 });
    await w2.close();
  });

  test("replays truncation across segment boundaries", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    for (let i = 1; i <= 60; i++) await wal.save(undefined, [entry(i, 1, 200)]);
    expect(wal.segmentPaths.length).toBeGreaterThan(2);
    await wal.save(undefined, entries(3, 4, 2)); // truncates back into the first segment
    await wal.close();
    const { wal: w2, state } = await openWal(dir, SMALL);
    expect(state.entries).toStrictEqual([entry(1, 1, 200), entry(2, 1, 200), ...entries(3, 4, 2)]);
    await w2.close();
  });

  test("a second open of the same directory is refused until the first closes", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    const second = openWal(dir);
    await expect(second).rejects.toBeInstanceOf(WalLockedError);
    await expect(second).rejects.toThrow(`locked by process ${process.pid}`);
    await wal.close();
    const third = await openWal(dir);
    await third.wal.close();
  });

  test("a second process cannot open the directory", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    const script = `import { openWal } from ${JSON.stringify(join(import.meta.dir, "index.ts"))};
      try { await openWal(${JSON.stringify(dir)}); console.log("opened"); } catch (e) { console.log(e.name); }`;
    const child = Bun.spawnSync([process.execPath, "-e", script]);
    expect(child.stdout.toString().trim()).toBe("WalLockedError");
    await wal.close();
  });
});

describe("save", () => {
  test("refuses entries that would leave a gap or are not contiguous, and writes nothing", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.save(undefined, entries(1, 3));
    await expect(wal.save(undefined, [entry(5)])).rejects.toBeInstanceOf(RangeError);
    await expect(wal.save(undefined, [entry(4), entry(6)])).rejects.toBeInstanceOf(RangeError);
    await expect(wal.save(undefined, [entry(0)])).rejects.toBeInstanceOf(RangeError);
    await expect(wal.save({ term: -1, vote: null, commit: 0 }, [])).rejects.toBeInstanceOf(RangeError);
    await wal.saveSnapshot(snapshot(3, 1));
    await expect(wal.save(undefined, [entry(3)])).rejects.toBeInstanceOf(RangeError); // below the snapshot
    await wal.save(undefined, [entry(4)]); // the WAL still works
    await wal.close();
    const { wal: w2, state } = await openWal(dir);
    expect(state.entries).toStrictEqual([entry(4)]);
    await w2.close();
  });

  test("rejects with WalClosedError after close, which waits for queued saves", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    const queued = wal.save(undefined, entries(1, 5));
    const closed = wal.close();
    await expect(wal.save(undefined, [entry(6)])).rejects.toBeInstanceOf(WalClosedError);
    await queued;
    await closed;
    const { wal: w2, state } = await openWal(dir);
    expect(state.entries).toStrictEqual(entries(1, 5));
    await w2.close();
  });

  test("an empty save resolves and writes nothing", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.save(undefined, []);
    expect(wal.stats.bytesWritten).toBe(0);
    await wal.close();
  });
});

describe("segments", () => {
  test("roll over at segmentBytes, named by sequence and first index, preallocated", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    for (let i = 1; i <= 100; i++) await wal.save({ term: 1, vote: "a", commit: i - 1 }, [entry(i, 1, 256)]);
    await wal.close();

    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThan(5);
    let prevFirst = 0;
    files.forEach((f, i) => {
      const [seq, first] = basename(f, ".wal").split("-").map((h) => Number.parseInt(h, 16)) as [number, number];
      expect(seq).toBe(i + 1);
      expect(first).toBeGreaterThan(prevFirst);
      prevFirst = first;
      // Finished segments are cut to their last record; the current one stays preallocated.
      if (i < files.length - 1) expect(statSync(f).size).toBeLessThanOrEqual(SMALL.segmentBytes);
      else expect(statSync(f).size).toBe(SMALL.segmentBytes);
    });

    const { wal: w2, state } = await openWal(dir, SMALL);
    expect(state.entries).toStrictEqual(Array.from({ length: 100 }, (_, i) => entry(i + 1, 1, 256)));
    expect(state.hardState).toStrictEqual({ term: 1, vote: "a", commit: 99 });
    await w2.close();
  });

  test("releaseTo deletes the segments wholly before the snapshot, and the rest still opens", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    await wal.save({ term: 1, vote: "a", commit: 0 }, []);
    for (let i = 1; i <= 100; i++) await wal.save(undefined, [entry(i, 1, 256)]);
    const before = segmentFiles(dir);

    await wal.releaseTo(60); // no snapshot yet: nothing may go
    expect(segmentFiles(dir)).toStrictEqual(before);

    await wal.saveSnapshot(snapshot(60, 1));
    await wal.releaseTo(1000); // capped at the snapshot
    const after = segmentFiles(dir);
    expect(after.length).toBeLessThan(before.length);
    expect(after.at(-1)).toBe(before.at(-1)!);
    const firstIndexOf = (f: string): number => Number.parseInt(basename(f, ".wal").split("-")[1]!, 16);
    expect(firstIndexOf(after[0]!)).toBeLessThanOrEqual(61);
    if (after[1] !== undefined) expect(firstIndexOf(after[1])).toBeGreaterThan(61);
    await wal.save({ term: 2, vote: "b", commit: 100 }, [entry(101, 2)]);
    await wal.close();

    const { wal: w2, state } = await openWal(dir, SMALL);
    expect(state.snapshot?.metadata.index).toBe(60);
    expect(state.entries).toStrictEqual([...Array.from({ length: 40 }, (_, i) => entry(61 + i, 1, 256)), entry(101, 2)]);
    expect(state.hardState).toStrictEqual({ term: 2, vote: "b", commit: 100 });
    await w2.close();
  });

  test("after releaseTo, the hard state and marker survive in the segment headers", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, SMALL);
    await wal.save({ term: 7, vote: "c", commit: 0 }, []); // saved once, long ago
    for (let i = 1; i <= 80; i++) await wal.save(undefined, [entry(i, 7, 256)]);
    await wal.saveSnapshot(snapshot(80, 7));
    for (let i = 81; i <= 120; i++) await wal.save(undefined, [entry(i, 7, 256)]);
    await wal.releaseTo(80);
    await wal.close();
    const { wal: w2, state } = await openWal(dir, SMALL);
    expect(state.hardState).toStrictEqual({ term: 7, vote: "c", commit: 0 });
    expect(state.snapshot?.metadata.index).toBe(80);
    expect(state.entries.map((e) => e.index)).toStrictEqual(Array.from({ length: 40 }, (_, i) => 81 + i));
    await w2.close();
  });
});

describe("snapshots", () => {
  test("a snapshot beyond the log (installed from the leader) restarts the log after it", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.save({ term: 1, vote: "a", commit: 3 }, entries(1, 5, 1));
    const installing = wal.saveSnapshot(snapshot(1000, 4));
    // Queued behind the snapshot without waiting for it.
    const following = wal.save({ term: 4, vote: null, commit: 1000 }, entries(1001, 1002, 4));
    await Promise.all([installing, following]);
    await wal.close();
    const { wal: w2, state } = await openWal(dir);
    expect(state.snapshot?.metadata).toStrictEqual(snapshot(1000, 4).metadata);
    expect(state.entries).toStrictEqual(entries(1001, 1002, 4));
    await w2.close();
  });

  test("keeps the newest retainSnapshots files", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir, { retainSnapshots: 2 });
    for (let i = 1; i <= 5; i++) {
      await wal.save(undefined, [entry(i)]);
      await wal.saveSnapshot(snapshot(i, 1));
    }
    await wal.close();
    expect(readdirSync(join(dir, "snap")).sort()).toStrictEqual(["0000000000000004-0000000000000001.snap", "0000000000000005-0000000000000001.snap"]);
  });

  test("refuses a snapshot older than the last one", async () => {
    const dir = tempDir();
    const { wal } = await openWal(dir);
    await wal.save(undefined, entries(1, 5));
    await wal.saveSnapshot(snapshot(4, 1));
    await expect(wal.saveSnapshot(snapshot(3, 1))).rejects.toBeInstanceOf(RangeError);
    await wal.close();
  });
});
