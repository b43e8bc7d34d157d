// The driver model of one simulated member: it owns a RawNode, a simulated disk with an in-memory
// MemoryStorage mirror, and the key-value state machine, and follows the Ready protocol exactly as
// the production driver must: write the Ready to the log, fsync if mustSync (which takes simulated
// time, during which the member keeps receiving messages and ticking), and only then send the
// messages, apply the committed entries and advance.

import { decodeMessages, encodeMessages } from "../codec.ts";
import { type ConfChange, decodeConfChange } from "../conf-change.ts";
import type { Message } from "../message.ts";
import { RawNode, type Ready } from "../raw-node.ts";
import type { MemoryStorage } from "../storage.ts";
import type { ConfState, NodeId } from "../types.ts";
import { applyWrite, SimDisk, type DiskWrite } from "./disk.ts";
import type { HistoryOperation, KvOutput } from "./history.ts";
import { bytesHash, type Invariants, InvariantViolation } from "./invariants.ts";
import { type Command, decodeCommand, encodeCommand, KvStore } from "./kv.ts";
import type { SimNetwork } from "./network.ts";
import type { Rng } from "./random.ts";

export interface NodeEnv {
  now(): number;
  readonly net: SimNetwork;
  readonly inv: Invariants;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly snapshotEvery: number;
  readonly keepEntries: number;
  readonly maxFsyncDelay: number;
  /** Core settings varied per seed. */
  readonly raftOptions: {
    readonly maxSizePerMsg: number;
    readonly maxInflightMsgs: number;
    readonly preVote: boolean;
    readonly checkQuorum: boolean;
    readonly readOnly: "safe" | "leaseBased";
  };
  /** A client operation got its answer from this member. */
  complete(op: HistoryOperation, output: KvOutput, index: number): void;
  confChangeApplied(node: SimNode, cc: ConfChange): void;
  trace(...values: number[]): void;
  say(line: string): void;
}

interface PendingRead {
  readonly op: HistoryOperation;
  readonly key: string;
  index: number | null;
}

export class SimNode {
  readonly disk = new SimDisk();
  alive = false;
  raw!: RawNode;
  storage!: MemoryStorage;
  kv = new KvStore();
  appliedIndex = 0;
  confState: ConfState = { voters: [], learners: [] };
  nextTickAt = 0;
  lastCommit = 0;
  incarnation = 0;
  readonly numericId: number;
  private pendingWrites = new Map<string, HistoryOperation>();
  private pendingReads = new Map<string, PendingRead>();
  private inFlight: { rd: Ready; syncAt: number; sent: boolean } | null = null;
  /** Role as of the last Ready, and the term and vote last persisted: what the real driver decides sendFirst on. */
  private role = "follower";
  private persistedTerm = 0;
  private persistedVote: NodeId | null = null;

  constructor(
    readonly id: NodeId,
    private readonly env: NodeEnv,
    private readonly rng: Rng,
    readonly tickPeriod: number,
  ) {
    this.numericId = Number(id.slice(1));
  }

  /** The founding membership, for founding members. */
  private founders: readonly NodeId[] | null = null;

  /**
   * Starts (or restarts) from the durable disk state. A founding member bootstraps whenever its
   * disk is empty: on first start, and again after a crash that came before the bootstrap Ready
   * was synced (the entries are the same every time). A member added later never bootstraps.
   */
  start(bootstrapVoters: readonly NodeId[] | null): void {
    if (bootstrapVoters !== null) this.founders = bootstrapVoters;
    this.storage = this.disk.load();
    this.kv = new KvStore();
    const snap = this.storage.snapshot();
    this.appliedIndex = snap.metadata.index;
    this.confState = snap.metadata.confState;
    if (snap.metadata.index > 0) this.kv.restore(snap.data);
    this.raw = new RawNode({
      id: this.id,
      storage: this.storage,
      random: this.rng.fork().fn(),
      electionTick: this.env.electionTick,
      heartbeatTick: this.env.heartbeatTick,
      applied: this.appliedIndex,
      ...this.env.raftOptions,
      maxCommittedSizePerReady: 2048,
    });
    const hs = this.storage.getHardState();
    this.role = "follower";
    this.persistedTerm = hs.term;
    this.persistedVote = hs.vote;
    const empty = this.storage.lastIndex() === 0 && hs.term === 0 && hs.vote === null;
    if (this.founders !== null && empty) this.raw.bootstrap(this.founders);
    this.env.inv.observeDurableCommit(this.id, this.disk.durable.getHardState().commit, "restart");
    this.alive = true;
    this.incarnation++;
    this.inFlight = null;
    this.pendingWrites = new Map();
    this.pendingReads = new Map();
    this.lastCommit = this.raw.raft.log.committed;
    this.nextTickAt = this.env.now() + 1 + this.rng.int(this.tickPeriod);
  }

