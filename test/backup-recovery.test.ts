// Backup, restore and recovery from a lost quorum with real processes: a 3-member cluster is backed
// up with nagentctl snapshot save; the file is restored into three fresh data dirs that start a
// new cluster (the keys up to the snapshot, none after); damaged files and an occupied data dir
// are refused without touching anything; then the restored cluster loses two members to kill -9,
// its survivor restarts with --force-new-cluster holding every acknowledged write, and a fresh
// member joins it with nagentctl cluster add.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from "../internal/testing/index.ts";
import { ADMIN_TOKEN, authHeaders, startCluster, type Cluster, type ClusterMember } from "./support/cluster.ts";

const root = join(import.meta.dir, "..");
const CTL = join(root, "cmd", "nagentctl", "main.ts");
const CONTROL_PLANE = join(root, "cmd", "control-plane", "main.ts");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function ctl(args: string[], endpoints?: string): Promise<Run> {
  const child = Bun.spawn([process.execPath, CTL, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", NAGENT_TOKEN: ADMIN_TOKEN, ...(endpoints ? { NAGENT_ENDPOINTS: endpoints } : {}) },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

async function put(member: ClusterMember | string, key: string, value: unknown, timeoutMs = 10_000): Promise<Response> {
  const url = typeof member === "string" ? member : member.url;
  return fetch(`${url}/v1/config/${key}`, {
    method: "PUT",
    headers: authHeaders({ "content-type": "application/json" }),
    body: JSON.stringify(value),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

async function get(url: string, key: string, consistency = "linearizable"): Promise<Response> {
  return fetch(`${url}/v1/config/${key}?consistency=${consistency}`, { headers: authHeaders(), signal: AbortSignal.timeout(10_000) });
}

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(100);
  }
}

/** Every file under `dir` with its SHA-256, to prove a refused restore touched nothing. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[path] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

let work: string;
let snapshotFile: string;
let original: Cluster | undefined;
let restored: Cluster | undefined;
let joiner: ServiceProcess | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "nagent-backup-"));
  snapshotFile = join(work, "backup.snap");
});

afterAll(async () => {
  await joiner?.stop();
  await original?.stop();
  await restored?.stop();
  rmSync(work, { recursive: true, force: true });
}, 30_000);

describe("backup and restore", () => {
  test("snapshot save from a 3-member cluster, restore into 3 fresh dirs: a new cluster with the keys up to the snapshot", async () => {
    original = await startCluster({ size: 3, logLevel: "warn" });
    const leader = original.members.find((m) => m.id === "cp-1")!;
    await original.waitForLeader();
    for (let i = 0; i < 10; i++) expect((await put(leader, `before/${i}`, { i })).status).toBe(200);

    const endpoints = original.members.map((m) => m.url).join(",");
    const saved = await ctl(["snapshot", "save", snapshotFile], endpoints);
    expect(saved).toMatchObject({ code: 0, stderr: "" });
    expect(saved.stdout).toMatch(/^saved snapshot .*: revision \d+, \d+ keys, \d+ bytes\nsha256 [0-9a-f]{64}\n$/);
    for (let i = 0; i < 5; i++) expect((await put(leader, `after/${i}`, { i })).status).toBe(200);

    const status = await ctl(["snapshot", "status", snapshotFile, "-o", "json"]);
    expect(status.code).toBe(0);
    const meta = JSON.parse(status.stdout) as { revision: number; keyCount: number; members: { id: string }[] };
    expect(meta.members.map((m) => m.id)).toEqual(["cp-1", "cp-2", "cp-3"]);

    // A node credential may read the cluster's status, not download every key.
    const node = await fetch(`${leader.url}/v1/auth/tokens`, {
      method: "POST",
      headers: authHeaders({ "content-type": "application/json" }),
      body: JSON.stringify({ subject: "n1", roles: ["node"], ttlSeconds: 60 }),
    });
    const { token } = (await node.json()) as { token: string };
    expect((await fetch(`${leader.url}/v1/cluster/snapshot`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await fetch(`${leader.url}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    restored = await startCluster({
      size: 3,
      logLevel: "warn",
      async beforeStart(members, peers) {
        for (const member of members) {
          const run = await ctl(["snapshot", "restore", snapshotFile, "--data-dir", member.dataDir, "--node-id", member.id, "--peers", peers]);
          expect(run).toMatchObject({ code: 0, stderr: "" });
        }
      },
    });
    await restored.waitForLeader();
    const restoredEndpoint = restored.members[1]!.url;
    for (let i = 0; i < 10; i++) {
      const response = await get(restoredEndpoint, `before/${i}`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { value: unknown }).value).toEqual({ i });
    }
    for (let i = 0; i < 5; i++) expect((await get(restoredEndpoint, `after/${i}`)).status).toBe(404);
    const write = await put(restored.members[2]!, "restored/new", "written in the new cluster");
    expect(write.status).toBe(200);
    expect(((await write.json()) as { revision: number }).revision).toBe(meta.revision + 1);

    // The two clusters share member ids and the cluster token, and still never mix.
    const mixed = await fetch(`${restored.members[0]!.url}/v1/cluster`, { headers: authHeaders() });
    expect(((await mixed.json()) as { members: { url: string }[] }).members.map((m) => m.url).sort()).toEqual(restored.members.map((m) => m.url).sort());
    expect((await get(leader.url, "restored/new")).status).toBe(404);
  }, 60_000);

  test("damaged files are refused by status and restore; an occupied data dir is left byte for byte as it was", async () => {
    const good = readFileSync(snapshotFile);
    const flipped = Buffer.from(good);
    flipped[flipped.length >> 1] = flipped[flipped.length >> 1]! ^ 0x10;
    const cases: [string, Uint8Array, string][] = [
      ["empty", new Uint8Array(0), "the file is empty"],
      ["truncated", good.subarray(0, good.length - 100), "the file is truncated"],
      ["flipped", flipped, "checksum mismatch"],
      ["magic", Buffer.concat([Buffer.from("NOTASNAP"), good.subarray(8)]), "bad magic"],
    ];
    const occupied = original!.members[0]!.dataDir;
    const before = fingerprint(occupied);
    const runs = await Promise.all(
      cases.flatMap(([name, bytes]) => {
        const file = join(work, `${name}.snap`);
        writeFileSync(file, bytes);
        return [ctl(["snapshot", "status", file]), ctl(["snapshot", "restore", file, "--data-dir", join(work, `into-${name}`), "--node-id", "cp-1"])];
      }),
    );
    cases.forEach(([name, , reason], i) => {
      for (const run of [runs[2 * i]!, runs[2 * i + 1]!]) {
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(reason);
        expect(run.stderr.trim().split("\n")).toHaveLength(1);
      }
      expect(existsSync(join(work, `into-${name}`))).toBe(false);
    });
    const refused = await ctl(["snapshot", "restore", snapshotFile, "--data-dir", occupied, "--node-id", "cp-1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("exists and is not empty");
    expect(fingerprint(occupied)).toEqual(before);
    expect(readdirSync(work).filter((name) => name.endsWith(".tmp") || name.endsWith(".part"))).toEqual([]);
    await original!.stop();
    original = undefined;
  }, 30_000);
});

describe("recovery from a lost quorum", () => {
  test("kill -9 two of three; the survivor restarts with --force-new-cluster holding every acknowledged write; a fresh member joins", async () => {
    const cluster = restored!;
    const leaderId = await cluster.waitForLeader();
    const leader = cluster.members.find((m) => m.id === leaderId)!;
    const survivor = cluster.members.find((m) => m.id !== leaderId)!;
    const acknowledged: string[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const response = await put(i % 2 === 0 ? leader : survivor, `acked/${i}`, { i });
        if (response.status === 200) acknowledged.push(`acked/${i}`);
      }),
    );
    expect(acknowledged.length).toBe(40);

    for (const member of cluster.members.filter((m) => m !== survivor)) await cluster.kill(member);
    const refused = await put(survivor, "no-quorum/write", 1, 15_000);
    expect(refused.status).toBe(503);

    await survivor.process!.stop();
    const listen = survivor.url.replace("http://", "");
    const emptyDir = join(work, "never-a-member");
    const refusedStart = Bun.spawnSync([process.execPath, CONTROL_PLANE, "--node-id", survivor.id, "--data-dir", emptyDir, "--force-new-cluster"], { cwd: root });
    expect(refusedStart.exitCode).toBe(2);
    expect(refusedStart.stderr.toString()).toContain("--force-new-cluster");

    survivor.process = spawnService({
      name: `${survivor.id}-forced`,
      command: [
        process.execPath,
        CONTROL_PLANE,
        ...["--node-id", survivor.id, "--listen", listen, "--peers", cluster.peers, "--data-dir", survivor.dataDir, "--force-new-cluster"],
        ...["--log-level", "warn"],
      ],
      env: { ...process.env, NAGENT_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    await waitUntilReady(survivor.process, async () => (await fetch(`${survivor.url}/readyz`, { signal: AbortSignal.timeout(500) })).ok);
    expect(survivor.process.output()).toContain("--force-new-cluster");

    for (const key of acknowledged) expect((await get(survivor.url, key)).status).toBe(200);
    expect((await put(survivor, "recovered/write", "after recovery")).status).toBe(200);
    const alone = await ctl(["cluster", "status", "-o", "json"], survivor.url);
    expect((JSON.parse(alone.stdout) as { members: { id: string; role: string }[] }).members.map((m) => [m.id, m.role])).toEqual([[survivor.id, "leader"]]);

    // A fresh member joins the one-member cluster and catches up.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const joinerDir = join(work, "cp-4");
    joiner = spawnService({
      name: "cp-4",
      command: [
        process.execPath,
        CONTROL_PLANE,
        ...["--node-id", "cp-4", "--listen", `127.0.0.1:${port}`, "--peers", `${survivor.id}=${survivor.url},cp-4=${url}`, "--data-dir", joinerDir, "--join"],
        ...["--log-level", "warn"],
      ],
      env: { ...process.env, NAGENT_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    await waitUntilReady(joiner, async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(500) })).ok);
    const added = await ctl(["cluster", "add", "cp-4", url], survivor.url);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    await eventually("cp-4 to be promoted to voter", async () => {
      const run = await ctl(["cluster", "status", "-o", "json"], survivor.url);
      const members = (JSON.parse(run.stdout) as { members: { id: string; role: string }[] }).members;
      return members.find((m) => m.id === "cp-4")?.role === "follower" ? true : undefined;
    });
    for (const key of [...acknowledged, "before/3", "recovered/write"]) {
      const response = await get(url, key);
      expect(response.status).toBe(200);
    }
    expect((await put(url, "joined/write", "through the new member")).status).toBe(200);
  }, 60_000);
});
