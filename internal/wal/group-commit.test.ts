// Group commit, observed through fsync counts: no timing is measured or assumed.

import { expect, test } from "bun:test";
import { FaultyFs } from "./faulty-fs.ts";
import { cleanTempDirsAfterEach, entries, entry, tempDir } from "./fixtures.ts";
import { openWal } from "./index.ts";

cleanTempDirsAfterEach();

const OPTIONS = { segmentBytes: 1 << 20 };

/** Lets every ready callback and microtask run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

test("saves made while an fsync is in flight share the next one, and none resolves before its fsync", async () => {
  const dir = tempDir();
  const faulty = new FaultyFs();
  const { wal } = await openWal(dir, { ...OPTIONS, fs: faulty });
  faulty.holdSyncs();

  const done: number[] = [];
  const first = wal.save({ term: 1, vote: "a", commit: 0 }, [entry(1)]).then(() => done.push(1));
  await faulty.syncsHeld(1);
  const rest = Array.from({ length: 99 }, (_, i) => wal.save({ term: 1, vote: "a", commit: i + 1 }, [entry(i + 2)]).then(() => done.push(i + 2)));
  await settle();
  expect(done).toStrictEqual([]); // nothing is acknowledged while its fsync is pending
  expect(faulty.counts.datasync).toBe(1);

  faulty.releaseSyncs();
  await Promise.all([first, ...rest]);
  expect(faulty.counts.datasync).toBe(2); // one for the first save, one for the other 99
  expect(wal.stats).toMatchObject({ saves: 100, commits: 2, fsyncs: 2 });
  expect(done).toStrictEqual(Array.from({ length: 100 }, (_, i) => i + 1)); // in order
  await wal.close();

  const reopened = await openWal(dir, OPTIONS);
  expect(reopened.state.entries).toStrictEqual(entries(1, 100));
  expect(reopened.state.hardState).toStrictEqual({ term: 1, vote: "a", commit: 99 });
  await reopened.wal.close();
});

test("64 concurrent writers cost about one fsync per round, not one per save", async () => {
  const dir = tempDir();
  const faulty = new FaultyFs();
  const { wal } = await openWal(dir, { ...OPTIONS, fs: faulty });
  const writers = 64;
  const rounds = 20;
  let next = 1;
  const writer = async (): Promise<void> => {
    for (let r = 0; r < rounds; r++) {
      const index = next++;
      await wal.save(undefined, [entry(index)]);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  expect(wal.stats.saves).toBe(writers * rounds);
  expect(faulty.counts.datasync).toBeLessThanOrEqual(2 * rounds);
  await wal.close();
  const reopened = await openWal(dir, OPTIONS);
  expect(reopened.state.entries.length).toBe(writers * rounds);
  await reopened.wal.close();
});
