// Backups of the integrated store in one process: the file format refuses every damaged copy; a
// restore writes a data dir a member starts from (or refuses and leaves everything as it was);
// --force-new-cluster turns a member of a three-member cluster into a one-member cluster.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { Registry } from "prom-client";
import { KvStateMachine, encodeCommand } from "../kv/index.ts";
import { captureLogger } from "../telemetry/index.ts";
import { until } from "../testing/index.ts";
import { openTestRaftStore, type StoreUnderTest } from "../testing/stores.ts";
import { BackupFormatError, decodeBackup, encodeBackup, type BackupMetadata } from "./backup.ts";
import { CLUSTER_ID_FILE, lineageOffered, readClusterLineage, transportClusterId } from "./cluster-identity.ts";
import { openRaftStore, type RaftStore } from "./raft-store.ts";
import { RestoreRefusedError, restoreDataDir } from "./restore.ts";

function sampleBackup(keys = 3): Uint8Array {
  const kv = new KvStateMachine();
  for (let i = 0; i < keys; i++) kv.apply(encodeCommand({ op: "put", key: `k/${i}`, value: JSON.stringify(i) }));
  const metadata: BackupMetadata = {
    revision: kv.currentRevision,
    raftIndex: 12,
    raftTerm: 3,
    members: [{ id: "a", url: "http://127.0.0.1:1", role: "voter" }],
    takenBy: "a",
    takenAt: "2030-01-01T00:00:00.000Z",
    keyCount: keys,
  };
  return encodeBackup(metadata, kv.snapshot());
}

/** Rewrites the trailer so that only the deliberate change is wrong. */
function resealed(file: Uint8Array): Uint8Array {
  const out = file.slice();
  out.set(createHash("sha256").update(out.subarray(0, out.length - 32)).digest(), out.length - 32);
  return out;
}

function refusal(file: Uint8Array): string {
  try {
    decodeBackup(file);
  } catch (error) {
    expect(error).toBeInstanceOf(BackupFormatError);
    return (error as Error).message;
  }
  throw new Error("the file was accepted");
}

describe("backup file format", () => {
  test("round trip: metadata, state and checksum", () => {
    const file = sampleBackup();
    const decoded = decodeBackup(file);
    expect(decoded.metadata).toMatchObject({ revision: 3, keyCount: 3, raftIndex: 12, raftTerm: 3 });
    expect(decoded.size).toBe(file.length);
    expect(decoded.sha256).toBe(createHash("sha256").update(file).digest("hex"));
    const kv = new KvStateMachine();
    kv.restore(decoded.state);
    expect(kv.get("k/2")?.value).toBe("2");
  });

  test("empty, truncated, wrong magic, unknown version, flipped bytes and mismatched contents are refused", () => {
    const file = sampleBackup();
    expect(refusal(new Uint8Array(0))).toBe("the file is empty (0 bytes)");
    expect(refusal(file.subarray(0, 5))).toContain("truncated");
    expect(refusal(file.subarray(0, file.length - 1))).toContain("truncated");
    expect(refusal(file.subarray(0, file.length >> 1))).toContain("truncated");
    expect(refusal(new TextEncoder().encode("hello, this is not a snapshot at all........................."))).toContain("bad magic");
    const version = file.slice();
    version[9] = 2;
    expect(refusal(resealed(version))).toContain("unknown snapshot format version 2");
    // Every single flipped byte is caught, wherever it is.
    for (let at = 0; at < file.length; at += Math.max(1, Math.floor(file.length / 97))) {
      const flipped = file.slice();
      flipped[at] = flipped[at]! ^ 0x01;
      expect(() => decodeBackup(flipped)).toThrow(BackupFormatError);
    }
    const tail = file.slice();
    tail[tail.length - 1] = tail[tail.length - 1]! ^ 0x80;
    expect(refusal(tail)).toBe("checksum mismatch: the file is corrupted");
    // A consistent file whose metadata lies about its contents.
    const kv = new KvStateMachine();
    const lying = encodeBackup({ ...decodeBackup(file).metadata, keyCount: 99 }, decodeBackup(file).state);
    expect(refusal(lying)).toContain("does not match its metadata");
    expect(refusal(encodeBackup(decodeBackup(file).metadata, kv.snapshot().subarray(0, 3)))).toContain("the state does not decode");
  });
});

describe("restoreDataDir", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "nagent-restore-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test("a non-empty data dir is refused and left byte for byte as it was, with nothing left beside it", async () => {
    const dir = join(root, "existing");
    mkdirSync(join(dir, "wal"), { recursive: true });
    writeFileSync(join(dir, "wal", "precious"), "do not touch");
    writeFileSync(join(dir, "admin-token"), "secret\n");
    const before = readdirSync(root).sort();
    const error = await restoreDataDir({ file: sampleBackup(), dataDir: dir, nodeId: "a", peers: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreRefusedError);
    expect((error as Error).message).toContain("exists and is not empty");
    expect(readFileSync(join(dir, "wal", "precious"), "utf8")).toBe("do not touch");
    expect(readFileSync(join(dir, "admin-token"), "utf8")).toBe("secret\n");
    expect(readdirSync(dir).sort()).toEqual(["admin-token", "wal"]);
    expect(readdirSync(root).sort()).toEqual(before);
  });

  test("a damaged file is refused before anything is written", async () => {
    const file = sampleBackup();
    const error = await restoreDataDir({ file: file.subarray(0, file.length - 10), dataDir: join(root, "never"), nodeId: "a", peers: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreRefusedError);
    expect(existsSync(join(root, "never"))).toBe(false);
    expect(readdirSync(root).filter((name) => name.includes("never"))).toEqual([]);
  });

  test("members restored from the same file with the same peers share a lineage; other peers give another", async () => {
    const file = sampleBackup();
    const peers = [
      { id: "a", url: "http://127.0.0.1:1" },
      { id: "b", url: "http://127.0.0.1:2" },
    ];
    const a = await restoreDataDir({ file, dataDir: join(root, "la"), nodeId: "a", peers });
    const b = await restoreDataDir({ file, dataDir: join(root, "lb"), nodeId: "b", peers });
    const c = await restoreDataDir({ file, dataDir: join(root, "lc"), nodeId: "a", peers: peers.slice(0, 1) });
    expect(a.clusterId).toBe(b.clusterId);
    expect(c.clusterId).not.toBe(a.clusterId);
    expect(readClusterLineage(join(root, "la"))).toBe(a.clusterId);
    expect(readdirSync(join(root, "la")).sort()).toEqual(["LOCK", CLUSTER_ID_FILE, "snap", "wal"].sort());
    expect(readdirSync(root).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });
});