  /** Loses everything not fsynced (maybe keeping a torn prefix) and all volatile state. */
  crash(): { kept: number; torn: boolean } {
    this.alive = false;
    this.inFlight = null;
    this.pendingWrites = new Map();
    this.pendingReads = new Map();
    return this.disk.crash(this.rng);
  }

  deliver(bytes: Uint8Array): Message[] {
    const msgs = decodeMessages(bytes);
    for (const m of msgs) {
      this.raw.step(m);
      // Observe after every message: a member may lead only briefly, yet send what it appended.
      this.env.inv.observeLeader(this.raw.raft);
    }
    return msgs;
  }

  tick(): void {
    this.raw.tick();
    this.env.inv.observeLeader(this.raw.raft);
  }

  submitWrite(op: HistoryOperation, cmd: Command): void {
    this.raw.propose(encodeCommand(cmd));
    this.pendingWrites.set(`${cmd.clientId}:${cmd.seq}`, op);
  }

  submitRead(op: HistoryOperation, context: string, key: string): void {
    this.raw.readIndex(context);
    this.pendingReads.set(context, { op, key, index: null });
  }

  /** Runs the Ready protocol until there is nothing to do now (an fsync may stay in flight). */
  pump(): void {
    const env = this.env;
    for (let guard = 0; guard < 1000; guard++) {
      if (!this.alive) return;
      if (this.inFlight !== null) {
        if (env.now() < this.inFlight.syncAt) {
          // As the real driver does: a leader's heartbeats do not wait for its fsync.
          this.sendGrouped(this.raw.takeHeartbeats());
          return;
        }
        const { rd, sent } = this.inFlight;
        this.inFlight = null;
        this.disk.fsync();
        env.inv.observeDurableCommit(this.id, this.disk.durable.getHardState().commit, "fsync");
        this.finish(rd, sent);
        continue;
      }
      if (!this.raw.hasReady()) return;
      const rd = this.raw.ready();
      if (rd.softState !== null) this.role = rd.softState.role;
      // As the real driver: a leader replicates while it writes its own log (Raft thesis
      // §10.2.1), unless the Ready changes its term or vote (those must be durable first).
      const termOrVoteChanged = rd.hardState !== null && (rd.hardState.term !== this.persistedTerm || rd.hardState.vote !== this.persistedVote);
      const sendFirst = this.role === "leader" && !termOrVoteChanged && rd.snapshot === null;
      if (rd.hardState !== null) {
        this.persistedTerm = rd.hardState.term;
        this.persistedVote = rd.hardState.vote;
      }
      this.persist(rd);
      if (sendFirst) this.sendGrouped(rd.messages);
      if (rd.mustSync) {
        this.inFlight = { rd, syncAt: env.now() + this.rng.int(env.maxFsyncDelay + 1), sent: sendFirst };
      } else {
        this.finish(rd, sendFirst);
      }
    }
    throw new InvariantViolation(`${this.id}: the Ready loop does not settle`);
  }

  private write(w: DiskWrite): void {
    this.disk.write(w);
    applyWrite(this.storage, w);
  }

