// nagentctl snapshot save|status|restore in-process: save against a small server that answers a
// good, damaged, cut or refused download; status and restore on files only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvStateMachine, encodeCommand } from "../kv/index.ts";
import { encodeBackup } from "../raftstore/index.ts";
import { runCaptured } from "./capture-io.ts";

const TOKEN = "snapshot-test-token-0123456789";

function backup(): Uint8Array {
  const kv = new KvStateMachine();
  for (const key of ["a", "b", "c"]) kv.apply(encodeCommand({ op: "put", key: `cfg/${key}`, value: `"${key}"` }));
  return encodeBackup(
    {
      revision: kv.currentRevision,
      raftIndex: 9,
      raftTerm: 2,
      members: [
        { id: "cp-1", url: "http://10.0.0.1:8080", role: "voter" },
        { id: "cp-2", url: "http://10.0.0.2:8080", role: "voter" },
      ],
      takenBy: "cp-1",
      takenAt: "2030-06-01T12:00:00.000Z",
      keyCount: 3,
    },
    kv.snapshot(),
  );
}

const good = backup();
let mode: "good" | "corrupt" | "etcd" = "good";
let server: ReturnType<typeof Bun.serve>;
/** Announces the whole file, sends 100 bytes of it, and hangs up. */
let cutServer: Bun.TCPSocketListener<undefined>;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "nagentctl-snapshot-"));
  cutServer = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${good.length}\r\n\r\n`);
        socket.write(good.subarray(0, 100));
        socket.end();
      },
    },
  });
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      if (request.headers.get("authorization") !== `Bearer ${TOKEN}`) return Response.json({ error: { code: "unauthenticated", message: "no" } }, { status: 401 });
      if (new URL(request.url).pathname !== "/v1/cluster/snapshot") return new Response("no route", { status: 404 });
      switch (mode) {
        case "good":
          return new Response(good.slice().buffer);
        case "corrupt": {
          const bad = good.slice();
          bad[40] = bad[40]! ^ 0xff;
          return new Response(bad.buffer);
        }
        case "etcd":
          return Response.json(
            { error: { code: "not_supported", message: "the etcd store keeps no state in the control plane: use etcdctl snapshot save against your etcd cluster" } },
            { status: 501 },
          );
      }
    },
  });
});
afterAll(() => {
  void server.stop(true);
  cutServer.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ NAGENT_ENDPOINTS: `http://127.0.0.1:${server.port}`, NAGENT_TOKEN: TOKEN });
const ctl = (args: string[]) => runCaptured(args, { env: env() });
const leftovers = (name: string) => readdirSync(dir).filter((entry) => entry.includes(name));

