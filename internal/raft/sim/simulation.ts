// One seeded simulation run: a 3- or 5-member cluster of real cores under a chaos phase (lossy,
// duplicating, reordering network; partitions; crashes with torn writes; membership changes;
// leadership transfers; forged messages; clients writing and reading), then a healing phase that
// must elect a leader and bring every member up to date. Invariants are checked after every step.

import { encodeMessages } from "../codec.ts";
import type { ConfChange } from "../conf-change.ts";
import { MessageDecodeError, RaftError } from "../errors.ts";
import { makeMessage } from "../message.ts";
import type { NodeId } from "../types.ts";
import { type HistoryOperation, HistoryRecorder, type KvInput, type KvOutput } from "./history.ts";
import { Invariants, InvariantViolation } from "./invariants.ts";
import { CALM_NETWORK, SimNetwork } from "./network.ts";
import { type NodeEnv, SimNode } from "./node.ts";
import { Rng } from "./random.ts";

export interface SimOptions {
  readonly seed: number;
  readonly members: 3 | 5;
  /** Ticks of chaos (default 150). */
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

/** Simulated time units per tick (a tick is ~100 ms; a unit ~10 ms). */
const TICK = 10;
const ELECTION_TICK = 10;
const HEARTBEAT_TICK = 1;
/** The healing phase must have a leader within this many ticks. */
const HEAL_LEADER_TICKS = 8 * ELECTION_TICK;
const KEYS = ["x", "y", "z"];

interface Client {
  pid: number;
  seq: number;
  op: HistoryOperation | null;
  deadline: number;
}

interface Faults {
  /** Chance that a crash or isolation targets the current leader. */
  leaderBias: number;
  downTicks: [number, number];
  partitionTicks: [number, number];
  crashRate: number;
  leaderIsolationRate: number;
  partitionRate: number;
  confChangeRate: number;
  transferRate: number;
  forgeRate: number;
  clientRate: number;
}

/** Runs one seed. Never throws: a violated invariant or a failed liveness bound is in `error`. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation implements NodeEnv {
  readonly rng: Rng;
  readonly net: SimNetwork;
  readonly inv = new Invariants();
  readonly history = new HistoryRecorder();
  readonly electionTick = ELECTION_TICK;
  readonly heartbeatTick = HEARTBEAT_TICK;
  readonly snapshotEvery: number;
  readonly keepEntries: number;
  readonly maxFsyncDelay: number;
  readonly raftOptions: NodeEnv["raftOptions"];
  private time = 0;
  private readonly nodes = new Map<NodeId, SimNode>();
  private nextNodeNumber: number;
  private readonly clients: Client[] = [];
  private nextPid = 1;
  private readonly opClient = new Map<HistoryOperation, Client>();
  private readonly acked: { index: number; op: HistoryOperation }[] = [];
  private readonly faults: Faults;
  private readonly downUntil = new Map<NodeId, number>();
  private partitionUntil = 0;
  private hash = 0x811c9dc5;
  private readonly log: ((line: string) => void) | undefined;
  private counters = { crashes: 0, torn: 0, confChanges: 0, snapshots: 0, reads: 0, messages: 0 };
  private readonly minVoters: number;
  private readonly maxVoters: number;

  constructor(private readonly o: SimOptions) {
    this.rng = new Rng(o.seed * 2654435761 + o.members);
    this.net = new SimNetwork(this.rng.fork());
    this.log = o.log;
    const r = this.rng;
    this.snapshotEvery = r.range(8, 40);
    this.keepEntries = r.range(0, 10);
    this.maxFsyncDelay = r.range(0, 8);
    this.raftOptions = {
      // One entry per message makes a follower acknowledge old-term entries on their own, which
      // is what the Figure 8 rule is about.
      maxSizePerMsg: r.pick([1, 256, 4096]),
      maxInflightMsgs: r.pick([1, 4, 64]),
      preVote: r.chance(0.8),
      checkQuorum: r.chance(0.8),
    };
    // Rates per member (crashes) or per cluster, per tick. A harsh profile hunts leaders.
    const harsh = r.chance(0.4);
    this.faults = harsh
      ? {
          leaderBias: r.pick([0.3, 0.6, 0.9]),
          downTicks: [1, r.range(5, 20)],
          partitionTicks: [2, r.range(8, 25)],
          crashRate: r.pick([0.01, 0.02, 0.04]) / TICK,
          leaderIsolationRate: r.pick([0, 0.03]) / TICK,
          partitionRate: r.pick([0.03, 0.06, 0.1]) / TICK,
          confChangeRate: r.pick([0, 0.02, 0.05]) / TICK,
          transferRate: r.pick([0, 0.01, 0.03]) / TICK,
          forgeRate: r.pick([0, 0.02]) / TICK,
          clientRate: r.pick([0.05, 0.1, 0.2]),
        }
      : {
          leaderBias: r.pick([0, 0.3]),
          downTicks: [3, 30],
          partitionTicks: [5, 40],
          crashRate: r.pick([0, 0.002, 0.005, 0.01]) / TICK,
          leaderIsolationRate: r.pick([0, 0.01]) / TICK,
          partitionRate: r.pick([0, 0.01, 0.02, 0.04]) / TICK,
          confChangeRate: r.pick([0, 0.02, 0.05]) / TICK,
          transferRate: r.pick([0, 0.005, 0.02]) / TICK,
          forgeRate: r.pick([0, 0.02]) / TICK,
          clientRate: r.pick([0.01, 0.03, 0.08]),
        };
    this.net.faults = {
      dropRate: r.pick([0, 0.01, 0.05, 0.1]),
      dupRate: r.pick([0, 0.01, 0.05]),
      minDelay: 1,
      maxDelay: r.range(2, 12),
      longDelayRate: r.pick([0, 0.01, 0.05]),
      longDelay: r.range(30, 150),
    };
    this.minVoters = o.members - 1;
    this.maxVoters = o.members;
    this.nextNodeNumber = o.members + 1;
    for (let i = 0; i < r.range(2, 6); i++) this.clients.push({ pid: this.nextPid++, seq: 0, op: null, deadline: 0 });
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

  private newNode(id: NodeId): SimNode {
    const n = new SimNode(id, this, this.rng.fork(), TICK + this.rng.range(-1, 1));
    this.nodes.set(id, n);
    return n;
  }

  run(): SimResult {
    let error: string | undefined;
    let healTicks = 0;
    let steps = 0;
    try {
      const ids: NodeId[] = [];
      for (let i = 1; i <= this.o.members; i++) ids.push(`n${i}`);
      for (const id of ids) this.newNode(id).start(ids);
      const chaosEnd = (this.o.chaosTicks ?? 150) * TICK;
      while (this.time < chaosEnd) {
        this.step(true);
        steps++;
      }
      this.heal();
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
    const history = this.history.export();
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
        crashes: this.counters.crashes,
        tornWrites: this.counters.torn,
        elections: this.inv.leaderTerms(),
        confChanges: this.counters.confChanges,
        snapshotsSent: this.counters.snapshots,
        acknowledgedWrites: this.acked.length,
        reads: this.counters.reads,
        unknown: history.filter((h) => h.return === Infinity).length,
        finalCommit: this.inv.maxApplied,
        healTicks,
      },
    };
  }

  // ---- one step of simulated time ----

  private step(chaos: boolean): void {
    const now = this.time;
    for (let b = this.net.popDue(now); b !== undefined; b = this.net.popDue(now)) {
      const to = this.nodes.get(b.to);
      const from = this.nodes.get(b.from);
      if (to === undefined || !to.alive || this.net.isBlocked(b.from, b.to)) {
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
        n.raw.tick();
      }
      if (n.alive) n.pump();
    }
    this.clientStep(chaos);
    if (chaos) this.chaosStep();
    else this.restartDue(true);
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      n.checkCommit();
      this.inv.observeLeader(n.raw.raft);
    }
    this.time++;
  }

  // ---- clients ----

  private clientStep(chaos: boolean): void {
    for (const c of this.clients) {
      if (c.op !== null && this.time >= c.deadline) {
        this.history.unknown(c.op);
        this.opClient.delete(c.op);
        c.op = null;
        c.pid = this.nextPid++; // a process that saw no answer is replaced (Jepsen convention)
      }
      if (c.op === null && chaos && this.rng.chance(this.faults.clientRate)) this.issue(c);
    }
  }

  private issue(c: Client): void {
    const target = this.nodes.get(this.rng.pick([...this.nodes.keys()]));
    if (target === undefined || !target.alive) return; // connection refused: nothing happened
    const key = this.rng.pick(KEYS);
    const seq = ++c.seq;
    const value = `c${c.pid}-${seq}`;
    const roll = this.rng.next();
    let input: KvInput;
    if (roll < 0.35) input = { kind: "get", key };
    else if (roll < 0.7) input = { kind: "put", key, value };
    else if (roll < 0.9) {
      const expected = this.rng.chance(0.8) ? this.latestValue(key) : null;
      input = { kind: "cas", key, expected, value };
    } else input = { kind: "delete", key };
    const op = this.history.invoke(c.pid, input);
    try {
      if (input.kind === "get") {
        this.counters.reads++;
        target.submitRead(op, `${c.pid}:${seq}`, key);
      } else {
        target.submitWrite(op, { clientId: c.pid, seq, input });
      }
    } catch (e) {
      if (e instanceof RaftError) {
        this.history.fail(op);
        return;
      }
      throw e;
    }
    c.op = op;
    c.deadline = this.time + 30 * TICK;
    this.opClient.set(op, c);
  }

  /** The newest value any answered operation wrote or read for key (to make CAS succeed sometimes). */
  private latestValue(key: string): string | null {
    for (let i = this.acked.length - 1; i >= 0; i--) {
      const op = this.acked[i]!.op;
      if (op.input.key !== key) continue;
      if (op.input.kind === "put" || op.input.kind === "cas") return op.input.value;
      if (op.input.kind === "delete") return null;
    }
    return null;
  }

