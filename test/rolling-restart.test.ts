// A rolling restart under traffic, with real processes: 3 control-plane members (Raft store) and
// 3 business nodes (a sidecar and an agent app each, every domain served by two nodes). While
// calls run across nodes through each caller's own sidecar, and config writes and reads run
// against the control plane, every member is restarted one at a time (SIGTERM, exit, start on the
// same data dir, ready and caught up), then every sidecar (SIGTERM, exit, start, ready). Not one
// request may fail: every call is answered 2xx by the real app (no fallback), every config write
// is acknowledged, and every acknowledged write is readable at the end.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ControlPlaneClient, SidecarClient, fallbackOf, type ClusterStatus } from "../pkg/index.ts";
import { until } from "../internal/testing/index.ts";
import { ADMIN_TOKEN, startCluster, type Cluster, type ClusterMember } from "./support/cluster.ts";
import { startMeshOn, type MeshOnControlPlane, type MeshNode } from "./support/mesh.ts";

/** Which node serves what: every domain on two nodes, so one node away never leaves a domain without an instance. */
const NODES = [
  { id: "node-a", domains: ["communication", "execution"] },
  { id: "node-b", domains: ["execution", "coordination"] },
  { id: "node-c", domains: ["coordination", "communication"] },
] as const;
const DOMAINS = ["communication", "execution", "coordination"] as const;
const SERVERS = new Map<string, string[]>(DOMAINS.map((domain) => [domain, NODES.filter((n) => (n.domains as readonly string[]).includes(domain)).map((n) => n.id)]));
/** Workers per node calling through that node's sidecar; each pauses between calls, which keeps the total at a few hundred per second. */
const WORKERS_PER_NODE = 2;
const PAUSE_MS = 10;
const STOP_GRACE_MS = 15_000;

interface Failure {
  readonly phase: string;
  readonly what: string;
  readonly status?: number;
  readonly detail: string;
}

class Tally {
  #phase = "warm-up";
  readonly began = new Map<string, number>([["warm-up", performance.now()]]);
  readonly calls = new Map<string, number>();
  readonly writes = new Map<string, number>();
  readonly reads = new Map<string, number>();
  readonly failures: Failure[] = [];

  get phase(): string {
    return this.#phase;
  }

  set phase(name: string) {
    this.#phase = name;
    this.began.set(name, performance.now());
  }

  /** Seconds from the phase's start to the next one's (or to now). */
  seconds(name: string): string {
    const starts = [...this.began.values()];
    const at = [...this.began.keys()].indexOf(name);
    const end = starts[at + 1] ?? performance.now();
    return ((end - (starts[at] ?? end)) / 1000).toFixed(1);
  }

  count(kind: "calls" | "writes" | "reads"): void {
    const map = this[kind];
    map.set(this.phase, (map.get(this.phase) ?? 0) + 1);
  }

  fail(what: string, detail: string, status?: number): void {
    this.failures.push({ phase: this.phase, what, detail: detail.slice(0, 400), ...(status !== undefined ? { status } : {}) });
  }

  total(kind: "calls" | "writes" | "reads"): number {
    let sum = 0;
    for (const n of this[kind].values()) sum += n;
    return sum;
  }

  summary(extra: Record<string, unknown>): string {
    const phases = [...new Set([...this.calls.keys(), ...this.writes.keys()])];
    const lines = [
      `rolling restart: ${this.total("calls")} calls, ${this.total("writes")} config writes acknowledged, ${this.total("reads")} config reads, ${this.failures.length} failures`,
      ...phases.map(
        (p) =>
          `  ${p.padEnd(24)} ${this.seconds(p).padStart(5)} s  calls ${String(this.calls.get(p) ?? 0).padStart(6)}  writes ${String(this.writes.get(p) ?? 0).padStart(4)}  reads ${String(this.reads.get(p) ?? 0).padStart(4)}`,
      ),
      ...Object.entries(extra).map(([k, v]) => `  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`),
      ...this.failures.slice(0, 30).map((f) => `  FAILED [${f.phase}] ${f.what}${f.status !== undefined ? ` -> ${f.status}` : ""}: ${f.detail}`),
    ];
    if (this.failures.length > 30) lines.push(`  ... and ${this.failures.length - 30} more failures`);
    return lines.join("\n");
  }
}

let cluster: Cluster | undefined;
let mesh: MeshOnControlPlane | undefined;

