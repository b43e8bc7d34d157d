// Benchmark: a 3-member Nagent control plane (integrated Raft store, through its HTTP API) against
// a 3-member etcd cluster (through the etcd3 client), both started here on loopback in the same
// run, fsync on for both, 256-byte values. Prints writes/s and p50/p99 at several concurrencies,
// then failover: the leader is killed with SIGKILL repeatedly under load and the time from the
// kill to the next successful write is measured. Not a test: run it by hand.
//
//   bun scripts/bench/store.ts [--seconds 5] [--concurrency 1,16,64,256] [--failovers 20] [--only etcd|nagent]
import { Etcd3 } from "etcd3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePorts, requireExecutable, spawnService, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";
import { ADMIN_TOKEN, startCluster, type Cluster } from "../../test/support/cluster.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "1,16,64,256" },
    failovers: { type: "string", default: "20" },
    only: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const levels = (values.concurrency ?? "1").split(",").map(Number);
const failovers = Number(values.failovers);
const VALUE = "x".repeat(256);

interface System {
  readonly name: string;
  put(key: string, value: string, timeoutMs?: number): Promise<void>;
  leaderIndex(): Promise<number>;
  kill(index: number): Promise<void>;
  restart(index: number): Promise<void>;
  stop(): Promise<void>;
}

