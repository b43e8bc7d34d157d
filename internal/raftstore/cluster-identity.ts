// Which cluster a member belongs to, as its member-to-member requests say it (x-nagent-cluster).
// The configured --cluster-token names the cluster; a cluster restored from a backup also has a
// lineage, kept in the data dir's `cluster-id` file, which every member restored from the same
// file with the same --peers shares. Members of the old cluster (no lineage, or another one) and
// of the restored one therefore refuse each other's messages, even with the same token.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";

export const CLUSTER_ID_FILE = "cluster-id";
const LINEAGE = /^[0-9a-f]{8,64}$/;

/** The lineage recorded in `dataDir`, or undefined for a cluster founded from scratch. */
export function readClusterLineage(dataDir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, CLUSTER_ID_FILE), "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!LINEAGE.test(text)) throw new Error(`${join(dataDir, CLUSTER_ID_FILE)} does not hold a cluster id`);
  return text;
}

/** Records the lineage in `dataDir` durably (temporary file, fsync, rename, directory fsync). */
export function writeClusterLineage(dataDir: string, lineage: string): void {
  if (!LINEAGE.test(lineage)) throw new Error(`"${lineage}" is not a cluster id`);
  const path = join(dataDir, CLUSTER_ID_FILE);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${lineage}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDirectory(dataDir);
}

/** What a member puts in x-nagent-cluster: the token, and the lineage when there is one. */
export function transportClusterId(token: string, lineage: string | undefined): string {
  return lineage === undefined ? token : `${token}/${lineage}`;
}

/** The lineage part of a peer's x-nagent-cluster, when it belongs to a cluster with this token. */
export function lineageOffered(token: string, offered: string): string | undefined {
  if (!offered.startsWith(`${token}/`)) return undefined;
  const lineage = offered.slice(token.length + 1);
  return LINEAGE.test(lineage) ? lineage : undefined;
}

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
