// A 3-member control plane as real processes on loopback: replication, forwarding, failover,
// restarts, frozen members, membership changes and leadership transfer through the HTTP API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from "../internal/testing/index.ts";
import { ADMIN_TOKEN, authHeaders, startCluster, type Cluster, type ClusterMember } from "./support/cluster.ts";

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
  await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 30_000);

async function put(member: ClusterMember, key: string, value: unknown, headers: Record<string, string> = {}) {
  return fetch(`${member.url}/v1/config/${key}`, {
    method: "PUT",
    headers: authHeaders({ "content-type": "application/json", ...headers }),
    body: JSON.stringify(value),
    signal: AbortSignal.timeout(10_000),
  });
}

async function get(member: ClusterMember, key: string, consistency = "linearizable") {
  return fetch(`${member.url}/v1/config/${key}?consistency=${consistency}`, { headers: authHeaders(), signal: AbortSignal.timeout(10_000) });
}

async function status(member: ClusterMember) {
  const response = await fetch(`${member.url}/v1/cluster`, { headers: authHeaders(), signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as {
    store: string;
    leader: string;
    term: number;
    members: { id: string; url: string; role: string; commitIndex?: number; appliedIndex?: number; matchIndex?: number }[];
  };
}

/** Retries a write until it succeeds (a failover may be in progress). */
async function putEventually(key: string, value: unknown): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    for (const member of cluster.members.filter((m) => m.process && !m.paused)) {
      try {
        const response = await put(member, key, value);
        if (response.ok) return ((await response.json()) as { revision: number }).revision;
        await response.body?.cancel();
      } catch {}
    }
    if (Date.now() > deadline) throw new Error(`could not write ${key} within 20 s`);
    await Bun.sleep(100);
  }
}

const byId = (id: string) => cluster.members.find((m) => m.id === id)!;
const followers = (leader: string) => cluster.members.filter((m) => m.id !== leader);