interface Result {
  readonly writesPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The same closed-loop client harness for both systems: `concurrency` writers for `seconds`. */
async function measure(system: System, concurrency: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let i = 0;
      while (performance.now() < end) {
        const started = performance.now();
        try {
          await system.put(`bench/w${worker}/k${i++ % 100}`, VALUE);
          latencies.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { writesPerSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

/** Kills the leader under a light load and times until the next write succeeds, `failovers` times. */
async function failover(system: System): Promise<{ p50: number; p99: number; samples: number[] }> {
  const samples: number[] = [];
  for (let round = 0; round < failovers; round++) {
    const leader = await system.leaderIndex();
    const killedAt = performance.now();
    await system.kill(leader);
    for (;;) {
      // 100 ms deadlines, for both systems alike: a write that went to the dead leader is given up
      // quickly and tried again, so the figure measures the cluster's recovery, not a client timeout.
      try {
        await system.put(`bench/failover/${round}`, VALUE, 100);
        break;
      } catch {
        await Bun.sleep(5);
      }
    }
    samples.push(performance.now() - killedAt);
    // One fault at a time: the killed member comes back and catches up before the next kill.
    await system.restart(leader);
    await Bun.sleep(1000);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), samples };
}

async function startEtcdCluster(): Promise<System> {
  const etcd = requireExecutable("etcd", "etcd-server");
  const dir = mkdtempSync(join(tmpdir(), "nagent-bench-etcd-"));
  const ports = await freePorts(6);
  const members = [0, 1, 2].map((i) => ({
    name: `e${i}`,
    client: `http://127.0.0.1:${ports[i * 2]}`,
    peer: `http://127.0.0.1:${ports[i * 2 + 1]}`,
    dir: join(dir, `e${i}`),
    process: undefined as ServiceProcess | undefined,
  }));
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(",");
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD_")));
  const start = async (i: number, state: "new" | "existing") => {
    const m = members[i]!;
    m.process = spawnService({
      name: m.name,
      env,
      command: [
        etcd,
        ...["--name", m.name, "--data-dir", m.dir, "--listen-client-urls", m.client, "--advertise-client-urls", m.client],
        ...["--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer, "--initial-cluster", initial],
        ...["--initial-cluster-state", state, "--initial-cluster-token", "bench", "--logger", "zap", "--log-level", "error"],
      ],
    });
  };
  await Promise.all(members.map((_, i) => start(i, "new")));
  await Promise.all(
    members.map((m) => waitUntilReady(m.process!, async () => (await fetch(`${m.client}/health`)).ok, { timeoutMs: 30_000 })),
  );
  const clients = members.map((m) => new Etcd3({ hosts: m.client, dialTimeout: 2000 }));
  const all = new Etcd3({ hosts: members.map((m) => m.client), dialTimeout: 2000 });
  return {
    name: "etcd 3-member",
    async put(key, value, timeoutMs = 2000) {
      await all.put(key).value(value).options({ deadline: Date.now() + timeoutMs });
    },
    async leaderIndex() {
      for (;;) {
        for (const [i, client] of clients.entries()) {
          if (!members[i]!.process) continue;
          try {
            const status = await client.maintenance.status({ deadline: Date.now() + 1000 });
            if (status.leader === status.header.member_id) return i;
          } catch {}
        }
        await Bun.sleep(50);
      }
    },
    async kill(i) {
      const m = members[i]!;
      process.kill(m.process!.pid, "SIGKILL");
      await m.process!.exited;
      await m.process!.stop();
      m.process = undefined;
    },
    async restart(i) {
      await start(i, "existing");
      const m = members[i]!;
      await waitUntilReady(m.process!, async () => (await fetch(`${m.client}/health`)).ok, { timeoutMs: 30_000 });
    },
    async stop() {
      for (const client of [...clients, all]) client.close();
      await Promise.all(members.map((m) => m.process?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startNagentCluster(): Promise<System> {
  const cluster: Cluster = await startCluster({ size: 3, logLevel: "error" });
  await cluster.waitForLeader();
  let next = 0;
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  const body = JSON.stringify(VALUE);
  return {
    name: "nagent 3-member (raft)",
    async put(key, _value, timeoutMs = 2000) {
      // Spread clients over every member, as etcd3 spreads over its hosts; followers forward.
      const alive = cluster.members.filter((m) => m.process);
      const member = alive[next++ % alive.length]!;
      const response = await fetch(`${member.url}/v1/config/${key}`, { method: "PUT", headers, body, signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`status ${response.status}`);
    },
    async leaderIndex() {
      const leader = await cluster.waitForLeader();
      return cluster.members.findIndex((m) => m.id === leader);
    },
    async kill(i) {
      await cluster.kill(cluster.members[i]!);
    },
    async restart(i) {
      const member = cluster.members[i]!;
      await cluster.start(member);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(await fetch(`${member.url}/readyz`).then((r) => r.ok, () => false))) await Bun.sleep(50);
    },
    stop: () => cluster.stop(),
  };
}

const fmt = (n: number) => (Number.isNaN(n) ? "-" : n >= 100 ? n.toFixed(0) : n.toFixed(2));
const results = new Map<string, Map<number, Result>>();
const failoverResults = new Map<string, { p50: number; p99: number }>();

for (const start of [startEtcdCluster, startNagentCluster]) {
  if (values.only && !start.name.toLowerCase().includes(values.only)) continue;
  const system = await start();
  try {
    await measure(system, 4); // warm up connections and the JIT
    const byLevel = new Map<number, Result>();
    for (const level of levels) {
      const result = await measure(system, level);
      byLevel.set(level, result);
      console.log(`${system.name}  c=${level}  ${fmt(result.writesPerSecond)} writes/s  p50 ${fmt(result.p50)} ms  p99 ${fmt(result.p99)} ms  errors ${result.errors}`);
    }
    results.set(system.name, byLevel);
    if (failovers > 0) {
      const f = await failover(system);
      failoverResults.set(system.name, f);
      console.log(`${system.name}  failover x${failovers}: p50 ${fmt(f.p50)} ms  p99 ${fmt(f.p99)} ms`);
    }
  } finally {
    await system.stop();
  }
}

const [etcdName, nagentName] = ["etcd 3-member", "nagent 3-member (raft)"];
const etcdResults = results.get(etcdName);
const nagentResults = results.get(nagentName);
if (etcdResults && nagentResults) {
  console.log("\nconcurrency | etcd writes/s | nagent writes/s | ratio | etcd p50 | nagent p50 | etcd p99 | nagent p99");
  for (const level of levels) {
    const e = etcdResults.get(level)!;
    const n = nagentResults.get(level)!;
    console.log(
      `${level} | ${fmt(e.writesPerSecond)} | ${fmt(n.writesPerSecond)} | ${(n.writesPerSecond / e.writesPerSecond).toFixed(2)}x | ${fmt(e.p50)} | ${fmt(n.p50)} | ${fmt(e.p99)} | ${fmt(n.p99)}`,
    );
  }
  const fe = failoverResults.get(etcdName);
  const fn = failoverResults.get(nagentName);
  if (fe && fn) console.log(`failover p50/p99 ms: etcd ${fmt(fe.p50)}/${fmt(fe.p99)}  nagent ${fmt(fn.p50)}/${fmt(fn.p99)}`);
}
process.exit(0);
