// Offline recovery of the integrated store: a data dir for a NEW cluster from a backup file
// (`nagentctl snapshot restore`, like `etcdutl snapshot restore`), and the rewrite of a surviving
// member's log into a one-member cluster (`control-plane --force-new-cluster`).
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { encodeConfChange, nextConfState, type ConfChange, type ConfState, type Entry, type Snapshot } from "../raft/index.ts";
import { openWal, type Wal, type WalState } from "../wal/index.ts";
import { decodeBackup, type BackupMetadata } from "./backup.ts";
import { syncDirectory, writeClusterLineage } from "./cluster-identity.ts";
import { encodeSnapshot } from "./payload.ts";

/** A restore that was refused before anything was written; the message says why, in one line. */
export class RestoreRefusedError extends Error {
  override readonly name = "RestoreRefusedError";
}

export interface RestoreOptions {
  /** The whole backup file. */
  readonly file: Uint8Array;
  readonly dataDir: string;
  /** The member this data dir is for. */
  readonly nodeId: string;
  /** Every member of the new cluster (this one included), as given to control-plane --peers; empty: a one-member cluster. */
  readonly peers: readonly { readonly id: string; readonly url: string }[];
}

export interface RestoreResult {
  readonly dataDir: string;
  readonly metadata: BackupMetadata;
  /** The new cluster's lineage (data dir file cluster-id): the same on every member restored alike. */
  readonly clusterId: string;
  readonly voters: readonly string[];
}

/**
 * Writes a data dir from which `control-plane --node-id ID --data-dir DIR --peers ...` starts a
 * new cluster holding the backup's state. Verifies the whole file first; refuses a DIR that exists
 * and is not an empty directory. Works in a temporary directory beside DIR and renames it into
 * place at the end, so a failure leaves nothing behind and never touches existing data.
 *
 * Every member of the new cluster restores the same file with the same peers: each then holds the
 * same snapshot (at the backup's index and term, membership = the peers) and the same lineage, so
 * they form one cluster, and refuse the old cluster's members.
 */
export async function restoreDataDir(options: RestoreOptions): Promise<RestoreResult> {
  let decoded;
  try {
    decoded = decodeBackup(options.file);
  } catch (error) {
    throw new RestoreRefusedError(`not restoring: ${(error as Error).message}`);
  }
  const peers = options.peers.length > 0 ? options.peers : [{ id: options.nodeId, url: "" }];
  if (!peers.some((peer) => peer.id === options.nodeId)) {
    throw new RestoreRefusedError(`not restoring: --node-id "${options.nodeId}" is not among --peers (${peers.map((p) => p.id).join(", ")})`);
  }
  const dataDir = resolve(options.dataDir);
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) throw new RestoreRefusedError(`not restoring: ${options.dataDir} exists and is not a directory`);
    if (readdirSync(dataDir).length > 0) {
      throw new RestoreRefusedError(`not restoring: ${options.dataDir} exists and is not empty (restore into a new directory; existing data is never overwritten)`);
    }
  }

  const { metadata, state } = decoded;
  const voters = peers.map((peer) => peer.id).sort();
  const members = Object.fromEntries(peers.map((peer) => [peer.id, peer.url]));
  // Deterministic, so that every member restored from this file with these peers agrees on it.
  const clusterId = createHash("sha256")
    .update(decoded.sha256)
    .update(JSON.stringify([...peers].sort((a, b) => a.id.localeCompare(b.id)).map((p) => [p.id, p.url])))
    .digest("hex")
    .slice(0, 16);
  const snapshot: Snapshot = {
    metadata: { index: metadata.raftIndex, term: metadata.raftTerm, confState: { voters, learners: [] } },
    data: encodeSnapshot({ members, state }),
  };

  const parent = dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dataDir)}.restore-${randomBytes(4).toString("hex")}.tmp`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    const { wal } = await openWal(tmp, {
      metadata: new TextEncoder().encode(JSON.stringify({ member: options.nodeId, cluster: "", restoredFrom: decoded.sha256 })),
    });
    try {
      await wal.saveSnapshot(snapshot);
      await wal.save({ term: metadata.raftTerm, vote: null, commit: metadata.raftIndex }, []);
    } finally {
      await wal.close();
    }
    writeClusterLineage(tmp, clusterId);
    syncDirectory(tmp);
    // rename(2) replaces an empty directory, and fails if something appeared in it meanwhile.
    renameSync(tmp, dataDir);
    syncDirectory(parent);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  return { dataDir, metadata, clusterId, voters };
}

/** Whether `dataDir` holds a member's write-ahead log (what --force-new-cluster needs). */
export function hasMemberState(dataDir: string): boolean {
  try {
    return readdirSync(join(dataDir, "wal")).some((name) => name.endsWith(".wal"));
  } catch {
    return false;
  }
}

/**
 * --force-new-cluster: appends, after the last entry of the survivor's log, the membership changes
 * that leave `id` the only voter (promote it if it was a learner, then remove every other member).
 * Membership takes effect when appended, so the member then leads itself and commits its whole
 * log, the entries beyond its last known commit index included: one of them may be a write the
 * old leader had acknowledged before this member heard that it was committed. Idempotent: a log
 * that already ends with `id` as the only member gets nothing. Answers the state to start from.
 */
export async function forceNewCluster(wal: Wal, state: WalState, id: string): Promise<{ state: WalState; removed: string[] }> {
  let confState: ConfState = state.snapshot?.metadata.confState ?? { voters: [], learners: [] };
  for (const entry of state.entries) if (entry.type === "confChange") confState = nextConfState(confState, entry);
  const changes: ConfChange[] = [];
  if (!confState.voters.includes(id)) changes.push({ type: "addVoter", nodeId: id, context: "" });
  const others = [...confState.voters, ...confState.learners].filter((member) => member !== id).sort();
  for (const member of others) changes.push({ type: "removeNode", nodeId: member, context: "" });
  if (changes.length === 0) return { state, removed: [] };

  const last = state.entries[state.entries.length - 1];
  const lastIndex = last?.index ?? state.snapshot?.metadata.index ?? 0;
  const term = Math.max(state.hardState.term, last?.term ?? state.snapshot?.metadata.term ?? 0);
  const entries: Entry[] = changes.map((change, i) => ({ term, index: lastIndex + 1 + i, type: "confChange", data: encodeConfChange(change) }));
  const hardState = { ...state.hardState, term };
  await wal.save(hardState, entries);
  return { state: { ...state, hardState, entries: [...state.entries, ...entries] }, removed: others };
}
