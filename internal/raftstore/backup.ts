// The backup file of the integrated store (GET /v1/cluster/snapshot, `nagentctl snapshot save`):
// a point-in-time copy of the state machine that describes itself, so that it can be checked and
// restored offline, without the cluster it came from.
//
//   0   8 bytes   magic "NAGENTBK"
//   8   u16 BE    format version (1)
//   10  u32 BE    metadata length M
//   14  M bytes   metadata, JSON (BackupMetadata)
//   ..  u64 BE    state length S
//   ..  S bytes   the state machine's snapshot (internal/kv, canonical bytes)
//   ..  32 bytes  SHA-256 of every byte before it
//
// The whole file is verified before anything is done with it: magic, version, checksum, the
// lengths adding up, the metadata, and the state decoding into a state machine whose revision and
// key count match the metadata.
import { createHash } from "node:crypto";
import { KvStateMachine } from "../kv/index.ts";

export const BACKUP_MAGIC = new TextEncoder().encode("NAGENTBK");
export const BACKUP_VERSION = 1;
const HEADER_BYTES = 14;
const CHECKSUM_BYTES = 32;

export interface BackupMember {
  readonly id: string;
  readonly url: string;
  readonly role: "voter" | "learner";
}

/** What a backup says about itself; `nagentctl snapshot status` prints it. */
export interface BackupMetadata {
  /** The store revision of the state (every write up to it is included). */
  readonly revision: number;
  /** The Raft log index and term of the last entry applied to the state. */
  readonly raftIndex: number;
  readonly raftTerm: number;
  /** The membership of the cluster it was taken from. */
  readonly members: readonly BackupMember[];
  /** The member that took it. */
  readonly takenBy: string;
  /** When it was taken, ISO 8601. */
  readonly takenAt: string;
  readonly keyCount: number;
}

/** A file that is not a usable backup; the message says why, in one line. */
export class BackupFormatError extends Error {
  override readonly name = "BackupFormatError";
}

/** Encodes a backup file: header, metadata, state, checksum trailer. */
export function encodeBackup(metadata: BackupMetadata, state: Uint8Array): Uint8Array {
  const meta = new TextEncoder().encode(JSON.stringify(metadata));
  const total = HEADER_BYTES + meta.length + 8 + state.length + CHECKSUM_BYTES;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(BACKUP_MAGIC, 0);
  view.setUint16(8, BACKUP_VERSION);
  view.setUint32(10, meta.length);
  out.set(meta, HEADER_BYTES);
  let at = HEADER_BYTES + meta.length;
  view.setBigUint64(at, BigInt(state.length));
  at += 8;
  out.set(state, at);
  at += state.length;
  out.set(sha256(out.subarray(0, at)), at);
  return out;
}

export interface DecodedBackup {
  readonly metadata: BackupMetadata;
  readonly state: Uint8Array;
  /** SHA-256 of the whole file, hex: what `snapshot save` prints, to compare copies. */
  readonly sha256: string;
  readonly size: number;
}

/**
 * Verifies a whole backup file and answers its parts; throws BackupFormatError naming the first
 * problem (empty, truncated, bad magic, unknown version, checksum mismatch, undecodable state).
 */
export function decodeBackup(file: Uint8Array): DecodedBackup {
  if (file.length === 0) throw new BackupFormatError("the file is empty (0 bytes)");
  const magicLength = Math.min(file.length, BACKUP_MAGIC.length);
  if (!BACKUP_MAGIC.subarray(0, magicLength).every((b, i) => file[i] === b)) {
    throw new BackupFormatError("not a Nagent snapshot file (bad magic bytes)");
  }
  if (file.length < HEADER_BYTES + 8 + CHECKSUM_BYTES) {
    throw new BackupFormatError(`the file is truncated (${file.length} bytes, shorter than any snapshot)`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint16(8);
  if (version !== BACKUP_VERSION) {
    throw new BackupFormatError(`unknown snapshot format version ${version} (this version reads version ${BACKUP_VERSION})`);
  }
  const metaLength = view.getUint32(10);
  const stateAt = HEADER_BYTES + metaLength + 8;
  const declared = stateAt <= file.length ? stateAt + Number(view.getBigUint64(stateAt - 8)) + CHECKSUM_BYTES : undefined;
  const body = file.subarray(0, file.length - CHECKSUM_BYTES);
  const trailer = file.subarray(file.length - CHECKSUM_BYTES);
  if (!equalBytes(sha256(body), trailer)) {
    if (declared === undefined || declared > file.length) {
      throw new BackupFormatError(`the file is truncated (${file.length} bytes${declared === undefined ? "" : ` of the ${declared} its header announces`})`);
    }
    throw new BackupFormatError("checksum mismatch: the file is corrupted");
  }
  if (declared !== file.length) {
    throw new BackupFormatError(`the lengths in the header (${declared ?? "?"} bytes) do not match the file (${file.length} bytes)`);
  }
  let metadata: BackupMetadata;
  try {
    metadata = checkMetadata(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file.subarray(HEADER_BYTES, HEADER_BYTES + metaLength))));
  } catch (error) {
    throw new BackupFormatError(`the metadata is unreadable: ${(error as Error).message}`);
  }
  const state = file.subarray(stateAt, file.length - CHECKSUM_BYTES);
  const kv = new KvStateMachine();
  try {
    kv.restore(state);
  } catch (error) {
    throw new BackupFormatError(`the state does not decode: ${(error as Error).message}`);
  }
  const stats = kv.stats();
  if (stats.currentRevision !== metadata.revision || stats.keys !== metadata.keyCount) {
    throw new BackupFormatError(
      `the state (revision ${stats.currentRevision}, ${stats.keys} keys) does not match its metadata (revision ${metadata.revision}, ${metadata.keyCount} keys)`,
    );
  }
  return { metadata, state, sha256: Buffer.from(sha256(file)).toString("hex"), size: file.length };
}

function checkMetadata(value: unknown): BackupMetadata {
  const m = value as Partial<Record<keyof BackupMetadata, unknown>> | null;
  if (typeof m !== "object" || m === null) throw new Error("not an object");
  for (const field of ["revision", "raftIndex", "raftTerm", "keyCount"] as const) {
    if (!Number.isSafeInteger(m[field]) || (m[field] as number) < 0) throw new Error(`${field} is not a non-negative integer`);
  }
  if ((m.raftIndex as number) < 1) throw new Error("raftIndex must be at least 1");
  if (typeof m.takenBy !== "string" || typeof m.takenAt !== "string") throw new Error("takenBy and takenAt must be strings");
  if (!Array.isArray(m.members)) throw new Error("members is not a list");
  for (const member of m.members as unknown[]) {
    const x = member as Partial<BackupMember> | null;
    if (typeof x !== "object" || x === null || typeof x.id !== "string" || typeof x.url !== "string" || (x.role !== "voter" && x.role !== "learner")) {
      throw new Error("members holds an entry that is not {id, url, role}");
    }
  }
  return m as BackupMetadata;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
