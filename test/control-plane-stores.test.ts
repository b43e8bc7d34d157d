// The control-plane binary on each store, as a process: the same API on the integrated store and
// on a real etcd, and the membership answers that differ between them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, startEtcd, waitUntilReady, type EtcdServer, type ServiceProcess } from "../internal/testing/index.ts";
import { SseReader } from "../internal/controlplane/sse-reader.ts";

const TOKEN = "stores-test-admin-token-0123456789";
const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${TOKEN}`, ...extra });

interface Running {
  url: string;
  service: ServiceProcess;
  dir: string;
}

async function startControlPlane(args: string[]): Promise<Running> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "nagent-cp-store-"));
  const service = spawnService({
    name: "control-plane",
    command: [process.execPath, join(import.meta.dir, "..", "cmd", "control-plane", "main.ts"), "--node-id", "cp-1", "--listen", `127.0.0.1:${port}`, "--data-dir", dir, ...args],
    env: { ...process.env, NAGENT_ADMIN_TOKEN: TOKEN },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(service, async () => (await fetch(`${url}/readyz`)).ok);
  return { url, service, dir };
}

let etcd: EtcdServer;
const running: Running[] = [];
const backends: Record<string, Running> = {};

beforeAll(async () => {
  etcd = await startEtcd();
  backends.raft = await startControlPlane([]);
  backends.etcd = await startControlPlane(["--store", "etcd", "--etcd-endpoints", etcd.endpoint]);
  running.push(backends.raft, backends.etcd);
}, 60_000);

afterAll(async () => {
  for (const r of running) {
    await r.service.stop();
    rmSync(r.dir, { recursive: true, force: true });
  }
  await etcd?.stop();
}, 30_000);

describe.each(["raft", "etcd"])("control-plane --store %s", (kind) => {
  test("writes, reads, compare-and-set and a watch event, through the binary", async () => {
    const { url } = backends[kind]!;
    const watch = await fetch(`${url}/v1/watch?prefix=config/app/`, { headers: headers() });
    const events = new SseReader(watch.body!);
    expect((await events.next())?.event).toBe("ready");
    const put = await fetch(`${url}/v1/config/app/flag`, { method: "PUT", headers: headers(), body: "true" });
    expect(put.status).toBe(200);
    const { revision } = (await put.json()) as { revision: number };
    const event = await events.next();
    expect(JSON.parse(event!.data)).toEqual({ type: "put", key: "config/app/flag", value: true, revision });
    await events.cancel();
    const stale = await fetch(`${url}/v1/config/app/flag`, { method: "PUT", headers: headers({ "if-match": String(revision - 1) }), body: "false" });
    expect(stale.status).toBe(412);
    const read = await fetch(`${url}/v1/config/app/flag`, { headers: headers() });
    expect(await read.json()).toMatchObject({ key: "app/flag", value: true, modRevision: revision });
    const cluster = (await (await fetch(`${url}/v1/cluster`, { headers: headers() })).json()) as { store: string };
    expect(cluster.store).toBe(kind);
  });
});

test("removing the last member of the integrated store is refused", async () => {
  const response = await fetch(`${backends.raft!.url}/v1/cluster/members/cp-1`, { method: "DELETE", headers: headers() });
  expect(response.status).toBe(409);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe("membership_change_refused");
});

test("etcd membership is etcd's own: 501", async () => {
  const response = await fetch(`${backends.etcd!.url}/v1/cluster/members/x`, { method: "DELETE", headers: headers() });
  expect(response.status).toBe(501);
});
