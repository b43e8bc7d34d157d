// The Raft state machine of one member: terms, votes, roles, timers and the log, driven only by
// tick() and step(message). It never touches a clock, a disk or a socket: everything it wants done
// goes out through `msgs`, `readStates` and the log's unstable part, which RawNode packages into a
// Ready. Role-specific message handling lives in step-leader.ts and step-follower.ts.

import { applyToMembership, confChangeProblem, type ConfChange, tryDecodeConfChange } from "./conf-change.ts";
import type { NormalizedConfig } from "./config.ts";
import { RaftStateCorruptError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import {
  CAMPAIGN_TRANSFER,
  makeMessage,
  type Message,
  type MessageInit,
  type ReadState,
  voteResponseType,
} from "./message.ts";
import type { Progress } from "./progress.ts";
import type { VoteResult } from "./quorum.ts";
import { ReadOnlyQueue } from "./read-only.ts";
import { stepCandidate, stepFollower } from "./step-follower.ts";
import { stepLeader } from "./step-leader.ts";
import { entryBytes, type Storage } from "./storage.ts";
import { ProgressTracker } from "./tracker.ts";
import type { ConfState, Entry, EntryType, NodeId, Snapshot } from "./types.ts";

export type Role = "follower" | "preCandidate" | "candidate" | "leader";
export type CampaignType = "preElection" | "election" | "transfer";

/** Counters of messages the core ignored, by reason (exposed in status()). */
export interface DropCounters {
  /** Malformed or semantically impossible (forged) messages. */
  invalid: number;
  /** Messages that need a progress entry, from a member the leader does not know. */
  unknownPeer: number;
  /** Messages of an older term. */
  staleTerm: number;
  /** Vote requests ignored because a leader was heard from within the election timeout. */
  ignoredInLease: number;
  /** Requests refused with an error (proposal dropped, conf change rejected) that came from the network. */
  rejected: number;
}

const EMPTY_DATA = new Uint8Array(0);

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId | null = null;
  lead: NodeId | null = null;
  role: Role = "follower";
  isLearner = false;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  /** Outgoing messages, sent by the driver after the Ready they come with is persisted. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId | null = null;
  /** Index of the newest conf change the leader may have in its log (no new one until applied). */
  pendingConfIndex = 0;
  /** Leader: payload bytes of entries proposed in this term and not yet applied. */
  uncommittedSize = 0;
  readOnly = new ReadOnlyQueue();
  /** ReadIndex requests waiting for the leader to commit an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** leaseBased: ticks since this member became leader, the clock of lease acknowledgements. */
  leaderTicks = 0;
  /** leaseBased: a TimeoutNow went out this term, so another member may win without a lease. */
  timeoutNowSent = false;
  /** leaseBased: reads waiting for the lease to be (re)established. */
  pendingLeaseReads: Message[] = [];
  /** leaseBased: refuse votes for one election timeout after start (a restart forgets leases). */
  private startupLease: boolean;
  private ticksSinceStart = 0;
  readonly dropped: DropCounters = { invalid: 0, unknownPeer: 0, staleTerm: 0, ignoredInLease: 0, rejected: 0 };

  constructor(
    readonly cfg: NormalizedConfig,
    storage: Storage,
    applied: number | undefined,
  ) {
    this.id = cfg.id;
    this.startupLease = cfg.readOnly === "leaseBased";
    this.log = new RaftLog(storage, cfg.maxCommittedSizePerReady);
    this.trk = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    const { hardState, confState } = storage.initialState();
    this.trk.restore(confState, this.log.lastIndex() + 1);
    this.isLearner = confState.learners.includes(this.id);
    if (hardState.commit > this.log.lastIndex()) {
      throw new RaftStateCorruptError(
        `hard state commit ${hardState.commit} is beyond the last index ${this.log.lastIndex()}`,
      );
    }
    // A snapshot taken at an applied index may be newer than the last synced commit: keep the max.
    this.log.committed = Math.max(this.log.committed, hardState.commit);
    this.term = hardState.term;
    this.vote = hardState.vote;
    if (applied !== undefined && applied > this.log.applied) {
      if (applied > this.log.committed) {
        throw new RaftStateCorruptError(`applied ${applied} is beyond the commit index ${this.log.committed}`);
      }
      this.log.appliedTo(applied);
    }
    this.becomeFollower(this.term, null);
  }

  // ---- messages out ----

  /** Queues a message from this member; the term defaults to ours (0 for prop and readIndex). */
  send(init: Omit<MessageInit, "from">): void {
    const term = init.term ?? (init.type === "prop" || init.type === "readIndex" ? 0 : this.term);
    this.msgs.push(makeMessage({ ...init, from: this.id, term }));
  }

  /** Passes a local request on to the leader unchanged but for its recipient. */
  forward(m: Message, to: NodeId): void {
    this.msgs.push({ ...m, to, term: m.type === "transferLeader" ? this.term : 0 });
  }

  // ---- role changes ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick);
    if (this.randomizedElectionTimeout >= 2 * this.cfg.electionTick) {
      this.randomizedElectionTimeout = 2 * this.cfg.electionTick - 1;
    }
    this.leadTransferee = null;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) pr.reset(last + 1, id === this.id ? last : 0);
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnlyQueue();
    this.pendingReadIndexMessages = [];
    this.pendingLeaseReads = [];
    this.leaderTicks = 0;
    this.timeoutNowSent = false;
  }

  becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: a pre-vote changes nothing durable (thesis §9.6).
    this.role = "preCandidate";
    this.trk.resetVotes();
    this.lead = null;
  }

  becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // There may be a conf change among the entries of earlier terms: allow none until all of
    // them are applied.
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2 / §8: an entry of the new term, whose commitment commits everything before it.
    this.appendEntry([{ type: "normal", data: EMPTY_DATA }]);
  }

  // ---- timers ----

  tick(): void {
    this.ticksSinceStart++;
    if (this.startupLease && this.ticksSinceStart >= this.cfg.electionTick) this.startupLease = false;
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? "preElection" : "election");
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    this.leaderTicks++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.checkQuorum();
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === "leader" && this.leadTransferee !== null) this.abortLeaderTransfer();
    }
    if (this.role !== "leader") return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** Leader: step down unless a quorum was heard from during the last election timeout. */
  checkQuorum(): void {
    if (!this.trk.quorumActive(this.id)) {
      this.becomeFollower(this.term, null);
      return;
    }
    for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
  }

  /** A voter in its own configuration, with no snapshot waiting to be applied. */
  promotable(): boolean {
    return this.trk.voters.has(this.id) && this.log.unstable.snapshot === null;
  }

  /** Inside a leader's lease: vote requests are ignored (thesis §4.2.3, check-quorum). */
  inLease(): boolean {
    return (
      this.cfg.checkQuorum &&
      (this.lead !== null || this.startupLease) &&
      this.electionElapsed < this.cfg.electionTick
    );
  }

  // ---- elections ----

  hup(t: CampaignType): void {
    if (this.role === "leader") return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  /** True if a committed conf change is not applied yet: campaigning could use a stale config. */
  private hasUnappliedConfChanges(): boolean {
    const log = this.log;
    if (log.applied >= log.committed) return false;
    let lo = Math.max(log.applied + 1, log.firstIndex());
    while (lo <= log.committed) {
      const page = log.slice(lo, log.committed + 1, this.cfg.maxSizePerMsg);
      for (const e of page) if (e.type === "confChange") return true;
      lo += page.length;
      if (page.length === 0) break;
    }
    return false;
  }

  campaign(t: CampaignType): void {
    let voteType: "vote" | "preVote";
    let term: number;
    if (t === "preElection") {
      this.becomePreCandidate();
      voteType = "preVote";
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = "vote";
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      // A single voter: no one else to ask.
      if (t === "preElection") this.campaign("election");
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    const context = t === "transfer" ? CAMPAIGN_TRANSFER : "";
    for (const id of this.trk.voters) {
      if (id !== this.id) this.send({ type: voteType, to: id, term, index, logTerm, context });
    }
  }

  poll(id: NodeId, granted: boolean): VoteResult {
    return this.trk.recordVote(id, granted);
  }

  private handleVoteRequest(m: Message): void {
    const type = m.type === "vote" ? "vote" : "preVote";
    // We may vote if we already voted for this candidate, if we have not voted and know no
    // leader in this term, or for a pre-vote of a future term.
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (type === "preVote" && m.term > this.term);
    // Learners vote too: a candidate may know of a promotion this member has not applied yet.
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Answer with the request's term: a pre-candidate ignores answers of older terms.
      this.send({ type: voteResponseType(type), to: m.from, term: m.term });
      if (type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: voteResponseType(type), to: m.from, term: this.term, reject: true });
    }
  }

  // ---- the step entry point ----

  /**
   * Processes one message. Local requests may throw (ProposalDroppedError, ...); a message that
   * does not fit the current state is ignored and counted.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // Local messages, and prop/readIndex forwarded by a follower, carry no term.
    } else if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        if (m.context !== CAMPAIGN_TRANSFER && this.inLease()) {
          // Heard from a live leader within the election timeout: neither the term nor the
          // vote changes. This keeps a rejoining or removed member from disrupting the cluster.
          this.dropped.ignoredInLease++;
          return;
        }
      }
      if (m.type === "preVote") {
        // Never change the term because of a pre-vote.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // A granted pre-vote carries the term we would campaign in; we move there if we win.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "heartbeat" || m.type === "app")) {
        // A leader of an older term. It may be a stale message, or a leader that cannot learn of
        // the new term because check-quorum/pre-vote members ignore its votes: tell it our term
        // so it steps down. (Equally, a member whose term ran ahead during a partition gets its
        // term back into circulation through this answer's receiver... see the pitfall tests.)
        this.send({ type: "appResp", to: m.from });
      } else if (m.type === "preVote") {
        // Reject with our term so a pre-candidate with a stale term catches up and can win later
        // (etcd's TestNodeWithSmallerTermCanCompleteElection).
        this.send({ type: "preVoteResp", to: m.from, term: this.term, reject: true });
      } else {
        this.dropped.staleTerm++;
      }
      return;
    }

    switch (m.type) {
      case "hup":
        this.hup(this.cfg.preVote ? "preElection" : "election");
        return;
      case "vote":
      case "preVote":
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case "leader":
        stepLeader(this, m);
        return;
      case "follower":
        stepFollower(this, m);
        return;
      case "candidate":
      case "preCandidate":
        stepCandidate(this, m);
        return;
    }
  }

  // ---- follower side of replication ----

  handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: "appResp", to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew === -1) {
      this.dropped.invalid++;
      return;
    }
    if (lastNew !== undefined) {
      this.send({ type: "appResp", to: m.from, index: lastNew });
      return;
    }
    // Consistency check failed (Figure 2, receiver rule 2). Hint where our log could match: the
    // last index at or before the probe whose term is not newer than the leader's there.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: "appResp",
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  handleHeartbeat(m: Message): void {
    // The leader caps the commit index at our match, so it never exceeds our log unless forged.
    if (!this.log.commitTo(m.commit)) this.dropped.invalid++;
    this.send({ type: "heartbeatResp", to: m.from, context: m.context });
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === null) {
      this.dropped.invalid++;
      return;
    }
    if (this.restore(s)) this.send({ type: "appResp", to: m.from, index: this.log.lastIndex() });
    else this.send({ type: "appResp", to: m.from, index: this.log.committed });
  }

  /** Installs a leader's snapshot; false if it brings nothing new (only the commit may move). */
  restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We have the snapshot's last entry: the log up to it matches, so just commit it.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.trk.restore(confState, this.log.lastIndex() + 1);
    this.isLearner = confState.learners.includes(this.id);
    return true;
  }

  // ---- leader side of replication ----

  /** Appends new entries of the current term to the leader's log; false if over the size limit. */
  appendEntry(proposed: readonly { type: EntryType; data: Uint8Array }[]): boolean {
    const last = this.log.lastIndex();
    const ents: Entry[] = new Array<Entry>(proposed.length);
    let size = 0;
    for (let i = 0; i < proposed.length; i++) {
      const p = proposed[i]!;
      ents[i] = { term: this.term, index: last + 1 + i, type: p.type, data: p.data };
      size += p.data.byteLength;
    }
    const limit = this.cfg.maxUncommittedEntriesSize;
    if (limit > 0 && size > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > limit) {
      return false;
    }
    this.uncommittedSize += size;
    const li = this.log.append(ents);
    // The leader counts its own copy at once; the driver persists it before any message that
    // could let another member learn of the commit goes out (see Ready).
    this.trk.progress.get(this.id)?.maybeUpdate(li);
    this.maybeCommit();
    return true;
  }

  reduceUncommittedSize(bytes: number): void {
    this.uncommittedSize = bytes >= this.uncommittedSize ? 0 : this.uncommittedSize - bytes;
  }

  /** Advances the commit index to what a quorum of voters has, if it is of this term (Figure 8). */
  maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends the next MsgApp to `to` if its flow control allows; with sendIfEmpty false, only if there
   * are entries to send. Falls back to a snapshot when the needed entries are compacted.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to, pr);
    let ents: Entry[] = [];
    // With a full window in replicate state only an empty MsgApp goes out: it still gets an
    // answer that frees the window (or exposes a lost message) if all in-flight ones were lost.
    if (pr.state !== "replicate" || !pr.inflights.full()) {
      if (pr.next < this.log.firstIndex()) return this.maybeSendSnapshot(to, pr);
      ents = this.log.entriesFrom(pr.next, this.cfg.maxSizePerMsg);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const commit = this.log.committed;
    this.send({ type: "app", to, index: prevIndex, logTerm: prevTerm, entries: ents, commit });
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    pr.sentEntries(ents.length, prevIndex + ents.length, bytes);
    if (commit > pr.sentCommit) pr.sentCommit = commit;
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    let snap: Snapshot;
    try {
      snap = this.log.snapshot();
    } catch {
      return false; // temporarily unavailable: retried on the next heartbeat response
    }
    if (snap.metadata.index === 0) return false;
    pr.becomeSnapshot(snap.metadata.index);
    this.send({ type: "snap", to, snapshot: snap });
    return true;
  }

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** Heartbeats to every member; the context defaults to the newest pending read (or lease tick). */
  bcastHeartbeat(context?: string): void {
    const ctx =
      context ??
      (this.cfg.readOnly === "leaseBased" ? String(this.leaderTicks) : this.readOnly.lastPendingContext());
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      // Never ahead of the follower's match: its log may not hold our entries beyond it.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: "heartbeat", to: id, commit, context: ctx });
      if (commit > pr.sentCommit) pr.sentCommit = commit;
    }
  }

  sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true;
    this.send({ type: "timeoutNow", to });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = null;
  }

  // ---- reads ----

  /** Answers a ReadIndex request with `index`: locally as a ReadState, else with readIndexResp. */
  respondToReadIndex(m: Message, index: number): void {
    if (m.from === this.id) this.readStates.push({ index, context: m.context });
    else this.send({ type: "readIndexResp", to: m.from, index, context: m.context });
  }

  /** leaseBased: a quorum acknowledged a heartbeat recent enough that no other leader can exist. */
  leaseValid(): boolean {
    if (this.role !== "leader" || this.leadTransferee !== null || this.timeoutNowSent) return false;
    if (this.trk.isSingleton()) return true;
    // One tick of margin on top of the electionTick-1 the voters' timers guarantee.
    return this.leaderTicks < this.trk.leaseQuorumTick(this.id, this.leaderTicks) + this.cfg.electionTick - 2;
  }

  // ---- membership ----

  /** Why a proposed conf change (entry data) may not be appended now, or null. */
  confChangeProposalProblem(data: Uint8Array, pendingConfIndex: number): string | null {
    const cc = tryDecodeConfChange(data);
    if (cc === undefined) return "malformed conf change";
    if (pendingConfIndex > this.log.applied) {
      return `the conf change at index ${pendingConfIndex} is not applied yet (applied ${this.log.applied})`;
    }
    if (!this.committedEntryInCurrentTerm()) return "the leader has not committed an entry of its term yet";
    return confChangeProblem(cc, this.trk.voters, this.trk.learners);
  }

  /** Applies a committed conf change to the membership (see conf-change.ts on apply-time). */
  applyConfChange(cc: ConfChange): ConfState {
    const voters = new Set(this.trk.voters);
    const learners = new Set(this.trk.learners);
    if (!applyToMembership(cc, voters, learners)) return this.trk.confState();
    this.trk.voters = voters;
    this.trk.learners = learners;
    for (const id of [...this.trk.progress.keys()]) {
      if (!voters.has(id) && !learners.has(id)) this.trk.progress.delete(id);
    }
    const next = this.log.lastIndex() + 1;
    for (const id of voters) this.trk.ensureProgress(id, next, false);
    for (const id of learners) this.trk.ensureProgress(id, next, true);
    this.isLearner = learners.has(this.id);
    const cs = this.trk.confState();
    if (this.role !== "leader") return cs;
    if (!voters.has(this.id)) {
      // Removed or demoted: the change is committed (it is being applied), so stepping down now
      // loses nothing; the remaining voters elect a leader after their election timeout.
      this.becomeFollower(this.term, null);
      return cs;
    }
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    if (this.leadTransferee !== null && !voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }
}