beforeAll(async () => {
  cluster = await startCluster({ size: 3, logLevel: "warn", extraArgs: ["--shutdown-timeout", "3s"] });
  await cluster.waitForLeader();
  for (const member of cluster.members) await waitReady(member);
  mesh = await startMeshOn({
    nodes: NODES,
    endpoints: cluster.members.map((m) => m.url),
    adminToken: ADMIN_TOKEN,
    sidecarArgs: ["--drain-delay", "1s"],
  });
}, 60_000);

afterAll(async () => {
  await mesh?.stop();
  await cluster?.stop();
}, 60_000);

/** `until`, with a check that throws (a process not listening yet) counted as not yet. */
function untilQuiet(check: () => Promise<boolean>, options: { what: string; timeoutMs: number }): Promise<boolean> {
  return until(() => check().catch(() => false), options);
}

async function waitReady(member: ClusterMember): Promise<void> {
  await untilQuiet(async () => (await fetch(`${member.url}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200, {
    what: `${member.id} ready`,
    timeoutMs: 20_000,
  });
}

async function statusOf(member: ClusterMember): Promise<ClusterStatus> {
  const client = new ControlPlaneClient({ endpoints: [member.url], token: ADMIN_TOKEN, timeoutMs: 2000 });
  return client.clusterStatus();
}

/** Ready, and applied at least as far as the leader had committed once it was back. */
async function waitCaughtUp(member: ClusterMember): Promise<void> {
  await waitReady(member);
  const leaderId = await cluster!.waitForLeader();
  const leader = cluster!.members.find((m) => m.id === leaderId)!;
  const target = (await statusOf(leader)).members.find((m) => m.id === leaderId)?.commitIndex ?? 0;
  await untilQuiet(async () => ((await statusOf(member)).members.find((m) => m.id === member.id)?.appliedIndex ?? 0) >= target, {
    what: `${member.id} applied up to ${target}`,
    timeoutMs: 20_000,
  });
}

/** Until every running sidecar holds every node as healthy again. */
async function waitMeshWhole(): Promise<void> {
  await untilQuiet(
    async () => {
      const statuses = await Promise.all([...mesh!.nodes.values()].map((n) => n.status()));
      return statuses.every((s: { held: { healthyNodes: number } }) => s.held.healthyNodes === NODES.length);
    },
    { what: "every sidecar holding every node", timeoutMs: 20_000 },
  );
}

function callWorker(tally: Tally, node: MeshNode, token: string, index: number, running: () => boolean): Promise<void> {
  // The SDK retries a refused connection (nothing was sent) while this node's own sidecar restarts.
  const client = new SidecarClient({ url: node.outbound, token, connectRetryMs: 10_000 });
  return (async () => {
    for (let seq = 0; running(); seq++) {
      const domain = DOMAINS[(seq + index) % DOMAINS.length]!;
      const post = seq % 2 === 1;
      const body = post ? JSON.stringify({ from: node.id, seq, pad: "x".repeat(200 + (seq % 300)) }) : undefined;
      const path = post ? `/v1/tasks?worker=${index}&seq=${seq}` : `/v1/status?worker=${index}&seq=${seq}`;
      const what = `${post ? "POST" : "GET"} ${node.id} -> ${domain}${path}`;
      try {
        const response = await client.invoke(domain, path, { ...(post ? { method: "POST", body, headers: { "content-type": "application/json" } } : {}), timeoutMs: 15_000 });
        const text = await response.text();
        const fallback = fallbackOf(response);
        if (response.status < 200 || response.status >= 300 || fallback !== undefined) {
          tally.fail(what, `${fallback ? `fallback ${fallback}: ` : ""}${text}`, response.status);
        } else {
          const answer = JSON.parse(text) as { app: string; method: string; bytes: number };
          const servers = SERVERS.get(domain)!;
          if (!servers.includes(answer.app) || answer.method !== (post ? "POST" : "GET") || answer.bytes !== (body?.length ?? 0)) {
            tally.fail(what, `wrong answer: ${text}`, response.status);
          }
        }
      } catch (error) {
        tally.fail(what, `${(error as Error).name}: ${(error as Error).message}`);
      }
      tally.count("calls");
      await Bun.sleep(PAUSE_MS);
    }
  })();
}

function configWorker(tally: Tally, acknowledged: Map<string, number>, running: () => boolean): Promise<void> {
  const client = new ControlPlaneClient({ endpoints: cluster!.members.map((m) => m.url), token: ADMIN_TOKEN, timeoutMs: 3000 });
  return (async () => {
    for (let seq = 0; running(); seq++) {
      const key = `rolling/w-${seq}`;
      try {
        await client.putConfig(key, { seq });
        acknowledged.set(key, seq);
        tally.count("writes");
      } catch (error) {
        tally.fail(`PUT /v1/config/${key}`, `${(error as Error).name}: ${(error as Error).message}`);
      }
      if (seq % 4 === 3) {
        const last = `rolling/w-${seq}`;
        try {
          const read = await client.getConfig(last);
          if (acknowledged.has(last) && (read.value as { seq: number }).seq !== seq) tally.fail(`GET /v1/config/${last}`, `read ${JSON.stringify(read.value)}`);
        } catch (error) {
          if (acknowledged.has(last)) tally.fail(`GET /v1/config/${last}`, `${(error as Error).name}: ${(error as Error).message}`);
        }
        tally.count("reads");
      }
      await Bun.sleep(25);
    }
  })();
}

test(
  "every control-plane member, then every sidecar, restarted one at a time under traffic: zero failed requests",
  async () => {
    const tally = new Tally();
    const acknowledged = new Map<string, number>();
    const token = await mesh!.token("rolling-caller", ["agent"], { ttlSeconds: 3600 });
    let running = true;
    const workers: Promise<void>[] = [configWorker(tally, acknowledged, () => running)];
    let index = 0;
    for (const node of mesh!.nodes.values()) {
      for (let w = 0; w < WORKERS_PER_NODE; w++) workers.push(callWorker(tally, node, token, index++, () => running));
    }
    const leadership: string[] = [];
    const started = performance.now();
    try {
      await Bun.sleep(1500);

      for (const member of cluster!.members) {
        tally.phase = `restart ${member.id}`;
        const others = cluster!.members.filter((m) => m !== member);
        const before = await statusOf(others[0]!);
        const exit = await cluster!.terminate(member, STOP_GRACE_MS);
        expect(exit).toBe("exit code 0");
        const leader = await cluster!.waitForLeader();
        const during = await statusOf(others.find((m) => m.id === leader)!);
        await cluster!.start(member);
        await waitCaughtUp(member);
        const after = await statusOf(member);
        leadership.push(`${member.id}: leader ${before.leader}@${before.term} -> ${during.leader}@${during.term} (while down) -> ${after.leader}@${after.term}`);
        // A leader hands over before it stops: one new term, no election timeout; a follower's
        // stop and return change nothing (pre-vote keeps the returning member from disrupting).
        expect(leader).not.toBe(member.id);
        expect(during.term).toBe(before.leader === member.id ? before.term + 1 : before.term);
        expect(after.term).toBe(during.term);
        await Bun.sleep(500);
      }

      for (const node of mesh!.nodes.values()) {
        tally.phase = `restart sidecar ${node.id}`;
        const exit = await node.stopSidecar(STOP_GRACE_MS);
        expect(exit).toBe("exit code 0");
        await node.startSidecar();
        await waitMeshWhole();
        await Bun.sleep(500);
      }

      tally.phase = "cool-down";
      await Bun.sleep(1000);
    } catch (error) {
      // A restart step failed: show what the traffic saw up to then, too.
      running = false;
      await Promise.all(workers);
      console.log(tally.summary({ leadership, "stopped by": String(error) }));
      throw error;
    } finally {
      running = false;
      await Promise.all(workers);
    }

    // Every acknowledged write is there, with its value, read linearizably.
    tally.phase = "final check";
    const listed = await mesh!.admin.listConfig("rolling/");
    const stored = new Map(listed.items.map((item) => [item.key, (item.value as { seq: number }).seq]));
    for (const [key, seq] of acknowledged) if (stored.get(key) !== seq) tally.fail(`acknowledged ${key}`, `not readable at the end (found ${JSON.stringify(stored.get(key))})`);

    const summary = tally.summary({ seconds: ((performance.now() - started) / 1000).toFixed(1), leadership });
    console.log(summary);
    expect(tally.total("calls")).toBeGreaterThan(1000);
    expect(tally.total("writes")).toBeGreaterThan(100);
    expect(tally.failures).toEqual([]);
  },
  150_000,
);