describe("3-member control plane (integrated Raft store)", () => {
  test("every member reports the same leader and the raft store", async () => {
    const leader = await cluster.waitForLeader();
    for (const member of cluster.members) {
      const s = await status(member);
      expect(s.store).toBe("raft");
      expect(s.leader).toBe(leader);
      expect(s.members.map((m) => m.id)).toEqual(["cp-1", "cp-2", "cp-3"]);
    }
  });

  test("a write to a follower is forwarded; every member reads it linearizably", async () => {
    const leader = await cluster.waitForLeader();
    const follower = followers(leader)[0]!;
    const response = await put(follower, "replicated/k", { v: 1 });
    expect(response.status).toBe(200);
    for (const member of cluster.members) {
      const read = await get(member, "replicated/k");
      expect(read.status).toBe(200);
      expect(((await read.json()) as { value: unknown }).value).toEqual({ v: 1 });
    }
  });

  test("compare-and-set through different members: exactly one wins", async () => {
    const { revision } = (await (await put(cluster.members[0]!, "cas/race", "start")).json()) as { revision: number };
    const results = await Promise.all(
      cluster.members.map((member, i) => put(member, "cas/race", `w${i}`, { "if-match": String(revision) })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412]);
  });

  test("kill -9 the leader: a new leader is elected, writes continue, the old leader catches up on restart", async () => {
    const oldLeader = await cluster.waitForLeader();
    await putEventually("failover/before", "acknowledged before the kill");
    await cluster.kill(byId(oldLeader));
    const newLeader = await cluster.waitForLeader();
    expect(newLeader).not.toBe(oldLeader);
    const revision = await putEventually("failover/after", "written under the new leader");
    await cluster.start(byId(oldLeader));
    // The restarted member replays its log and catches up; a serializable (local) read proves it.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await get(byId(oldLeader), "failover/after", "serializable");
      if (response.ok) {
        const body = (await response.json()) as { value: string; modRevision: number };
        expect(body).toMatchObject({ value: "written under the new leader", modRevision: revision });
        break;
      }
      if (Date.now() > deadline) throw new Error("the restarted member did not catch up");
      await Bun.sleep(100);
    }
    expect(((await (await get(byId(oldLeader), "failover/before")).json()) as { value: string }).value).toBe(
      "acknowledged before the kill",
    );
  }, 60_000);

  test("a frozen leader (SIGSTOP) is replaced; on SIGCONT it steps down and rejoins", async () => {
    const frozen = await cluster.waitForLeader();
    cluster.pause(byId(frozen));
    try {
      const leader = await cluster.waitForLeader();
      expect(leader).not.toBe(frozen);
      await putEventually("frozen/while", "written while the old leader was frozen");
    } finally {
      cluster.resume(byId(frozen));
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await get(byId(frozen), "frozen/while");
      if (response.ok) break;
      if (Date.now() > deadline) throw new Error("the resumed member did not serve a linearizable read");
      await Bun.sleep(100);
    }
    const s = await status(byId(frozen));
    expect(s.leader).not.toBeNull();
  }, 60_000);

  test("leadership transfer through the API", async () => {
    const leader = await cluster.waitForLeader();
    const target = followers(leader)[1]!.id;
    const response = await fetch(`${byId(leader).url}/v1/cluster/leader`, {
      method: "POST",
      headers: authHeaders({ "content-type": "application/json" }),
      body: JSON.stringify({ to: target }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ leader: target });
    expect(await cluster.waitForLeader()).toBe(target);
  }, 30_000);

  test("writes during leadership handovers wait for the new leader: none fails", async () => {
    // While leadership moves, members briefly know no leader; a write arriving then is held until
    // the election ends (as etcd does) rather than answered 503.
    let running = true;
    const failures: string[] = [];
    let acknowledged = 0;
    const writer = async (member: ClusterMember, n: number) => {
      for (let seq = 0; running; seq++) {
        const response = await put(member, `handover/${n}-${seq}`, seq);
        if (response.ok) acknowledged++;
        else failures.push(`${member.id}: ${response.status} ${await response.text()}`);
        await Bun.sleep(2);
      }
    };
    const writers = cluster.members.flatMap((member, i) => [writer(member, 2 * i), writer(member, 2 * i + 1)]);
    try {
      for (let round = 0; round < 4; round++) {
        const leader = await cluster.waitForLeader();
        const target = followers(leader)[round % 2]!.id;
        const response = await fetch(`${byId(leader).url}/v1/cluster/leader`, {
          method: "POST",
          headers: authHeaders({ "content-type": "application/json" }),
          body: JSON.stringify({ to: target }),
        });
        expect(response.status).toBe(200);
        await Bun.sleep(150);
      }
    } finally {
      running = false;
      await Promise.all(writers);
    }
    expect(failures).toEqual([]);
    expect(acknowledged).toBeGreaterThan(50);
  }, 60_000);

  describe("membership", () => {
    let joiner: ServiceProcess | undefined;
    let joinerDir = "";
    afterAll(async () => {
      await joiner?.stop();
      if (joinerDir) rmSync(joinerDir, { recursive: true, force: true });
    });

    test("adding a member twice is refused; removing an unknown one is 404", async () => {
      const leader = byId(await cluster.waitForLeader());
      const again = await fetch(`${leader.url}/v1/cluster/members`, {
        method: "POST",
        headers: authHeaders({ "content-type": "application/json" }),
        body: JSON.stringify({ id: "cp-1", url: cluster.members[0]!.url }),
      });
      expect(again.status).toBe(409);
      const unknown = await fetch(`${leader.url}/v1/cluster/members/cp-99`, { method: "DELETE", headers: authHeaders() });
      expect(unknown.status).toBe(404);
    });

    test("a new member joins as a learner, catches up, is promoted, and can be removed", async () => {
      await putEventually("membership/before-join", "data the joiner must catch up on");
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      joinerDir = mkdtempSync(join(tmpdir(), "nagent-joiner-"));
      const peers = [...cluster.members.map((m) => `${m.id}=${m.url}`), `cp-4=${url}`].join(",");
      joiner = spawnService({
        name: "cp-4",
        command: [
          process.execPath,
          join(import.meta.dir, "..", "cmd", "control-plane", "main.ts"),
          ...["--node-id", "cp-4", "--listen", `127.0.0.1:${port}`, "--peers", peers, "--data-dir", joinerDir, "--join"],
          ...["--log-level", "warn"],
        ],
        env: { ...process.env, NAGENT_ADMIN_TOKEN: ADMIN_TOKEN },
      });
      await waitUntilReady(joiner, async () => (await fetch(`${url}/healthz`)).ok);

      const leader = byId(await cluster.waitForLeader());
      const added = await fetch(`${leader.url}/v1/cluster/members`, {
        method: "POST",
        headers: authHeaders({ "content-type": "application/json" }),
        body: JSON.stringify({ id: "cp-4", url }),
      });
      expect(added.status).toBe(201);

      const deadline = Date.now() + 30_000;
      for (;;) {
        const s = await status(leader);
        const cp4 = s.members.find((m) => m.id === "cp-4");
        if (cp4?.role === "follower") break;
        if (Date.now() > deadline) throw new Error(`cp-4 was not promoted: ${JSON.stringify(s.members)}`);
        await Bun.sleep(100);
      }
      const read = await fetch(`${url}/v1/config/membership/before-join`, { headers: authHeaders() });
      expect(read.status).toBe(200);

      const removed = await fetch(`${leader.url}/v1/cluster/members/cp-4`, { method: "DELETE", headers: authHeaders() });
      expect(removed.status).toBe(200);
      expect((await status(leader)).members.map((m) => m.id)).toEqual(["cp-1", "cp-2", "cp-3"]);
      await putEventually("membership/after-remove", "the cluster goes on without cp-4");
    }, 60_000);
  });
});

