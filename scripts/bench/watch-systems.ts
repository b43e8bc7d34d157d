// The two systems scripts/bench/watch.ts compares, behind one interface: a 3-member Nagent
// control plane (integrated Raft store, HTTP API) and a 3-member etcd, both on loopback. etcd is
// started as scripts/bench/store.ts starts it (that function is not exported, hence this copy).
import { Etcd3 } from "etcd3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePorts, requireExecutable, spawnService, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";
import { ADMIN_TOKEN, authHeaders, startCluster } from "../../test/support/cluster.ts";
import type { MetricNames } from "./watch-metrics.ts";
import type { WatchedKind } from "./watch-protocol.ts";

/** Writes are made under this API key prefix; the watch reports them as `config/bench/...`. */
export const WRITE_PREFIX = "bench/";
export const WATCH_PREFIX = `config/${WRITE_PREFIX}`;

export interface Member {
  readonly name: string;
  /** The client URL: Nagent's HTTP API, etcd's gRPC endpoint. */
  readonly url: string;
  readonly pid: number;
}

export interface Leadership {
  readonly leader: number;
  readonly term: number;
}

export interface WatchedSystem {
  readonly kind: WatchedKind;
  readonly label: string;
  readonly members: readonly Member[];
  /** Nagent's admin token (the watch clients need it); empty for etcd. */
  readonly token: string;
  /** Where its members' /metrics keep the figures the report explains tails with. */
  readonly metricNames: MetricNames;
  /** The member that leads, and the Raft term: a term that moves during a run means an election. */
  leadership(): Promise<Leadership>;
  /** Writes `value` (JSON text) at `config/<key>` through the member at `memberIndex`; answers the revision. */
  put(memberIndex: number, key: string, value: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A signal ends this process through the harness's exit hook, which kills the members but cannot
 * run our `stop()`: remove the data directory on the way out too (a no-op once `stop()` ran).
 */
function removeOnExit(dir: string): void {
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
}

export async function startNagent(): Promise<WatchedSystem> {
  const cluster = await startCluster({ size: 3, logLevel: "error" });
  removeOnExit(dirname(cluster.members[0]!.dataDir));
  try {
    await cluster.waitForLeader();
    // Every member must have resolved the admin credential before clients connect to it.
    await Promise.all(cluster.members.map((m) => waitForApi(m.url)));
  } catch (error) {
    const output = cluster.members.map((m) => `--- last output of ${m.id} ---\n${m.process?.output().split("\n").slice(-5).join("\n") ?? "(not running)"}`);
    await cluster.stop();
    throw new Error(`the Nagent cluster did not come up: ${(error as Error).message}\n${output.join("\n")}`, { cause: error });
  }
  const headers = authHeaders({ "content-type": "application/json" });
  return {
    kind: "nagent",
    label: "nagent 3-member (raft)",
    members: cluster.members.map((m) => ({ name: m.id, url: m.url, pid: m.process!.pid })),
    token: ADMIN_TOKEN,
    metricNames: {
      walSync: "nagent_raft_wal_sync_duration_seconds",
      leaderChanges: "nagent_raft_leader_changes_total",
      slowWatchers: "nagent_watch_slow_clients_cut_total",
      slowWatchersKind: "counter",
      eventLoopLagMax: "nodejs_eventloop_lag_max_seconds",
    },
    async leadership() {
      const id = await cluster.waitForLeader();
      const leader = cluster.members.findIndex((m) => m.id === id);
      const response = await fetch(`${cluster.members[leader]!.url}/v1/cluster`, { headers: authHeaders(), signal: AbortSignal.timeout(2000) });
      return { leader, term: ((await response.json()) as { term: number }).term };
    },
    async put(memberIndex, key, value) {
      const member = cluster.members[memberIndex]!;
      const response = await fetch(`${member.url}/v1/config/${key}`, { method: "PUT", headers, body: value, signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`PUT ${key} answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { revision: number }).revision;
    },
    stop: () => cluster.stop(),
  };
}

async function waitForApi(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/v1/cluster`, { headers: authHeaders(), signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await Bun.sleep(100);
  }
  throw new Error(`${url} did not accept the admin token within ${timeoutMs} ms`);
}

/** Throws MissingExecutableError (with the apt-get line) if etcd is not installed. */
export async function startEtcd(): Promise<WatchedSystem> {
  const etcd = requireExecutable("etcd", "etcd-server");
  const dir = mkdtempSync(join(tmpdir(), "nagent-bench-watch-etcd-"));
  removeOnExit(dir);
  const ports = await freePorts(6);
  const specs = [0, 1, 2].map((i) => ({ name: `e${i}`, client: `http://127.0.0.1:${ports[i * 2]}`, peer: `http://127.0.0.1:${ports[i * 2 + 1]}` }));
  const initial = specs.map((m) => `${m.name}=${m.peer}`).join(",");
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD_")));
  const processes: ServiceProcess[] = specs.map((m) =>
    spawnService({
      name: m.name,
      env,
      command: [
        etcd,
        ...["--name", m.name, "--data-dir", join(dir, m.name), "--listen-client-urls", m.client, "--advertise-client-urls", m.client],
        ...["--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer, "--initial-cluster", initial],
        ...["--initial-cluster-state", "new", "--initial-cluster-token", "bench-watch", "--logger", "zap", "--log-level", "error"],
      ],
    }),
  );
  const clients = specs.map((m) => new Etcd3({ hosts: m.client, dialTimeout: 2000 }));
  const stop = async () => {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      specs.map((m, i) => waitUntilReady(processes[i]!, async () => (await fetch(`${m.client}/health`)).ok, { timeoutMs: 30_000 })),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    kind: "etcd",
    label: "etcd 3-member",
    members: specs.map((m, i) => ({ name: m.name, url: m.client, pid: processes[i]!.pid })),
    token: "",
    metricNames: {
      walSync: "etcd_disk_wal_fsync_duration_seconds",
      leaderChanges: "etcd_server_leader_changes_seen_total",
      slowWatchers: "etcd_debugging_mvcc_slow_watcher_total",
      slowWatchersKind: "gauge",
    },
    async leadership() {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        for (const [i, client] of clients.entries()) {
          try {
            const status = await client.maintenance.status({ deadline: Date.now() + 1000 });
            if (status.leader === status.header.member_id) return { leader: i, term: Number(status.raftTerm) };
          } catch {}
        }
        await Bun.sleep(50);
      }
      throw new Error("etcd elected no leader within 30 s");
    },
    async put(memberIndex, key, value) {
      const response = await clients[memberIndex]!.put(`config/${key}`).value(value).options({ deadline: Date.now() + 5000 }).exec();
      return Number(response.header.revision);
    },
    stop,
  };
}
