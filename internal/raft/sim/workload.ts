// The clients of a simulation: processes bound to a member (Jepsen style) that read with
// ReadIndex and write puts, compare-and-sets and deletes with unique values, recording a history
// for the linearizability checker. A process that gets no answer in time leaves an open-ended
// (unknown) operation and is replaced by a new process.

import { RaftError } from "../errors.ts";
import type { NodeId } from "../types.ts";
import { type SimCluster, TICK } from "./cluster.ts";
import { type HistoryOperation, HistoryRecorder, type KvInput, type KvOutput } from "./history.ts";

const KEYS = ["x", "y", "z"];
/** Ticks a client waits for an answer before it gives up (the outcome is then unknown). */
const CLIENT_TIMEOUT_TICKS = 30;

interface Client {
  /** The member this client talks to; it moves now and then. */
  target: NodeId;
  pid: number;
  seq: number;
  op: HistoryOperation | null;
  deadline: number;
}

export class Workload {
  readonly history = new HistoryRecorder();
  /** Answered writes with the index of their entry. */
  readonly acked: { index: number; op: HistoryOperation }[] = [];
  reads = 0;
  private readonly clients: Client[] = [];
  private nextPid = 1;
  private readonly opClient = new Map<HistoryOperation, Client>();

  constructor(
    private readonly c: SimCluster,
    members: number,
  ) {
    const count = c.rng.range(3, 6);
    for (let i = 0; i < count; i++) {
      this.clients.push({ target: `n${1 + (i % members)}`, pid: this.nextPid++, seq: 0, op: null, deadline: 0 });
    }
  }

  private anyMember(): NodeId {
    return this.c.rng.pick([...this.c.nodes.keys()]);
  }

  /** Times out unanswered operations; with `issueRate` > 0 idle clients start new ones. */
  step(issueRate: number): void {
    const now = this.c.now();
    for (const cl of this.clients) {
      if (cl.op !== null && now >= cl.deadline) {
        this.history.unknown(cl.op);
        this.opClient.delete(cl.op);
        cl.op = null;
        cl.pid = this.nextPid++; // a process that saw no answer is replaced (Jepsen convention)
        if (this.c.rng.chance(0.3)) cl.target = this.anyMember();
      }
      if (cl.op === null && issueRate > 0 && this.c.rng.chance(issueRate)) this.issue(cl);
    }
  }

  private issue(cl: Client): void {
    const r = this.c.rng;
    if (r.chance(0.05)) cl.target = this.anyMember();
    const target = this.c.nodes.get(cl.target);
    if (target === undefined || !target.alive) {
      cl.target = this.anyMember(); // connection refused: nothing happened; try elsewhere later
      return;
    }
    const key = r.pick(KEYS);
    const seq = ++cl.seq;
    const value = `c${cl.pid}-${seq}`;
    const roll = r.next();
    let input: KvInput;
    if (roll < 0.35) input = { kind: "get", key };
    else if (roll < 0.7) input = { kind: "put", key, value };
    else if (roll < 0.9) input = { kind: "cas", key, expected: r.chance(0.8) ? this.latestValue(key) : null, value };
    else input = { kind: "delete", key };
    const op = this.history.invoke(cl.pid, input);
    try {
      if (input.kind === "get") {
        this.reads++;
        target.submitRead(op, `${cl.pid}:${seq}`, key);
      } else {
        target.submitWrite(op, { clientId: cl.pid, seq, input });
      }
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      this.history.fail(op); // refused before it was handed on: it certainly did not happen
      if (r.chance(0.3)) cl.target = this.anyMember();
      return;
    }
    cl.op = op;
    cl.deadline = this.c.now() + CLIENT_TIMEOUT_TICKS * TICK;
    this.opClient.set(op, cl);
  }

  /** The newest value an answered write left for key (so that CAS succeeds sometimes). */
  private latestValue(key: string): string | null {
    for (let i = this.acked.length - 1; i >= 0; i--) {
      const input = this.acked[i]!.op.input;
      if (input.key !== key) continue;
      if (input.kind === "put" || input.kind === "cas") return input.value;
      if (input.kind === "delete") return null;
    }
    return null;
  }

  /** A member answered `op` (its entry is at `index`, or the read index for a get). */
  complete(op: HistoryOperation, output: KvOutput, index: number): void {
    const cl = this.opClient.get(op);
    if (cl === undefined || cl.op !== op || !this.history.isOpen(op)) return;
    this.history.complete(op, output);
    this.opClient.delete(op);
    cl.op = null;
    if (op.input.kind !== "get") this.acked.push({ index, op });
    this.c.trace(op.clientId, index, op.input.kind.length);
  }
}
