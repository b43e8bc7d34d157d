// RawNode: the driver's handle on the Raft core. The driver owns the clock (tick), the transport
// (step, Ready.messages), the write-ahead log (Ready.entries / hardState / snapshot) and the state
// machine (Ready.committedEntries); the core owns the algorithm.

import { type ConfChange, encodeConfChange } from "./conf-change.ts";
import { type Config, normalizeConfig } from "./config.ts";
import { RaftConfigError, RaftError, RaftStateCorruptError, ReadyProtocolError } from "./errors.ts";
import { makeMessage, type Message, type ReadState } from "./message.ts";
import { Raft, type Role } from "./raft.ts";
import { type Status, statusOf } from "./status.ts";
import type { ConfState, Entry, HardState, NodeId, Snapshot } from "./types.ts";
import { messageProblem as messageProblemOf } from "./validate.ts";

/** Volatile state worth logging or exposing; present in a Ready only when it changed. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/**
 * One batch of work for the driver. Handle it in this order, then call advance():
 *
 * 1. Persist, in one write-ahead-log batch: `snapshot` (if any), then `entries` (appended after
 *    truncating any conflicting suffix), then `hardState` (if not null). If `mustSync`, fsync
 *    before going on. Mirror the same into the MemoryStorage the core reads (applySnapshot,
 *    append, setHardState).
 * 2. Only then send `messages`. A message may depend on the state of this Ready (a vote response
 *    on the persisted vote, an append response on the persisted entries): sending it before the
 *    state is durable could let a crash break election safety or lose acknowledged entries.
 *    Messages may be sent in any order and may be lost; the core retries.
 * 3. Apply `snapshot` to the state machine (if any), then `committedEntries` in order. Committed
 *    entries may be applied only once this Ready's entries are persisted (they can overlap). For
 *    a confChange entry call applyConfChange(decodeConfChange(entry.data)): it returns the
 *    membership to store with a snapshot taken at that index (the core has used the
 *    configuration since it reached the log). Serve `readStates` once the state machine has
 *    applied their index.
 * 4. advance().
 *
 * tick(), step() and the request methods may be called while a Ready is being handled (e.g.
 * while an fsync is in flight); ready() may not be called again before advance().
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  /** The hard state's term or vote changed, or there are entries or a snapshot: fsync. */
  readonly mustSync: boolean;
}

interface InProgress {
  readonly lastEntry: Entry | undefined;
  readonly snapshotIndex: number;
  readonly appliedTo: number;
  readonly committedBytes: number;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * A Raft member without I/O. Build it from a Config whose storage holds what was persisted before
 * (empty for a new member); call bootstrap() once for the founding members of a new cluster.
 */
export class RawNode {
  /** The core itself; exposed for tests and the simulator, which must not mutate it. */
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inProgress: InProgress | null = null;
  /** The term of the last hard state acknowledged by advance(): durable. */
  private stableTerm: number;
  /** Indexes of confChange entries handed out to apply, for applyConfChange. */
  private confQueue: number[] = [];

  /** Validates the config (RaftConfigError) and loads the persisted state (RaftStateCorruptError). */
  constructor(config: Config) {
    const cfg = normalizeConfig(config);
    this.raft = new Raft(cfg, config.storage, config.applied);
    this.prevSoft = { leader: this.raft.lead, role: this.raft.role };
    this.prevHard = config.storage.initialState().hardState;
    this.stableTerm = this.prevHard.term;
  }

  /**
   * Founds a new cluster with the given voters: one committed confChange entry (index 1, term 1)
   * holding the whole founding membership, so a crash can never leave a member with part of it
   * (a one-voter "cluster" that elects itself). Call it on every founding member, with the same
   * list, whenever its storage is empty, which includes a restart after a crash that came before
   * the first Ready was synced. Members added later start empty and never bootstrap: they learn
   * everything from the leader. The entry comes out in the first Ready like any other.
   */
  bootstrap(voters: readonly NodeId[]): void {
    const r = this.raft;
    if (r.log.lastIndex() !== 0 || r.term !== 0) throw new RaftError("bootstrap needs an empty storage");
    if (voters.length === 0 || new Set(voters).size !== voters.length || voters.some((v) => v === "")) {
      throw new RaftConfigError("voters", "must be a non-empty list of distinct ids");
    }
    const cc: ConfChange = { type: "bootstrap", nodeId: voters[0]!, context: "", voters: [...voters] };
    const entry: Entry = { term: 1, index: 1, type: "confChange", data: encodeConfChange(cc) };
    r.becomeFollower(1, null);
    r.log.append([entry]);
    r.log.committed = 1;
    r.membership.append([entry]);
    r.switchConfig();
  }