describe("snapshots between real processes", () => {
  let small: Cluster;
  beforeAll(async () => {
    small = await startCluster({ size: 3, extraArgs: ["--snapshot-entries", "50"] });
    await small.waitForLeader();
  }, 60_000);
  afterAll(async () => {
    await small?.stop();
  }, 30_000);

  test("a member that missed more than the retained log catches up from a snapshot sent in chunks, and restarts from its own", async () => {
    const leaderId = await small.waitForLeader();
    const lagging = small.members.find((m) => m.id !== leaderId)!;
    const writer = small.members.find((m) => m.id === leaderId)!;
    await small.kill(lagging);
    // Enough writes for several snapshots and a compacted log behind them (5,000 entries kept).
    const total = 5_600;
    for (let start = 0; start < total; start += 200) {
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const response = await fetch(`${writer.url}/v1/config/snap/k${(start + i) % 500}`, {
            method: "PUT",
            headers: authHeaders({ "content-type": "application/json" }),
            body: JSON.stringify(start + i),
          });
          expect(response.status).toBe(200);
        }),
      );
    }
    await small.start(lagging);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const response = await fetch(`${lagging.url}/v1/config/snap/k${(total - 1) % 500}?consistency=serializable`, { headers: authHeaders() });
      if (response.ok && ((await response.json()) as { value: number }).value === total - 1) break;
      if (Date.now() > deadline) throw new Error("the lagging member did not catch up");
      await Bun.sleep(200);
    }
    const metrics = await (await fetch(`${lagging.url}/metrics`)).text();
    expect(metrics).toMatch(/^nagent_raft_snapshots_installed_total [1-9]/m);
    // Restart it again: it recovers from its own snapshot and write-ahead log.
    await small.kill(lagging);
    await small.start(lagging);
    const again = await fetch(`${lagging.url}/v1/config/snap/k0?consistency=serializable`, { headers: authHeaders() });
    expect(again.status).toBe(200);
  }, 120_000);
});
