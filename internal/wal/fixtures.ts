// Shared by the WAL's tests: a fresh temporary directory per test, deterministic entries, and a
// fingerprint of every file under a directory (to prove that a refused open changed nothing).

import { afterEach } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry, EntryType } from "../raft/types.ts";

const dirs: string[] = [];

/** Registers an afterEach that removes every directory made by tempDir() in this test file. */
export function cleanTempDirsAfterEach(): void {
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "nagent-wal-"));
  dirs.push(d);
  return d;
}

/** Entry `index` of `term` whose data (`size` bytes) is derived from both, so a mix-up shows. */
export function entry(index: number, term = 1, size = 8, type: EntryType = "normal"): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { term, index, type, data };
}

export function entries(from: number, to: number, term = 1, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

/** Every file under `dir` (recursively) with a hash of its bytes and its size. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${prefix}${name}/`);
      else {
        const bytes = readFileSync(p);
        out[prefix + name] = `${bytes.length}:${Bun.hash.crc32(bytes).toString(16)}`;
      }
    }
  };
  walk(dir, "");
  return out;
}

/** The segment files of a WAL in `dir`, oldest first. */
export function segmentFiles(dir: string): string[] {
  return readdirSync(join(dir, "wal"))
    .filter((n) => n.endsWith(".wal"))
    .sort()
    .map((n) => join(dir, "wal", n));
}
