// Real control-plane processes on loopback for multi-process tests: start, SIGKILL and restart,
// SIGSTOP and SIGCONT, each member under the harness's guardian so nothing outlives the test.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, spawnService, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";

const root = join(import.meta.dir, "..", "..");
export const ADMIN_TOKEN = "cluster-test-admin-token-0123456789";

export interface ClusterMember {
  readonly id: string;
  readonly url: string;
  readonly dataDir: string;
  process: ServiceProcess | undefined;
  paused: boolean;
}

export interface Cluster {
  readonly members: readonly ClusterMember[];
  /** The --peers every member was started with. */
  readonly peers: string;
  start(member: ClusterMember): Promise<void>;
  /** SIGKILL: no shutdown, no flush. */
  kill(member: ClusterMember): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`: answers how the member ended ("exit code 0" for a clean stop). */
  terminate(member: ClusterMember, graceMs?: number): Promise<string | null>;
  pause(member: ClusterMember): void;
  resume(member: ClusterMember): void;
  /** Resolves with the leader's id once a majority agrees on one. */
  waitForLeader(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly size: number;
  readonly extraArgs?: readonly string[];
  readonly logLevel?: string;
  /** Runs before the members first start, e.g. to restore a backup into each member's data dir. */
  readonly beforeStart?: (members: readonly ClusterMember[], peers: string) => void | Promise<void>;
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${ADMIN_TOKEN}`, ...extra };
}

/** Starts `size` control-plane members as one cluster with the integrated Raft store. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "nagent-cluster-"));
  const ports = await freePorts(options.size);
  const members: ClusterMember[] = ports.map((port, i) => ({
    id: `cp-${i + 1}`,
    url: `http://127.0.0.1:${port}`,
    dataDir: join(dir, `cp-${i + 1}`),
    process: undefined,
    paused: false,
  }));
  const peers = members.map((m) => `${m.id}=${m.url}`).join(",");

  async function start(member: ClusterMember): Promise<void> {
    const listen = member.url.replace("http://", "");
    member.process = spawnService({
      name: member.id,
      command: [
        process.execPath,
        join(root, "cmd", "control-plane", "main.ts"),
        ...["--node-id", member.id, "--listen", listen, "--peers", peers, "--data-dir", member.dataDir],
        ...["--log-level", options.logLevel ?? "info"],
        ...(options.extraArgs ?? []),
      ],
      env: { ...process.env, NAGENT_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    member.paused = false;
    await waitUntilReady(member.process, async () => (await fetch(`${member.url}/healthz`, { signal: AbortSignal.timeout(500) })).ok);
  }

  async function kill(member: ClusterMember): Promise<void> {
    if (!member.process) return;
    process.kill(member.process.pid, "SIGKILL");
    await member.process.exited;
    await member.process.stop();
    member.process = undefined;
    member.paused = false;
  }

  async function terminate(member: ClusterMember, graceMs?: number): Promise<string | null> {
    const running = member.process;
    if (!running) return null;
    resume(member);
    await running.stop(graceMs);
    member.process = undefined;
    return running.exitStatus();
  }

  function pause(member: ClusterMember): void {
    if (member.process && !member.paused) {
      process.kill(member.process.pid, "SIGSTOP");
      member.paused = true;
    }
  }

  function resume(member: ClusterMember): void {
    if (member.process && member.paused) {
      process.kill(member.process.pid, "SIGCONT");
      member.paused = false;
    }
  }

  /** A leader that is running, says it leads, and that a majority of the cluster follows. */
  async function waitForLeader(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const live = members.filter((m) => m.process && !m.paused);
      const views = await Promise.all(
        live.map(async (m) => {
          try {
            const response = await fetch(`${m.url}/v1/cluster`, { headers: authHeaders(), signal: AbortSignal.timeout(1000) });
            return { id: m.id, leader: response.ok ? ((await response.json()) as { leader: string | null }).leader : null };
          } catch {
            return { id: m.id, leader: null };
          }
        }),
      );
      const counts = new Map<string, number>();
      for (const view of views) if (view.leader) counts.set(view.leader, (counts.get(view.leader) ?? 0) + 1);
      for (const [leader, count] of counts) {
        const selfView = views.find((view) => view.id === leader);
        if (count > options.size / 2 && selfView?.leader === leader) return leader;
      }
      await Bun.sleep(100);
    }
    throw new Error(`no leader agreed on by a majority within ${timeoutMs} ms`);
  }

  await options.beforeStart?.(members, peers);
  await Promise.all(members.map(start));
  return {
    members,
    peers,
    start,
    kill,
    terminate,
    pause,
    resume,
    waitForLeader,
    async stop() {
      for (const member of members) resume(member);
      await Promise.all(members.map((m) => m.process?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
