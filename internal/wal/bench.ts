// WAL throughput: saves/s and fsyncs/s for 256-byte entries, one entry per save, with 1 and with
// 64 concurrent writers, against the disk's own pwrite+fdatasync rate measured in the same run.
//
//   bun internal/wal/bench.ts [--dir DIR] [--seconds N]
//
// DIR (default: the system temp dir) picks the disk. Not a test: it asserts nothing.

import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openWal } from "./index.ts";

const { values } = parseArgs({ options: { dir: { type: "string" }, seconds: { type: "string" } } });
const parent = values.dir ?? tmpdir();
const seconds = Number(values.seconds ?? "2");
const ENTRY_BYTES = 256;

/** The ceiling for one writer: what the disk does with one small write and one fdatasync per op. */
function diskBaseline(dir: string): number {
  const path = join(dir, "baseline");
  const fd = fs.openSync(path, "w+");
  try {
    fs.ftruncateSync(fd, 64 << 20);
    fs.fsyncSync(fd);
    const rec = new Uint8Array(ENTRY_BYTES + 33).fill(7);
    let ops = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      fs.writeSync(fd, rec, 0, rec.length, ops * rec.length);
      fs.fdatasyncSync(fd);
      ops++;
    }
    return ops / ((performance.now() - start) / 1000);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path);
  }
}

async function run(dir: string, concurrency: number): Promise<{ savesPerSec: number; fsyncsPerSec: number; savesPerFsync: number }> {
  const { wal } = await openWal(dir);
  const data = new Uint8Array(ENTRY_BYTES).fill(0x5a);
  let next = 1;
  let stop = false;
  const writer = async (): Promise<void> => {
    while (!stop) {
      const index = next++;
      await wal.save(undefined, [{ term: 1, index, type: "normal", data }]);
    }
  };
  const before = wal.stats;
  const start = performance.now();
  const timer = setTimeout(() => (stop = true), seconds * 1000);
  await Promise.all(Array.from({ length: concurrency }, writer));
  clearTimeout(timer);
  const elapsed = (performance.now() - start) / 1000;
  const after = wal.stats;
  await wal.close();
  const saves = after.saves - before.saves;
  const fsyncs = after.fsyncs - before.fsyncs;
  return { savesPerSec: saves / elapsed, fsyncsPerSec: fsyncs / elapsed, savesPerFsync: saves / fsyncs };
}

const root = fs.mkdtempSync(join(parent, "nagent-wal-bench-"));
try {
  const baseline = diskBaseline(root);
  console.log(`WAL bench: ${ENTRY_BYTES}-byte entries, one entry per save, ${seconds}s per run, in ${root}`);
  console.log(`disk baseline (pwrite + fdatasync, one writer): ${baseline.toFixed(0)} ops/s`);
  for (const concurrency of [1, 64]) {
    const r = await run(join(root, `c${concurrency}`), concurrency);
    console.log(
      `concurrency ${String(concurrency).padStart(2)}: ${r.savesPerSec.toFixed(0).padStart(7)} saves/s, ` +
        `${r.fsyncsPerSec.toFixed(0).padStart(5)} fsyncs/s, ${r.savesPerFsync.toFixed(1).padStart(5)} saves per fsync, ` +
        `${(r.savesPerSec / baseline).toFixed(2)}x the disk baseline`,
    );
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
