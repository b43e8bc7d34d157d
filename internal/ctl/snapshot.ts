// nagentctl snapshot save|status|restore: backups of the integrated store, like etcdctl snapshot
// save and etcdutl snapshot status|restore. status and restore work offline, on the file alone.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { NagentError } from "../../pkg/index.ts";
import { peerList } from "../config/index.ts";
import { decodeBackup, restoreDataDir, syncDirectory, type BackupMetadata, type DecodedBackup } from "../raftstore/index.ts";
import { UsageError, expectArgs, parseCommandArgs } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { emit } from "./output.ts";

export const SNAPSHOT_USAGE = {
  save: "snapshot save FILE",
  status: "snapshot status FILE",
  restore: "snapshot restore FILE --data-dir DIR --node-id ID [--peers ID=URL,...]",
} as const;

export async function runSnapshot(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "save":
      return save(ctx, rest);
    case "status":
      return status(ctx, rest);
    case "restore":
      return restore(ctx, rest);
    case undefined:
      throw new UsageError("missing snapshot subcommand: save, status or restore");
    default:
      throw new UsageError(`unknown snapshot subcommand "${sub}" (save, status, restore)`);
  }
}

/** A snapshot file that cannot be used; exit status 1 with the reason. */
export class InvalidSnapshotError extends Error {
  override readonly name = "InvalidSnapshotError";
}

function readSnapshotFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function verify(file: string, bytes: Uint8Array): DecodedBackup {
  try {
    return decodeBackup(bytes);
  } catch (error) {
    throw new InvalidSnapshotError(`${file} is not a usable snapshot: ${(error as Error).message}`);
  }
}

function summary(file: string, decoded: DecodedBackup) {
  return { file, ...decoded.metadata, size: decoded.size, sha256: decoded.sha256 };
}

async function save(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(SNAPSHOT_USAGE.save, args, {});
  expectArgs(SNAPSHOT_USAGE.save, positionals, 1);
  const file = positionals[0]!;
  const target = resolve(file);
  const dir = dirname(target);
  const part = join(dir, `.${basename(target)}.${randomBytes(4).toString("hex")}.part`);
  let fd: number | undefined;
  try {
    fd = openSync(part, "wx", 0o600);
  } catch (error) {
    throw new Error(`cannot write beside ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let endpoint = "the control plane";
  try {
    const opened = await ctx.client.openSnapshot({ signal: ctx.io.interrupt });
    endpoint = opened.endpoint;
    let received = 0;
    for await (const chunk of opened.body) {
      writeSync(fd, chunk);
      received += chunk.length;
    }
    if (opened.size !== undefined && received !== opened.size) {
      throw new InvalidSnapshotError(`the download from ${endpoint} was cut after ${received} of ${opened.size} bytes; nothing was saved`);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    const decoded = verify(`the snapshot downloaded from ${endpoint}`, readFileSync(part));
    renameSync(part, target);
    syncDirectory(dir);
    const result = summary(file, decoded);
    emit(ctx, result, () => `saved snapshot ${file}: revision ${result.revision}, ${result.keyCount} keys, ${result.size} bytes\nsha256 ${result.sha256}\n`);
    return 0;
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(part, { force: true });
    if (error instanceof InvalidSnapshotError || error instanceof NagentError || ctx.io.interrupt.aborted) throw error;
    throw new Error(`the snapshot download from ${endpoint} failed, nothing was saved: ${(error as Error).message}`, { cause: error });
  }
}

function describe(file: string, decoded: DecodedBackup): string {
  const m: BackupMetadata = decoded.metadata;
  const rows: [string, string][] = [
    ["revision", String(m.revision)],
    ["keys", String(m.keyCount)],
    ["raft index", `${m.raftIndex} (term ${m.raftTerm})`],
    ["taken", `${m.takenAt} by ${m.takenBy}`],
    ["members", m.members.map((member) => `${member.id}=${member.url || "?"}${member.role === "learner" ? " (learner)" : ""}`).join(", ") || "-"],
    ["size", `${decoded.size} bytes`],
    ["sha256", decoded.sha256],
  ];
  return `${file}: a valid snapshot\n${rows.map(([name, value]) => `  ${name.padEnd(11)}${value}`).join("\n")}\n`;
}

async function status(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(SNAPSHOT_USAGE.status, args, {});
  expectArgs(SNAPSHOT_USAGE.status, positionals, 1);
  const file = positionals[0]!;
  const decoded = verify(file, readSnapshotFile(file));
  emit(ctx, summary(file, decoded), () => describe(file, decoded));
  return 0;
}

async function restore(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(SNAPSHOT_USAGE.restore, args, {
    "data-dir": { kind: "string" },
    "node-id": { kind: "string" },
    peers: { kind: "string" },
  });
  expectArgs(SNAPSHOT_USAGE.restore, positionals, 1);
  const dataDir = flags["data-dir"];
  const nodeId = flags["node-id"];
  if (!dataDir) throw new UsageError(`missing --data-dir DIR: usage: ${SNAPSHOT_USAGE.restore}`);
  if (!nodeId) throw new UsageError(`missing --node-id ID: usage: ${SNAPSHOT_USAGE.restore}`);
  let peers: { id: string; url: string }[] = [];
  if (flags.peers !== undefined) {
    const parsed = peerList().safeParse(flags.peers);
    if (!parsed.success) throw new UsageError(`invalid --peers: ${parsed.error.issues[0]?.message ?? "expected ID=URL,..."}`);
    peers = parsed.data;
    if (!peers.some((peer) => peer.id === nodeId)) {
      throw new UsageError(`--node-id "${nodeId}" is not among --peers (${peers.map((peer) => peer.id).join(", ")})`);
    }
  }
  const file = positionals[0]!;
  const bytes = readSnapshotFile(file);
  verify(file, bytes);
  const result = await restoreDataDir({ file: bytes, dataDir, nodeId, peers });
  const peersFlag = peers.length > 0 ? ` --peers ${peers.map((peer) => `${peer.id}=${peer.url}`).join(",")}` : "";
  emit(
    ctx,
    { dataDir: result.dataDir, nodeId, revision: result.metadata.revision, keyCount: result.metadata.keyCount, voters: result.voters, clusterId: result.clusterId },
    () =>
      `restored ${file} (revision ${result.metadata.revision}, ${result.metadata.keyCount} keys) into ${dataDir} for member ${nodeId}\n` +
      `new cluster ${result.clusterId}, voters ${result.voters.join(", ")}\n` +
      `start it with: control-plane --node-id ${nodeId} --data-dir ${dataDir}${peersFlag}\n`,
  );
  return 0;
}