  /** Advances the logical clock by one tick (election and heartbeat timers). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (with a pre-vote round first if enabled). */
  campaign(): void {
    this.raft.step(makeMessage({ type: "hup", from: this.raft.id, to: this.raft.id }));
  }

  /**
   * Proposes a command. On a follower it is forwarded to the leader. Throws ProposalDroppedError
   * (with the known leader) when it cannot be: the caller should then retry or redirect. Success
   * only means the proposal was handed on: the driver learns the outcome from committed entries.
   */
  propose(data: Uint8Array): void {
    this.proposeAll([data]);
  }

  /**
   * Proposes several commands in one message, all or none: as propose, for a batch (a driver
   * offering again the proposals another member forwarded, which it must not lose in silence).
   */
  proposeAll(data: readonly Uint8Array[]): void {
    const r = this.raft;
    r.step(
      makeMessage({ type: "prop", from: r.id, to: r.id, entries: data.map((d) => ({ term: 0, index: 0, type: "normal" as const, data: d })) }),
    );
  }

  /**
   * Proposes a single-server membership change. The leader refuses (ConfChangeRejectedError) while
   * another change is not yet committed, before it has committed an entry of its term, or when
   * the change makes no sense for the membership. Promote a learner only once it has caught up
   * (Status.progress[id].match >= Status.commit): from the moment the promotion is in the log,
   * commitment needs the new voter too.
   */
  proposeConfChange(cc: ConfChange): void {
    const r = this.raft;
    const data = encodeConfChange(cc);
    r.step(
      makeMessage({ type: "prop", from: r.id, to: r.id, entries: [{ term: 0, index: 0, type: "confChange", data }] }),
    );
  }

  /**
   * Call when applying a committed confChange entry (in Ready order, before advance()); returns
   * the membership as of that entry, to store in the metadata of a snapshot taken there. The core
   * itself has used the configuration since the entry reached its log (see conf-change.ts), so
   * this changes nothing in the core.
   */
  applyConfChange(_cc: ConfChange): ConfState {
    const index = this.confQueue.shift();
    return index === undefined ? this.raft.membership.current() : this.raft.confStateAt(index);
  }

  /**
   * The membership as of log index `index` (at least the applied index): what to store in the
   * metadata of a snapshot the driver takes at `index`. The membership in force now, possibly
   * not yet committed, is status().config.
   */
  confStateAt(index: number): ConfState {
    return this.raft.confStateAt(index);
  }

  /**
   * Feeds a message received from another member. Malformed, forged or misdirected messages are
   * ignored and counted in status().dropped; this never throws for network input.
   */
  step(m: Message): void {
    const r = this.raft;
    const problem = messageProblemOf(m, r.id);
    if (problem !== null) {
      r.dropped.invalid++;
      return;
    }
    try {
      r.step(m);
    } catch (e) {
      if (e instanceof RaftError && !(e instanceof RaftStateCorruptError)) {
        r.dropped.rejected++;
        return;
      }
      throw e;
    }
  }

  /**
   * Requests a linearizable read point. `context` must be non-empty and unique among pending
   * requests. The answer arrives as a ReadState {index, context} in a later Ready, once the leader
   * confirmed its leadership; serve the read after applying up to `index`. Requests can be lost
   * (leader change, lost message): the driver must time them out. Throws ReadIndexDroppedError
   * when no leader is known.
   */
  readIndex(context: string): void {
    if (typeof context !== "string" || context === "") throw new RaftError("read index context must be non-empty");
    const r = this.raft;
    r.step(makeMessage({ type: "readIndex", from: r.id, to: r.id, context }));
  }

  /**
   * Asks the leader to hand leadership to `to`: it stops accepting proposals, brings `to` up to
   * date and sends it TimeoutNow; the transfer is abandoned after an election timeout. On a
   * follower the request is forwarded to the leader.
   */
  transferLeadership(to: NodeId): void {
    const r = this.raft;
    r.step(makeMessage({ type: "transferLeader", from: to, to: r.id }));
  }

  /** The transport failed to deliver to `id`: the leader goes back to probing it. */
  reportUnreachable(id: NodeId): void {
    const r = this.raft;
    r.step(makeMessage({ type: "unreachable", from: id, to: r.id }));
  }