  private persist(rd: Ready): void {
    if (rd.snapshot !== null) this.write({ kind: "snapshot", snapshot: rd.snapshot });
    if (rd.entries.length > 0) {
      this.write({ kind: "entries", entries: rd.entries });
      const s = this.storage;
      this.env.inv.observePersisted(this.id, rd.entries, (i) => {
        if (i < s.firstIndex() - 1 || i > s.lastIndex()) return undefined;
        return s.term(i);
      });
    }
    if (rd.hardState !== null) this.write({ kind: "hardState", hardState: rd.hardState });
  }

  private finish(rd: Ready, sent: boolean): void {
    const env = this.env;
    if (rd.softState !== null) {
      const st = this.raw.raft;
      env.say(`${this.id} is ${rd.softState.role} (leader ${rd.softState.leader}) term ${st.term} last ${st.log.lastIndex()} commit ${st.log.committed}`);
    }
    // 1. Send: the Ready's state is durable (or needed no sync), unless sent already.
    if (!sent) this.sendGrouped(rd.messages);
    // 2. Apply.
    if (rd.snapshot !== null) {
      const md = rd.snapshot.metadata;
      this.kv.restore(rd.snapshot.data);
      this.appliedIndex = md.index;
      this.confState = md.confState;
      env.inv.observeStateAt(this.id, md.index, bytesHash(this.kv.snapshot()));
    }
    for (const e of rd.committedEntries) {
      if (e.index !== this.appliedIndex + 1) {
        throw new InvariantViolation(`${this.id} applies index ${e.index} after ${this.appliedIndex}`);
      }
      env.inv.observeApplied(this.id, e);
      this.appliedIndex = e.index;
      if (e.type === "confChange") {
        const cc = decodeConfChange(e.data);
        this.confState = this.raw.applyConfChange(cc);
        env.confChangeApplied(this, cc);
      } else if (e.data.length > 0) {
        const cmd = decodeCommand(e.data);
        const out = this.kv.apply(cmd);
        const key = `${cmd.clientId}:${cmd.seq}`;
        const op = this.pendingWrites.get(key);
        if (op !== undefined) {
          this.pendingWrites.delete(key);
          env.complete(op, out, e.index);
        }
      }
    }
    for (const rs of rd.readStates) {
      const p = this.pendingReads.get(rs.context);
      if (p !== undefined && p.index === null) p.index = rs.index;
    }
    this.serveReads();
    this.raw.advance();
    this.maybeSnapshot();
    env.trace(this.numericId, this.raw.raft.term, this.appliedIndex, rd.messages.length);
  }

  private sendGrouped(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const env = this.env;
    const byTo = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byTo.get(m.to);
      if (list === undefined) byTo.set(m.to, [m]);
      else list.push(m);
    }
    for (const [to, list] of byTo) {
      const hasSnapshot = list.some((m) => m.type === "snap");
      const sent = env.net.send(env.now(), this.id, to, encodeMessages(list), hasSnapshot);
      // The transport must always report a snapshot's outcome, or the leader waits for it forever.
      if (!sent && hasSnapshot) this.raw.reportSnapshot(to, "failure");
    }
  }

  private serveReads(): void {
    for (const [ctx, p] of this.pendingReads) {
      if (p.index === null || p.index > this.appliedIndex) continue;
      this.pendingReads.delete(ctx);
      this.env.complete(p.op, { value: this.kv.get(p.key) }, p.index);
    }
  }

  private maybeSnapshot(): void {
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.appliedIndex - snapIndex < this.env.snapshotEvery) return;
    const data = this.kv.snapshot();
    this.env.inv.observeStateAt(this.id, this.appliedIndex, bytesHash(data));
    const compactTo = Math.max(this.storage.firstIndex() - 1, this.appliedIndex - this.env.keepEntries);
    this.write({ kind: "localSnapshot", index: this.appliedIndex, confState: this.confState, data, compactTo });
  }

  /** Checks the in-memory commit index never goes back within one incarnation. */
  checkCommit(): void {
    const c = this.raw.raft.log.committed;
    if (c < this.lastCommit) {
      throw new InvariantViolation(`${this.id}: commit index went back from ${this.lastCommit} to ${c}`);
    }
    this.lastCommit = c;
  }
}
