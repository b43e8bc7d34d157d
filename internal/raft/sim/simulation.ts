// One seeded simulation run: a 3- or 5-member cluster of real cores under a chaos phase (lossy,
// duplicating, reordering network; partitions; crashes with torn writes; membership changes;
// leadership transfers; forged messages; clients writing and reading), then a healing phase that
// must elect a leader and bring every member up to date. Invariants are checked after every step.

import { MessageDecodeError } from "../errors.ts";
import type { ConfChange } from "../conf-change.ts";
import type { NodeId } from "../types.ts";
import { ELECTION_TICK, HEARTBEAT_TICK, type SimCluster, TICK } from "./cluster.ts";
import type { HistoryOperation, KvOutput } from "./history.ts";
import { Invariants, InvariantViolation } from "./invariants.ts";
import { Nemesis } from "./nemesis.ts";
import { SimNetwork } from "./network.ts";
import { type NodeEnv, SimNode } from "./node.ts";
import { Rng } from "./random.ts";
import { Workload } from "./workload.ts";

export interface SimOptions {
  readonly seed: number;
  readonly members: 3 | 5;
  /** Ticks of chaos (default 200). */
  readonly chaosTicks?: number;
  /** Ticks the healing phase may take at most (default 400). */
  readonly healTicks?: number;
  readonly log?: (line: string) => void;
}

export interface SimStats {
  readonly steps: number;
  readonly messages: number;
  readonly crashes: number;
  readonly tornWrites: number;
  readonly elections: number;
  readonly confChanges: number;
  readonly snapshotsSent: number;
  readonly acknowledgedWrites: number;
  readonly reads: number;
  readonly unknown: number;
  readonly finalCommit: number;
  readonly healTicks: number;
}

export interface SimResult {
  readonly seed: number;
  readonly members: number;
  readonly ok: boolean;
  readonly error?: string;
  /** A hash of the run's events: equal seeds must give equal hashes. */
  readonly traceHash: string;
  readonly history: HistoryOperation[];
  readonly stats: SimStats;
}

/** The healing phase must have a leader within this many ticks (with pre-vote). */
const HEAL_LEADER_TICKS = 8 * ELECTION_TICK;