  complete(op: HistoryOperation, output: KvOutput, index: number): void {
    const c = this.opClient.get(op);
    if (c === undefined || c.op !== op || !this.history.isOpen(op)) return;
    this.history.complete(op, output);
    this.opClient.delete(op);
    c.op = null;
    if (op.input.kind !== "get") this.acked.push({ index, op });
    this.trace(op.clientId, index, op.input.kind.length);
  }

  // ---- faults ----

  private chaosStep(): void {
    const r = this.rng;
    const f = this.faults;
    // crashes
    if (f.crashRate > 0 && r.chance(f.crashRate * this.nodes.size)) {
      const alive = [...this.nodes.values()].filter((n) => n.alive);
      // Often pick a member with unsynced writes, to exercise lost and torn writes.
      const dirty = alive.filter((n) => n.disk.dirty);
      const leader = this.currentLeader();
      if (alive.length > 0) {
        const n =
          leader !== undefined && r.chance(f.leaderBias)
            ? leader
            : dirty.length > 0 && r.chance(0.5)
              ? r.pick(dirty)
              : r.pick(alive);
        const res = n.crash();
        this.counters.crashes++;
        if (res.torn) this.counters.torn++;
        this.downUntil.set(n.id, this.time + r.range(f.downTicks[0], f.downTicks[1]) * TICK);
        this.say(`crash ${n.id} (kept ${res.kept} unsynced writes${res.torn ? ", torn" : ""})`);
        this.trace(0xc0, n.numericId);
      }
    }
    this.restartDue(false);
    // partitions
    if (this.time >= this.partitionUntil && this.net.blocked.size > 0) {
      this.net.healPartitions();
      this.say("partition healed");
    }
    if (f.partitionRate > 0 && this.net.blocked.size === 0 && r.chance(f.partitionRate)) this.partition();
    if (f.leaderIsolationRate > 0 && this.net.blocked.size === 0 && r.chance(f.leaderIsolationRate)) {
      this.isolateLeader();
    }
    // membership and leadership
    if (f.confChangeRate > 0 && r.chance(f.confChangeRate)) this.changeMembership();
    if (f.transferRate > 0 && r.chance(f.transferRate)) this.transferLeadership();
    if (f.forgeRate > 0 && r.chance(f.forgeRate)) this.forge();
  }