describe("a member started from a restored data dir, and --force-new-cluster", () => {
  let source: StoreUnderTest;
  let root: string;
  const opened: { store: RaftStore; server: ReturnType<typeof Bun.serve> }[] = [];

  beforeAll(async () => {
    source = await openTestRaftStore();
    root = mkdtempSync(join(tmpdir(), "nagent-restore-start-"));
  });
  afterAll(async () => {
    for (const { store, server } of opened) {
      await store.close();
      void server.stop(true);
    }
    await source.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  async function start(dataDir: string, id: string, peers: { id: string; url: string }[], port: number, extra: { forceNewCluster?: boolean } = {}) {
    const app = new Hono();
    const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: app.fetch });
    const store = await openRaftStore({ id, peers, dataDir, logger: captureLogger("silent").logger, registry: new Registry(), tickMs: 20, ...extra });
    store.mount(app);
    opened.push({ store, server });
    return store;
  }

  test("the backup holds every acknowledged write; the restored member serves it and takes writes", async () => {
    for (let i = 0; i < 20; i++) await source.store.put(`cfg/${i}`, JSON.stringify(i));
    const file = await (source.store as RaftStore).backup();
    await source.store.put("cfg/after", "1");
    const decoded = decodeBackup(file);
    expect(decoded.metadata.takenBy).toBe("m1");
    expect(decoded.metadata.members.map((m) => m.id)).toEqual(["m1"]);

    const dir = join(root, "one");
    await restoreDataDir({ file, dataDir: dir, nodeId: "solo", peers: [] });
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = probe.port!;
    void probe.stop(true);
    const store = await start(dir, "solo", [{ id: "solo", url: `http://127.0.0.1:${port}` }], port);
    await until(() => store.notReadyReason() === undefined, { timeoutMs: 10_000, what: "the restored member to lead" });
    expect((await store.get("cfg/19"))?.value).toBe("19");
    expect(await store.get("cfg/after")).toBeUndefined();
    const { revision } = await store.put("cfg/new", "2");
    expect(revision).toBe(decoded.metadata.revision + 1);
    expect((await store.status()).members).toEqual([expect.objectContaining({ id: "solo", url: `http://127.0.0.1:${port}`, role: "leader" })]);
  }, 30_000);

  test("--force-new-cluster: a member of a three-member cluster whose peers are gone leads alone, keeping its data", async () => {
    const file = await (source.store as RaftStore).backup();
    const peers = [
      { id: "x", url: "http://127.0.0.1:9" },
      { id: "y", url: "http://127.0.0.1:9" },
      { id: "z", url: "http://127.0.0.1:9" },
    ];
    const dir = join(root, "three");
    await restoreDataDir({ file, dataDir: dir, nodeId: "x", peers });
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = probe.port!;
    void probe.stop(true);
    const own = [{ id: "x", url: `http://127.0.0.1:${port}` }, ...peers.slice(1)];

    const stuck = await start(dir, "x", own, port);
    await Bun.sleep(600);
    expect(stuck.notReadyReason()).toBe("no leader");
    const last = opened.pop()!;
    await last.store.close();
    void last.server.stop(true);

    const forced = await start(dir, "x", own, port, { forceNewCluster: true });
    await until(() => forced.notReadyReason() === undefined, { timeoutMs: 10_000, what: "the forced member to lead" });
    expect((await forced.get("cfg/after"))?.value).toBe("1");
    await forced.put("cfg/forced", "3");
    const status = await forced.status();
    expect(status.members.map((m) => [m.id, m.role])).toEqual([["x", "leader"]]);
    const lastOpened = opened.pop()!;
    await lastOpened.store.close();
    void lastOpened.server.stop(true);

    // Again, without the flag: the one-member membership is durable.
    const again = await start(dir, "x", own, port);
    await until(() => again.notReadyReason() === undefined, { timeoutMs: 10_000, what: "the member to lead after a restart" });
    expect((await again.get("cfg/forced"))?.value).toBe("3");
  }, 30_000);
});

describe("cluster identity", () => {
  test("a restored cluster's members name another cluster than the old one; only a token's own lineage is adopted", () => {
    expect(transportClusterId("nagent", undefined)).toBe("nagent");
    expect(transportClusterId("nagent", "0123456789abcdef")).toBe("nagent/0123456789abcdef");
    expect(lineageOffered("nagent", "nagent/0123456789abcdef")).toBe("0123456789abcdef");
    expect(lineageOffered("nagent", "nagent")).toBeUndefined();
    expect(lineageOffered("nagent", "other/0123456789abcdef")).toBeUndefined();
    expect(lineageOffered("nagent", "nagent/../../etc")).toBeUndefined();
  });
});