describe("nagentctl snapshot save", () => {
  test("downloads, verifies and moves the file into place; prints revision, keys, size, sha256", async () => {
    mode = "good";
    const file = join(dir, "good.snap");
    const run = await ctl(["snapshot", "save", file]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toStartWith(`saved snapshot ${file}: revision 3, 3 keys, ${good.length} bytes\nsha256 `);
    expect(Buffer.compare(readFileSync(file), Buffer.from(good))).toBe(0);
    expect(leftovers("good.snap")).toEqual(["good.snap"]);
    const json = JSON.parse((await ctl(["snapshot", "save", file, "-o", "json"])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ file, revision: 3, keyCount: 3, size: good.length, raftIndex: 9 });
    expect(json.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test("a corrupted or cut download leaves no file; etcd's refusal is passed on", async () => {
    mode = "corrupt";
    for (const bad of ["corrupt", "cut"] as const) {
      const endpoint = bad === "cut" ? `http://127.0.0.1:${cutServer.port}` : `http://127.0.0.1:${server.port}`;
      const run = await runCaptured(["snapshot", "save", join(dir, `${bad}.snap`)], { env: { NAGENT_ENDPOINTS: endpoint, NAGENT_TOKEN: TOKEN } });
      expect(run.code).toBe(1);
      expect(run.stderr).toStartWith("nagentctl: ");
      expect(run.stderr.split("\n").length).toBe(2);
      expect(leftovers(`${bad}.snap`)).toEqual([]);
    }
    mode = "etcd";
    const run = await ctl(["snapshot", "save", join(dir, "etcd.snap"), "-o", "json"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("use etcdctl snapshot save against your etcd cluster");
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: "not_supported", status: 501 } });
    expect(leftovers("etcd.snap")).toEqual([]);
  });

  test("usage errors", async () => {
    expect(await ctl(["snapshot", "save"])).toMatchObject({ code: 2, stderr: "nagentctl: missing argument: usage: snapshot save FILE\n" });
    expect((await ctl(["snapshot"])).code).toBe(2);
    expect((await ctl(["snapshot", "load", "x"])).stderr).toBe('nagentctl: unknown snapshot subcommand "load" (save, status, restore)\n');
  });
});

describe("nagentctl snapshot status and restore (offline)", () => {
  const damaged: Record<string, Uint8Array> = {};
  beforeAll(() => {
    const flipped = good.slice();
    flipped[good.length >> 1] = flipped[good.length >> 1]! ^ 0x04;
    damaged.empty = new Uint8Array(0);
    damaged.truncated = good.subarray(0, good.length - 20);
    damaged.flipped = flipped;
    damaged.magic = new TextEncoder().encode(`PK${"x".repeat(200)}`);
    writeFileSync(join(dir, "ok.snap"), good);
    for (const [name, bytes] of Object.entries(damaged)) writeFileSync(join(dir, `${name}.snap`), bytes);
  });

  test("status prints the metadata of a valid file", async () => {
    const file = join(dir, "ok.snap");
    const run = await runCaptured(["snapshot", "status", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${file}: a valid snapshot\n  revision   3\n  keys       3\n  raft index 9 (term 2)\n`);
    expect(run.stdout).toContain("members    cp-1=http://10.0.0.1:8080, cp-2=http://10.0.0.2:8080");
    const json = JSON.parse((await runCaptured(["snapshot", "status", file, "-o", "json"])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ revision: 3, keyCount: 3, takenBy: "cp-1", size: good.length });
  });

  test("status and restore refuse empty, truncated, flipped and wrong-magic files with one clear line", async () => {
    const reasons: Record<string, string> = {
      empty: "the file is empty (0 bytes)",
      truncated: "the file is truncated",
      flipped: "checksum mismatch",
      magic: "not a Nagent snapshot file (bad magic bytes)",
    };
    for (const [name, reason] of Object.entries(reasons)) {
      const file = join(dir, `${name}.snap`);
      const status = await runCaptured(["snapshot", "status", file]);
      expect(status.code).toBe(1);
      expect(status.stderr).toStartWith(`nagentctl: ${file} is not a usable snapshot: ${reason}`);
      expect(status.stderr.split("\n").length).toBe(2);
      const target = join(dir, `restored-${name}`);
      const restore = await runCaptured(["snapshot", "restore", file, "--data-dir", target, "--node-id", "cp-1"]);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toContain(reason);
      expect(existsSync(target)).toBe(false);
      expect(leftovers(`restored-${name}`)).toEqual([]);
    }
    expect((await runCaptured(["snapshot", "status", join(dir, "missing.snap")])).code).toBe(2);
  });

  test("restore writes a data dir; refuses a non-empty one without touching it; checks its flags", async () => {
    const file = join(dir, "ok.snap");
    const target = join(dir, "member-1");
    const run = await runCaptured(["snapshot", "restore", file, "--data-dir", target, "--node-id", "cp-1", "--peers", "cp-1=http://10.0.0.1:8080,cp-2=http://10.0.0.2:8080"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain(`start it with: control-plane --node-id cp-1 --data-dir ${target} --peers cp-1=http://10.0.0.1:8080,cp-2=http://10.0.0.2:8080\n`);
    expect(readdirSync(target).sort()).toEqual(["LOCK", "cluster-id", "snap", "wal"]);

    const occupied = join(dir, "occupied");
    mkdirSync(occupied);
    writeFileSync(join(occupied, "keep"), "mine");
    const refused = await runCaptured(["snapshot", "restore", file, "--data-dir", occupied, "--node-id", "cp-1", "-o", "json"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("exists and is not empty");
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: "failed" } });
    expect(readdirSync(occupied)).toEqual(["keep"]);
    expect(readFileSync(join(occupied, "keep"), "utf8")).toBe("mine");

    const usage = "snapshot restore FILE --data-dir DIR --node-id ID [--peers ID=URL,...]";
    expect(await runCaptured(["snapshot", "restore", file, "--node-id", "cp-1"])).toMatchObject({ code: 2, stderr: `nagentctl: missing --data-dir DIR: usage: ${usage}\n` });
    expect((await runCaptured(["snapshot", "restore", file, "--data-dir", join(dir, "x")])).code).toBe(2);
    const notAmong = await runCaptured(["snapshot", "restore", file, "--data-dir", join(dir, "x"), "--node-id", "cp-9", "--peers", "cp-1=http://a:1"]);
    expect(notAmong).toMatchObject({ code: 2, stderr: 'nagentctl: --node-id "cp-9" is not among --peers (cp-1)\n' });
    expect((await runCaptured(["snapshot", "restore", file, "--data-dir", join(dir, "x"), "--node-id", "cp-1", "--peers", "cp-1=ftp://a"])).code).toBe(2);
    expect(existsSync(join(dir, "x"))).toBe(false);
  });
});