  private restartDue(all: boolean): void {
    for (const n of this.nodes.values()) {
      if (n.alive) continue;
      const until = this.downUntil.get(n.id) ?? 0;
      if (all || this.time >= until) {
        n.start(null);
        this.say(`restart ${n.id} (term ${n.raw.raft.term}, commit ${n.raw.raft.log.committed}, applied ${n.appliedIndex})`);
        this.trace(0xaa, n.numericId);
      }
    }
  }

  /** The classic stale-read setup: cut the leader off long enough for a new one to take writes. */
  private isolateLeader(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    for (const y of this.nodes.keys()) if (y !== leader.id) {
      this.net.block(leader.id, y);
      this.net.block(y, leader.id);
    }
    this.partitionUntil = this.time + this.rng.range(15, 40) * TICK;
    this.say(`isolate leader ${leader.id}`);
    this.trace(0xbc, leader.numericId);
  }

  private partition(): void {
    const r = this.rng;
    const ids = [...this.nodes.keys()];
    const kind = r.int(3);
    if (kind === 0) {
      // symmetric split into two groups
      const a = ids.filter(() => r.chance(0.5));
      const b = ids.filter((id) => !a.includes(id));
      for (const x of a) for (const y of b) {
        this.net.block(x, y);
        this.net.block(y, x);
      }
      this.say(`partition ${a.join(",")} | ${b.join(",")}`);
    } else if (kind === 1) {
      const leader = this.currentLeader();
      const x = leader !== undefined && r.chance(this.faults.leaderBias) ? leader.id : r.pick(ids);
      for (const y of ids) if (y !== x) {
        this.net.block(x, y);
        this.net.block(y, x);
      }
      this.say(`isolate ${x}`);
    } else {
      // one-way: x can send but not receive (or the reverse)
      const x = r.pick(ids);
      const inbound = r.chance(0.5);
      for (const y of ids) if (y !== x) {
        if (inbound) this.net.block(y, x);
        else this.net.block(x, y);
      }
      this.say(`one-way ${inbound ? `nobody -> ${x}` : `${x} -> nobody`}`);
    }
    this.partitionUntil = this.time + r.range(this.faults.partitionTicks[0], this.faults.partitionTicks[1]) * TICK;
    this.trace(0xbb, this.net.blocked.size);
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.alive || n.raw.raft.role !== "leader") continue;
      if (best === undefined || n.raw.raft.term > best.raw.raft.term) best = n;
    }
    return best;
  }

  private propose(leader: SimNode, cc: ConfChange): boolean {
    try {
      leader.raw.proposeConfChange(cc);
      leader.pump();
      this.say(`propose ${cc.type} ${cc.nodeId} via ${leader.id}`);
      return true;
    } catch (e) {
      if (e instanceof RaftError) return false;
      throw e;
    }
  }

  private changeMembership(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const st = leader.raw.status();
    // Driver rule: promote a learner once its match has reached the leader's commit index.
    for (const l of st.config.learners) {
      const pr = st.progress?.[l];
      if (pr !== undefined && pr.match >= st.commit) {
        this.propose(leader, { type: "addVoter", nodeId: l, context: "" });
        return;
      }
    }
    if (st.config.learners.length > 0) return;
    const voters = st.config.voters;
    if (voters.length < this.maxVoters) {
      const id = `n${this.nextNodeNumber++}`;
      const n = this.newNode(id);
      n.start(null);
      if (!this.propose(leader, { type: "addLearner", nodeId: id, context: "" })) {
        n.crash();
        this.nodes.delete(id);
      }
    } else if (voters.length > this.minVoters) {
      this.propose(leader, { type: "removeNode", nodeId: this.rng.pick(voters), context: "" });
    }
  }

  confChangeApplied(node: SimNode, cc: ConfChange): void {
    this.counters.confChanges++;
    this.trace(0xcc, node.numericId, cc.nodeId.length, cc.type.length);
  }

  private transferLeadership(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const others = leader.raw.status().config.voters.filter((v) => v !== leader.id);
    if (others.length === 0) return;
    const to = this.rng.pick(others);
    leader.raw.transferLeadership(to);
    leader.pump();
    this.say(`transfer leadership ${leader.id} -> ${to}`);
  }

  /** Forged or corrupt input that the core and codec must shrug off. */
  private forge(): void {
    const r = this.rng;
    const targets = [...this.nodes.values()].filter((n) => n.alive);
    if (targets.length === 0) return;
    const t = r.pick(targets);
    const term = t.raw.raft.term;
    const kind = r.int(5);
    let bytes: Uint8Array;
    if (kind === 0) {
      bytes = new Uint8Array(r.range(0, 40)).map(() => r.int(256));
    } else if (kind === 1) {
      const m = makeMessage({ type: "heartbeatResp", from: "intruder", to: t.id, term, context: "x" });
      bytes = encodeMessages([m]);
      bytes = bytes.slice(0, r.int(bytes.length)); // truncated
    } else {
      const member = r.pick([...this.nodes.keys()].filter((id) => id !== t.id).concat(["intruder"]));
      const m =
        kind === 2
          ? makeMessage({ type: "appResp", from: member, to: t.id, term, index: 1e12 })
          : kind === 3
            ? makeMessage({ type: "heartbeatResp", from: "intruder", to: t.id, term, context: "forged" })
            : makeMessage({ type: "readIndex", from: "intruder", to: t.id, context: "forged" });
      bytes = encodeMessages([m]);
    }
    try {
      t.deliver(bytes);
      t.pump();
    } catch (e) {
      if (!(e instanceof MessageDecodeError)) throw e;
    }
    this.trace(0xf0, kind);
  }

  // ---- healing ----

  private heal(): void {
    this.net.faults = CALM_NETWORK;
    this.net.healPartitions();
    this.say("heal: network calm, every member restarting");
    this.restartDue(true);
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
    const target = Math.max(r.log.committed, ...this.acked.map((a) => a.index));
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
    const maxAcked = Math.max(0, ...this.acked.map((a) => a.index));
    for (const n of members) {
      if (n.appliedIndex < maxAcked) {
        throw new InvariantViolation(`acknowledged write lost: ${n.id} applied only ${n.appliedIndex} < ${maxAcked}`);
      }
    }
    for (const a of this.acked) {
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
