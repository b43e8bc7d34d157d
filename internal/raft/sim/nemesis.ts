// The faults of a simulation's chaos phase: crashes (often of the leader, or of a member with
// unsynced writes) and restarts, partitions (symmetric, isolation, one-way, the leader cut off
// long enough for a successor to take writes), membership changes, leadership transfers and
// forged input. Each seed draws a profile; about 40% are harsh and hunt the leader.

import { encodeMessages } from "../codec.ts";
import type { ConfChange } from "../conf-change.ts";
import { MessageDecodeError, RaftError } from "../errors.ts";
import { makeMessage } from "../message.ts";
import type { NodeId } from "../types.ts";
import { type SimCluster, TICK } from "./cluster.ts";
import { CALM_NETWORK } from "./network.ts";
import type { SimNode } from "./node.ts";

export interface Faults {
  /** Chance that a crash or isolation targets the current leader. */
  readonly leaderBias: number;
  readonly downTicks: readonly [number, number];
  readonly partitionTicks: readonly [number, number];
  /** Per member and unit of time. */
  readonly crashRate: number;
  /** Per unit of time, for the whole cluster. */
  readonly leaderIsolationRate: number;
  readonly partitionRate: number;
  readonly confChangeRate: number;
  readonly transferRate: number;
  readonly forgeRate: number;
  /** Per idle client and unit of time. */
  readonly clientRate: number;
}

export class Nemesis {
  readonly faults: Faults;
  crashes = 0;
  tornWrites = 0;
  private readonly downUntil = new Map<NodeId, number>();
  private partitionUntil = 0;
  private nextNodeNumber: number;
  private readonly minVoters: number;
  private readonly maxVoters: number;

  constructor(
    private readonly c: SimCluster,
    members: number,
  ) {
    const r = c.rng;
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
    this.minVoters = members - 1;
    this.maxVoters = members;
    this.nextNodeNumber = members + 1;
  }

  /** One unit of chaos. */
  step(): void {
    const r = this.c.rng;
    const f = this.faults;
    if (f.crashRate > 0 && r.chance(f.crashRate * this.c.nodes.size)) this.crash();
    this.restartDue(false);
    if (this.c.now() >= this.partitionUntil && this.c.net.blocked.size > 0) {
      this.c.net.healPartitions();
      this.c.say("partition healed");
    }
    if (f.partitionRate > 0 && this.c.net.blocked.size === 0 && r.chance(f.partitionRate)) this.partition();
    if (f.leaderIsolationRate > 0 && this.c.net.blocked.size === 0 && r.chance(f.leaderIsolationRate)) {
      this.isolateLeader();
    }
    if (f.confChangeRate > 0 && r.chance(f.confChangeRate)) this.changeMembership();
    if (f.transferRate > 0 && r.chance(f.transferRate)) this.transferLeadership();
    if (f.forgeRate > 0 && r.chance(f.forgeRate)) this.forge();
  }

  /** The end of the chaos: a calm network without partitions, every member up. */
  heal(): void {
    this.c.net.faults = CALM_NETWORK;
    this.c.net.healPartitions();
    this.c.say("heal: network calm, every member restarting");
    this.restartDue(true);
  }

  /** Restarts the crashed members whose downtime is over (all of them with `all`). */
  restartDue(all: boolean): void {
    for (const n of this.c.nodes.values()) {
      if (n.alive) continue;
      if (all || this.c.now() >= (this.downUntil.get(n.id) ?? 0)) {
        n.start(null);
        this.c.say(`restart ${n.id} (term ${n.raw.raft.term}, commit ${n.raw.raft.log.committed}, applied ${n.appliedIndex})`);
        this.c.trace(0xaa, n.numericId);
      }
    }
  }

  private crash(): void {
    const r = this.c.rng;
    const alive = [...this.c.nodes.values()].filter((n) => n.alive);
    if (alive.length === 0) return;
    // Often a member with unsynced writes, to exercise lost and torn writes.
    const dirty = alive.filter((n) => n.disk.dirty);
    const leader = this.c.currentLeader();
    const n =
      leader !== undefined && r.chance(this.faults.leaderBias)
        ? leader
        : dirty.length > 0 && r.chance(0.5)
          ? r.pick(dirty)
          : r.pick(alive);
    const res = n.crash();
    this.crashes++;
    if (res.torn) this.tornWrites++;
    this.downUntil.set(n.id, this.c.now() + r.range(this.faults.downTicks[0], this.faults.downTicks[1]) * TICK);
    this.c.say(`crash ${n.id} (kept ${res.kept} unsynced writes${res.torn ? ", torn" : ""})`);
    this.c.trace(0xc0, n.numericId);
  }