/** Runs one seed. Never throws: a violated invariant or a failed liveness bound is in `error`. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation implements NodeEnv, SimCluster {
  readonly rng: Rng;
  readonly net: SimNetwork;
  readonly inv = new Invariants();
  readonly electionTick = ELECTION_TICK;
  readonly heartbeatTick = HEARTBEAT_TICK;
  readonly snapshotEvery: number;
  readonly keepEntries: number;
  readonly maxFsyncDelay: number;
  readonly raftOptions: NodeEnv["raftOptions"];
  readonly nodes = new Map<NodeId, SimNode>();
  private readonly nemesis: Nemesis;
  private readonly workload: Workload;
  private time = 0;
  private hash = 0x811c9dc5;
  private readonly log: ((line: string) => void) | undefined;
  private counters = { confChanges: 0, snapshots: 0, messages: 0 };

  constructor(private readonly o: SimOptions) {
    this.rng = new Rng(o.seed * 2654435761 + o.members);
    this.net = new SimNetwork(this.rng.fork());
    this.log = o.log;
    const r = this.rng;
    this.snapshotEvery = r.range(8, 40);
    this.keepEntries = r.range(0, 10);
    // Some seeds have a slow disk: fsyncs spanning several ticks, during which a leader sends
    // heartbeats ahead of its Ready (RawNode.takeHeartbeats) and keeps replicating.
    this.maxFsyncDelay = r.chance(0.3) ? r.range(10, 60) : r.range(0, 8);
    const checkQuorum = r.chance(0.8);
    this.raftOptions = {
      // One entry per message makes a follower acknowledge old-term entries on their own, which
      // is what the Figure 8 rule is about.
      maxSizePerMsg: r.pick([1, 256, 4096]),
      maxInflightMsgs: r.pick([1, 4, 64]),
      preVote: r.chance(0.8),
      checkQuorum,
      // Lease-based reads are only as good as the clocks: such seeds tick every member at
      // exactly the same rate, and a lease invariant is checked after every step.
      readOnly: checkQuorum && r.chance(0.25) ? "leaseBased" : "safe",
    };
    this.nemesis = new Nemesis(this, o.members);
    this.net.faults = {
      dropRate: r.pick([0, 0.01, 0.05, 0.1]),
      dupRate: r.pick([0, 0.01, 0.05]),
      minDelay: 1,
      maxDelay: r.range(2, 12),
      longDelayRate: r.pick([0, 0.01, 0.05]),
      longDelay: r.range(30, 150),
    };
    this.workload = new Workload(this, o.members);
  }

  now(): number {
    return this.time;
  }

  trace(...values: number[]): void {
    let h = this.hash;
    for (const v of values) {
      h ^= v | 0;
      h = Math.imul(h, 0x01000193);
      h ^= (v / 4294967296) | 0;
      h = Math.imul(h, 0x01000193);
    }
    this.hash = h >>> 0;
  }

  say(line: string): void {
    this.log?.(`[t=${this.time} tick=${Math.floor(this.time / TICK)}] ${line}`);
  }

  addNode(id: NodeId): SimNode {
    const drift = this.raftOptions.readOnly === "leaseBased" ? 0 : this.rng.range(-1, 1);
    const n = new SimNode(id, this, this.rng.fork(), TICK + drift);
    this.nodes.set(id, n);
    return n;
  }

  dropNode(id: NodeId): void {
    this.nodes.delete(id);
  }

  currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.alive || n.raw.raft.role !== "leader") continue;
      if (best === undefined || n.raw.raft.term > best.raw.raft.term) best = n;
    }
    return best;
  }

  complete(op: HistoryOperation, output: KvOutput, index: number): void {
    this.workload.complete(op, output, index);
  }

  confChangeApplied(node: SimNode, cc: ConfChange): void {
    this.counters.confChanges++;
    this.trace(0xcc, node.numericId, cc.nodeId.length, cc.type.length);
  }

  run(): SimResult {
    let error: string | undefined;
    let healTicks = 0;
    let steps = 0;
    try {
      const ids: NodeId[] = [];
      for (let i = 1; i <= this.o.members; i++) ids.push(`n${i}`);
      for (const id of ids) this.addNode(id).start(ids);
      const chaosEnd = (this.o.chaosTicks ?? 200) * TICK;
      while (this.time < chaosEnd) {
        this.step(true);
        steps++;
      }
      this.nemesis.heal();
      const healStart = this.time;
      const healEnd = healStart + (this.o.healTicks ?? 400) * TICK;
      for (;;) {
        this.step(false);
        steps++;
        if (this.converged()) break;
        // Without pre-vote a member that cannot win keeps disrupting the one that can, so
        // election time is only probabilistically bounded: allow it longer.
        const leaderBound = this.raftOptions.preVote ? HEAL_LEADER_TICKS : 3 * HEAL_LEADER_TICKS;
        if (this.currentLeader() === undefined && this.time - healStart > leaderBound * TICK) {
          throw new InvariantViolation(`no leader within ${leaderBound} ticks of healing: ${this.describe()}`);
        }
        if (this.time > healEnd) throw new InvariantViolation(`not converged after healing: ${this.describe()}`);
      }
      healTicks = Math.ceil((this.time - healStart) / TICK);
      this.finalChecks();
    } catch (e) {
      if (e instanceof InvariantViolation) error = e.message;
      else error = `unexpected ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`;
      this.say(`FAILED: ${error}`);
    }
    const history = this.workload.history.export();
    return {
      seed: this.o.seed,
      members: this.o.members,
      ok: error === undefined,
      ...(error === undefined ? {} : { error }),
      traceHash: this.hash.toString(16).padStart(8, "0"),
      history,
      stats: {
        steps,
        messages: this.counters.messages,
        crashes: this.nemesis.crashes,
        tornWrites: this.nemesis.tornWrites,
        elections: this.inv.leaderTerms(),
        confChanges: this.counters.confChanges,
        snapshotsSent: this.counters.snapshots,
        acknowledgedWrites: this.workload.acked.length,
        reads: this.workload.reads,
        unknown: history.filter((h) => h.return === Infinity).length,
        finalCommit: this.inv.maxApplied,
        healTicks,
      },
    };
  }

  /** One unit of simulated time: deliveries, ticks, fsync completions, clients, faults, checks. */
  private step(chaos: boolean): void {
    const now = this.time;
    for (let b = this.net.popDue(now); b !== undefined; b = this.net.popDue(now)) {
      const to = this.nodes.get(b.to);
      const from = this.nodes.get(b.from);
      if (to === undefined || !to.alive || this.net.isBlocked(b.from, b.to)) {
        // The transport notices: sometimes an unreachable report, always a snapshot's failure.
        if (from?.alive) {
          if (this.rng.chance(0.2)) from.raw.reportUnreachable(b.to);
          if (b.hasSnapshot) from.raw.reportSnapshot(b.to, "failure");
          from.pump();
        }
        continue;
      }
      let msgs;
      try {
        msgs = to.deliver(b.bytes);
      } catch (e) {
        if (e instanceof MessageDecodeError) {
          this.trace(0xdead);
          continue;
        }
        throw e;
      }
      this.counters.messages += msgs.length;
      for (const m of msgs) {
        this.trace(to.numericId, m.type.length, m.term, m.index, m.commit, m.entries.length);
        if (m.type === "snap") this.counters.snapshots++;
      }
      to.pump();
      if (b.hasSnapshot && from?.alive) {
        from.raw.reportSnapshot(b.to, "finish");
        from.pump();
      }
    }
    for (const n of this.nodes.values()) {
      if (n.alive && now >= n.nextTickAt) {
        n.nextTickAt += n.tickPeriod;
        n.tick();
      }
      if (n.alive) n.pump();
    }
    this.workload.step(chaos ? this.nemesis.faults.clientRate : 0);
    if (chaos) this.nemesis.step();
    else this.nemesis.restartDue(true);
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      n.checkCommit();
      this.inv.observeLeader(n.raw.raft);
    }
    if (this.raftOptions.readOnly === "leaseBased") this.checkLeases();
    this.time++;
  }

  /** Lease safety: while a leader believes its lease holds, nobody leads a newer term. */
  private checkLeases(): void {
    const newest = this.currentLeader();
    if (newest === undefined) return;
    for (const n of this.nodes.values()) {
      const r = n.raw.raft;
      if (n.alive && r.role === "leader" && r.term < newest.raw.raft.term && r.leaseValid()) {
        throw new InvariantViolation(
          `lease: ${n.id} (term ${r.term}) believes its lease holds while ${newest.id} leads term ${newest.raw.raft.term}`,
        );
      }
    }
  }

  private membersOf(leader: SimNode): NodeId[] {
    const cs = leader.raw.status().config;
    return [...cs.voters, ...cs.learners];
  }

  private converged(): boolean {
    const leader = this.currentLeader();
    if (leader === undefined) return false;
    const r = leader.raw.raft;
    if (!r.committedEntryInCurrentTerm()) return false;
    const target = Math.max(r.log.committed, ...this.workload.acked.map((a) => a.index));
    for (const id of this.membersOf(leader)) {
      const n = this.nodes.get(id);
      if (n === undefined || !n.alive || n.appliedIndex < target) return false;
    }
    return true;
  }

  private describe(): string {
    const parts: string[] = [];
    for (const n of this.nodes.values()) {
      if (!n.alive) {
        parts.push(`${n.id}:down`);
        continue;
      }
      const s = n.raw.status();
      parts.push(
        `${n.id}:${s.role}@${s.term} ee=${n.raw.raft.electionElapsed}/${n.raw.raft.randomizedElectionTimeout} prom=${n.raw.raft.promotable()} lead=${s.leader} commit=${s.commit} applied=${n.appliedIndex} last=${s.lastIndex} voters=${s.config.voters.join("/")} learners=${s.config.learners.join("/")}`,
      );
    }
    return parts.join("; ");
  }

  private finalChecks(): void {
    const leader = this.currentLeader();
    if (leader === undefined) throw new InvariantViolation("no leader at the end");
    const members = this.membersOf(leader).map((id) => this.nodes.get(id)!);
    const maxAcked = Math.max(0, ...this.workload.acked.map((a) => a.index));
    for (const n of members) {
      if (n.appliedIndex < maxAcked) {
        throw new InvariantViolation(`acknowledged write lost: ${n.id} applied only ${n.appliedIndex} < ${maxAcked}`);
      }
    }
    for (const a of this.workload.acked) {
      if (!this.inv.applied.has(a.index)) throw new InvariantViolation(`acknowledged write at ${a.index} never applied`);
    }
    // Equal logs applied to the same index give equal states.
    const minApplied = Math.min(...members.map((n) => n.appliedIndex));
    const maxApplied = Math.max(...members.map((n) => n.appliedIndex));
    if (minApplied === maxApplied) {
      const ref = members[0]!.kv.snapshot();
      for (const n of members) {
        const s = n.kv.snapshot();
        if (s.length !== ref.length || s.some((b, i) => b !== ref[i])) {
          throw new InvariantViolation(`state machine safety: ${n.id} state differs at index ${maxApplied}`);
        }
      }
    }
    this.say(`converged: leader ${leader.id} term ${leader.raw.raft.term}, applied ${maxApplied}`);
  }
}
