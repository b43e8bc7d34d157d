// The client processes of scripts/bench/watch.ts (each runs watch-clients.ts), seen from the
// parent: start them, ask them things over IPC, stop them.
import { join } from "node:path";
import {
  clock,
  type ChildMessage,
  type ClientRecord,
  type ParentMessage,
  type Progress,
  type Report,
  type WatchAssignment,
} from "./watch-protocol.ts";

const CLIENT_SCRIPT = join(import.meta.dir, "watch-clients.ts");
/** Bun's fetch keeps at most 256 requests in flight per process unless this is raised (max 65535). */
const MAX_HTTP_REQUESTS = "65535";
const STOP_GRACE_MS = 2_000;

type Request = ParentMessage extends infer M ? (M extends { id: number } ? Omit<M, "id"> : never) : never;

class ClientProcess {
  private readonly child: Bun.Subprocess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(m: ChildMessage): void; reject(e: Error): void }>();

  constructor(readonly index: number) {
    this.child = Bun.spawn([process.execPath, CLIENT_SCRIPT], {
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_HTTP_REQUESTS },
      stdio: ["ignore", "inherit", "inherit"],
      ipc: (message: ChildMessage) => {
        this.waiting.get(message.id)?.resolve(message);
        this.waiting.delete(message.id);
      },
    });
    void this.child.exited.then((code) => {
      for (const { reject } of this.waiting.values()) reject(new Error(`client process ${index} exited (${code}) before answering`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  ask<T extends ChildMessage["type"]>(request: Request & { type: T }): Promise<Extract<ChildMessage, { type: T }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (m: ChildMessage) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
    await this.child.exited;
    clearTimeout(timer);
  }
}

/** N watchers split evenly over `processes` client processes. */
export class ClientFleet {
  private readonly processes: ClientProcess[];

  constructor(processes: number) {
    this.processes = Array.from({ length: processes }, (_, i) => new ClientProcess(i));
  }

  get pids(): number[] {
    return this.processes.map((p) => p.pid);
  }

  /** Sizes of each process's share of `clients`. */
  static shares(clients: number, processes: number): number[] {
    return Array.from({ length: processes }, (_, i) => Math.floor(clients / processes) + (i < clients % processes ? 1 : 0));
  }

  /** Asks every process to open its share; resolves when each has tried every one of its watchers. */
  async open(assignment: Omit<WatchAssignment, "first" | "count">, clients: number): Promise<void> {
    const shares = ClientFleet.shares(clients, this.processes.length);
    let first = 0;
    await Promise.all(
      this.processes.map((p, i) => {
        const share = { ...assignment, first, count: shares[i]! };
        first += shares[i]!;
        return p.ask({ type: "start", assignment: share });
      }),
    );
  }

  async progress(): Promise<Progress> {
    const answers = await Promise.all(this.processes.map((p) => p.ask({ type: "progress" })));
    return answers.reduce((sum, a) => ({ ready: sum.ready + a.ready, delivered: sum.delivered + a.delivered, problems: sum.problems + a.problems }), {
      ready: 0,
      delivered: 0,
      problems: 0,
    });
  }

  /** The worst event-loop lag of any client process since the previous call, ms. */
  async eventLoopLagMaxMs(): Promise<number> {
    const answers = await Promise.all(this.processes.map((p) => p.ask({ type: "lag" })));
    return Math.max(...answers.map((a) => a.maxMs));
  }

  async report(): Promise<Report> {
    const answers = await Promise.all(this.processes.map((p) => p.ask({ type: "report" })));
    return {
      clients: answers.flatMap((a): ClientRecord[] => [...a.clients]),
      problems: answers.flatMap((a) => [...a.problems]),
      etcdClients: answers.reduce((sum, a) => sum + a.etcdClients, 0),
    };
  }

  /**
   * How far apart the parent's and the children's clocks can be: each child timestamps a message
   * the parent timestamped on sending and on getting the answer; a shared clock puts the child's
   * time between the two. Answers the largest amount by which any child fell outside.
   */
  async clockDisagreementMs(rounds = 5): Promise<{ disagreementMs: number; roundTripMs: number }> {
    let disagreementMs = 0;
    let roundTripMs = 0;
    for (const p of this.processes) {
      await p.ask({ type: "clock", sentAt: clock() }); // the first answer waits for the child to load
      for (let round = 0; round < rounds; round++) {
        const sentAt = clock();
        const { receivedAt } = await p.ask({ type: "clock", sentAt });
        const answeredAt = clock();
        disagreementMs = Math.max(disagreementMs, sentAt - receivedAt, receivedAt - answeredAt);
        roundTripMs = Math.max(roundTripMs, answeredAt - sentAt);
      }
    }
    return { disagreementMs, roundTripMs };
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}