  private cutOff(x: NodeId): void {
    for (const y of this.c.nodes.keys()) {
      if (y === x) continue;
      this.c.net.block(x, y);
      this.c.net.block(y, x);
    }
  }

  /** The classic stale-read setup: cut the leader off long enough for a new one to take writes. */
  private isolateLeader(): void {
    const leader = this.c.currentLeader();
    if (leader === undefined) return;
    this.cutOff(leader.id);
    this.partitionUntil = this.c.now() + this.c.rng.range(15, 40) * TICK;
    this.c.say(`isolate leader ${leader.id}`);
    this.c.trace(0xbc, leader.numericId);
  }

  private partition(): void {
    const r = this.c.rng;
    const net = this.c.net;
    const ids = [...this.c.nodes.keys()];
    const kind = r.int(3);
    if (kind === 0) {
      const a = ids.filter(() => r.chance(0.5));
      const b = ids.filter((id) => !a.includes(id));
      for (const x of a) {
        for (const y of b) {
          net.block(x, y);
          net.block(y, x);
        }
      }
      this.c.say(`partition ${a.join(",")} | ${b.join(",")}`);
    } else if (kind === 1) {
      const leader = this.c.currentLeader();
      const x = leader !== undefined && r.chance(this.faults.leaderBias) ? leader.id : r.pick(ids);
      this.cutOff(x);
      this.c.say(`isolate ${x}`);
    } else {
      // one-way: x can send but not receive, or the reverse
      const x = r.pick(ids);
      const inbound = r.chance(0.5);
      for (const y of ids) {
        if (y === x) continue;
        if (inbound) net.block(y, x);
        else net.block(x, y);
      }
      this.c.say(`one-way ${inbound ? `nobody -> ${x}` : `${x} -> nobody`}`);
    }
    this.partitionUntil = this.c.now() + r.range(this.faults.partitionTicks[0], this.faults.partitionTicks[1]) * TICK;
    this.c.trace(0xbb, net.blocked.size);
  }

  private propose(leader: SimNode, cc: ConfChange): boolean {
    try {
      leader.raw.proposeConfChange(cc);
      leader.pump();
      this.c.say(`propose ${cc.type} ${cc.nodeId} via ${leader.id}`);
      return true;
    } catch (e) {
      if (e instanceof RaftError) return false;
      throw e;
    }
  }

  /** Adds a learner, promotes it once caught up, or removes a voter (the leader included). */
  private changeMembership(): void {
    const leader = this.c.currentLeader();
    if (leader === undefined) return;
    const st = leader.raw.status();
    // The driver's rule: promote a learner once its match has reached the leader's commit index.
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
      const n = this.c.addNode(id);
      n.start(null);
      if (!this.propose(leader, { type: "addLearner", nodeId: id, context: "" })) {
        n.crash();
        this.c.dropNode(id);
      }
    } else if (voters.length > this.minVoters) {
      this.propose(leader, { type: "removeNode", nodeId: this.c.rng.pick(voters), context: "" });
    }
  }

  private transferLeadership(): void {
    const leader = this.c.currentLeader();
    if (leader === undefined) return;
    const others = leader.raw.status().config.voters.filter((v) => v !== leader.id);
    if (others.length === 0) return;
    const to = this.c.rng.pick(others);
    leader.raw.transferLeadership(to);
    leader.pump();
    this.c.say(`transfer leadership ${leader.id} -> ${to}`);
  }

  /** Forged or corrupt input that the core and codec must shrug off. */
  private forge(): void {
    const r = this.c.rng;
    const targets = [...this.c.nodes.values()].filter((n) => n.alive);
    if (targets.length === 0) return;
    const t = r.pick(targets);
    const term = t.raw.raft.term;
    const kind = r.int(5);
    let bytes: Uint8Array;
    if (kind === 0) {
      bytes = new Uint8Array(r.range(0, 40)).map(() => r.int(256));
    } else if (kind === 1) {
      const m = makeMessage({ type: "heartbeatResp", from: "intruder", to: t.id, term, context: "x" });
      bytes = encodeMessages([m]).slice(0, r.int(20)); // truncated
    } else {
      const sender = r.pick([...this.c.nodes.keys()].filter((id) => id !== t.id).concat(["intruder"]));
      const m =
        kind === 2
          ? makeMessage({ type: "appResp", from: sender, to: t.id, term, index: 1e12 })
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
    this.c.trace(0xf0, kind);
  }
}