  /** The outcome of sending a snapshot (Ready message of type snap) to `id`. */
  reportSnapshot(id: NodeId, outcome: "finish" | "failure"): void {
    const r = this.raft;
    r.step(makeMessage({ type: "snapStatus", from: id, to: r.id, reject: outcome === "failure" }));
  }

  /** True if ready() would return work (and no Ready is outstanding). */
  hasReady(): boolean {
    if (this.inProgress !== null) return false;
    const r = this.raft;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.entries.length > 0 || r.log.unstable.snapshot !== null) return true;
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true;
    const hs = this.prevHard;
    if (r.term !== hs.term || r.vote !== hs.vote || r.log.committed !== hs.commit) return true;
    return r.log.hasNextCommittedEntries();
  }

  /** Collects the pending work (see Ready for how to handle it). Throws if the last Ready is not advanced. */
  ready(): Ready {
    if (this.inProgress !== null) throw new ReadyProtocolError("ready() called again before advance()");
    const r = this.raft;
    const soft: SoftState = { leader: r.lead, role: r.role };
    const softState = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role ? soft : null;
    const hs: HardState = { term: r.term, vote: r.vote, commit: r.log.committed };
    const hardState = sameHardState(hs, this.prevHard) ? null : hs;
    const mustSync =
      hardState !== null && (hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote);
    const entries = r.log.unstableEntries();
    const snapshot = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEntries();
    const messages = r.msgs;
    r.msgs = [];
    const readStates = r.readStates;
    r.readStates = [];

    let committedBytes = 0;
    for (const e of committedEntries) committedBytes += e.data.byteLength;
    if (snapshot !== null) this.confQueue = [];
    for (const e of committedEntries) if (e.type === "confChange") this.confQueue.push(e.index);
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) r.log.applying = lastCommitted.index;
    this.inProgress = {
      lastEntry: entries[entries.length - 1],
      snapshotIndex: snapshot === null ? 0 : snapshot.metadata.index,
      appliedTo: lastCommitted?.index ?? 0,
      committedBytes,
    };
    this.prevSoft = soft;
    if (hardState !== null) this.prevHard = hardState;
    return {
      softState,
      hardState,
      readStates,
      entries,
      snapshot,
      committedEntries,
      messages,
      mustSync: mustSync || entries.length > 0 || snapshot !== null,
    };
  }

  /** Acknowledges the last Ready: its entries and snapshot are stable, its committed entries applied. */
  advance(): void {
    const p = this.inProgress;
    if (p === null) throw new ReadyProtocolError("advance() without an outstanding ready()");
    this.inProgress = null;
    const log = this.raft.log;
    if (p.lastEntry !== undefined) log.unstable.stableTo(p.lastEntry.index, p.lastEntry.term);
    if (p.snapshotIndex > 0) {
      log.unstable.stableSnapTo(p.snapshotIndex);
      log.appliedTo(p.snapshotIndex);
    }
    if (p.appliedTo > 0) log.appliedTo(p.appliedTo);
    // applyConfChange belongs to the handling of the Ready just acknowledged.
    this.confQueue = [];
    this.raft.membership.compactTo(log.applied);
    if (this.raft.role === "leader") this.raft.reduceUncommittedSize(p.committedBytes);
    this.stableTerm = this.prevHard.term;
  }

  /**
   * A leader's heartbeats produced while a Ready is outstanding (its fsync still in flight), to
   * send at once instead of with the next Ready: a slow disk must not silence the leader for
   * longer than an election timeout and depose it. Only what is safe before the write completes
   * is handed out: nothing while this member's term is not yet durable, and each heartbeat's
   * commit index capped at the last entry of the leader's log that is durable, because the
   * committed index may already count the leader's own copy of entries still being written
   * (a follower that applied such an entry could see it lost if the leader crashed now).
   * Everything else stays for the next Ready. May be called at any time.
   */
  takeHeartbeats(): Message[] {
    const r = this.raft;
    if (r.role !== "leader" || r.term !== this.stableTerm || r.log.unstable.snapshot !== null) return [];
    if (!r.msgs.some((m) => m.type === "heartbeat")) return [];
    const durable = r.log.unstable.offset - 1;
    const heartbeats: Message[] = [];
    const rest: Message[] = [];
    for (const m of r.msgs) {
      if (m.type !== "heartbeat" || m.term !== r.term) rest.push(m);
      else heartbeats.push(m.commit > durable ? { ...m, commit: durable } : m);
    }
    r.msgs = rest;
    return heartbeats;
  }

  /** The member's state for the cluster API; progress of every member when leader. */
  status(): Status {
    return statusOf(this.raft);
  }
}
