// Snapshot files in snap/, one per snapshot, named <index>-<term>.snap:
//
//   0   8 bytes  magic "NAGSNAP1"
//   8   u32      CRC-32 of the body
//   12  u32      reserved, zero
//   16  body     index u64, term u64, voters, learners, data (codec.ts)
//
// A snapshot file is written whole to a .tmp file, fsynced, renamed into place and the directory
// fsynced, so a crash leaves either the complete file or none (plus a .tmp that openWal deletes).

import { join } from "node:path";
import type { Snapshot } from "../raft/types.ts";
import { DecodeError, decodeSnapshotBody, encodeSnapshotBody } from "./codec.ts";
import { nodeFs, type WalFs } from "./file-system.ts";
import { parseSnapshotName, snapshotName, TMP_SUFFIX, type SnapshotName } from "./names.ts";

const MAGIC = new TextEncoder().encode("NAGSNAP1");
const HEADER_BYTES = 16;

/** Writes `snapshot` atomically into `snapDir`; returns the file's path once it is durable. */
export async function writeSnapshotFile(fs: WalFs, snapDir: string, snapshot: Snapshot): Promise<string> {
  const body = encodeSnapshotBody(snapshot.metadata, snapshot.data);
  const header = new Uint8Array(HEADER_BYTES);
  header.set(MAGIC, 0);
  new DataView(header.buffer).setUint32(8, Bun.hash.crc32(body), true);
  const path = join(snapDir, snapshotName(snapshot.metadata.index, snapshot.metadata.term));
  const tmp = path + TMP_SUFFIX;
  const file = await fs.create(tmp);
  try {
    await file.write(header, 0);
    await file.write(body, HEADER_BYTES);
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(snapDir);
  return path;
}

/** Reads and verifies one snapshot file; throws an Error whose message says what is wrong with it. */
export async function readSnapshotFile(fs: WalFs, snapDir: string, name: SnapshotName): Promise<Snapshot> {
  const buf = await fs.readFile(join(snapDir, name.name));
  if (buf.length < HEADER_BYTES || !MAGIC.every((b, i) => buf[i] === b)) throw new Error("not a snapshot file (bad magic)");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(8, true) !== Bun.hash.crc32(buf.subarray(HEADER_BYTES))) throw new Error("checksum mismatch");
  let decoded: Snapshot;
  try {
    decoded = decodeSnapshotBody(buf, HEADER_BYTES, buf.length);
  } catch (err) {
    if (err instanceof DecodeError) throw new Error(`undecodable: ${err.message}`);
    throw err;
  }
  if (decoded.metadata.index !== name.index || decoded.metadata.term !== name.term) {
    throw new Error(`holds index ${decoded.metadata.index} term ${decoded.metadata.term}, not what its name says`);
  }
  return decoded;
}

/** Snapshot files in `snapDir`, newest (highest index, then term) first. */
export async function listSnapshotFiles(fs: WalFs, snapDir: string): Promise<SnapshotName[]> {
  const names: SnapshotName[] = [];
  for (const n of await fs.list(snapDir)) {
    const parsed = parseSnapshotName(n);
    if (parsed !== undefined) names.push(parsed);
  }
  return names.sort((a, b) => b.index - a.index || b.term - a.term);
}

export interface LoadSnapshotOptions {
  readonly fs?: WalFs;
  /**
   * Called with each candidate's index and term, newest first, before the file is read: returns
   * why it may not be used, or undefined to accept it. openWal accepts only snapshots that a
   * marker in the WAL refers to and that the retained log continues.
   */
  readonly accept?: (index: number, term: number) => string | undefined;
}

export interface LoadedSnapshot {
  /** The newest snapshot that is intact and accepted; undefined if there is none. */
  readonly snapshot: Snapshot | undefined;
  readonly file: string | undefined;
  /** Newer files passed over, and why: the caller logs them. Nothing is deleted. */
  readonly rejected: readonly { readonly file: string; readonly reason: string }[];
}

/**
 * Finds the newest snapshot in `snapDir` whose checksum verifies and that `accept` allows, falling
 * back to older ones past any that are corrupt, truncated or refused.
 */
export async function loadNewestSnapshot(snapDir: string, options: LoadSnapshotOptions = {}): Promise<LoadedSnapshot> {
  const fs = options.fs ?? nodeFs;
  const rejected: { file: string; reason: string }[] = [];
  for (const name of await listSnapshotFiles(fs, snapDir)) {
    const file = join(snapDir, name.name);
    const refusal = options.accept?.(name.index, name.term);
    if (refusal !== undefined) {
      rejected.push({ file, reason: refusal });
      continue;
    }
    try {
      return { snapshot: await readSnapshotFile(fs, snapDir, name), file, rejected };
    } catch (err) {
      rejected.push({ file, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return { snapshot: undefined, file: undefined, rejected };
}
