// The Raft state machine of one member: terms, votes, roles, timers and the log, driven only by
// tick() and step(message). It never touches a clock, a disk or a socket: everything it wants done
// goes out through `msgs`, `readStates` and the log's unstable part, which RawNode packages into a
// Ready. Role-specific message handling lives in step-leader.ts and step-follower.ts.

import { confChangeProblem, tryDecodeConfChange } from "./conf-change.ts";
import type { NormalizedConfig } from "./config.ts";
import { RaftStateCorruptError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { MembershipLog } from "./membership-log.ts";
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
  /** Every configuration set by the log; the newest is in force (see conf-change.ts). */
  readonly membership: MembershipLog;
  /** Outgoing messages, sent by the driver after the Ready they come with is persisted. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId | null = null;
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
    // The snapshot's membership, then every configuration the log after it sets.
    let snapIndex = this.log.firstIndex() - 1;
    try {
      snapIndex = Math.max(snapIndex, storage.snapshot().metadata.index);
    } catch {
      // temporarily unavailable: the compaction point is the best we know
    }
    this.membership = new MembershipLog(snapIndex, confState);
    for (let lo = snapIndex + 1; lo <= this.log.lastIndex(); ) {
      const page = this.log.slice(lo, this.log.lastIndex() + 1, cfg.maxSizePerMsg);
      this.membership.append(page);
      lo += page.length;
    }
    this.switchConfig();
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
    this.campaign(t);
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
        // A leader of an older term: a delayed message, or a leader cut off while the others
        // moved on. With check-quorum/pre-vote, vote requests no longer carry terms reliably
        // (they are ignored in lease, pre-votes change no term), so answer with our term: the
        // stale leader steps down. In the other direction, a member whose term ran ahead during
        // a partition gets its term to the leader this way and forces a fresh election it can
        // join, instead of staying stuck outside the cluster.
        this.send({ type: "appResp", to: m.from });
      } else if (m.type === "preVote" || m.type === "vote") {
        // Reject with our term (Figure 2: the reply carries currentTerm "for the candidate to
        // update itself") so a candidate with a stale term catches up and can win later instead
        // of campaigning below everyone's term forever (etcd's
        // TestNodeWithSmallerTermCanCompleteElection; etcd answers only pre-votes).
        this.send({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true });
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
    const res = this.log.maybeAppend(m.index, m.logTerm, m.entries);
    if (res === "conflict") {
      this.dropped.invalid++;
      return;
    }
    if (res !== undefined) {
      const first = res.appended[0];
      if (first !== undefined) {
        // The replaced suffix takes its configurations along; the new entries bring theirs.
        this.membership.truncateFrom(first.index);
        this.membership.append(res.appended);
        this.switchConfig();
      }
      this.log.commitTo(Math.min(m.commit, res.lastNew));
      this.send({ type: "appResp", to: m.from, index: res.lastNew });
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
    this.membership.reset(index, confState);
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
    // A configuration takes effect as soon as it is in the log (thesis §4.1).
    if (this.membership.append(ents)) this.switchConfig();
    else this.maybeCommit();
    return true;
  }

  reduceUncommittedSize(bytes: number): void {
    this.uncommittedSize = bytes >= this.uncommittedSize ? 0 : this.uncommittedSize - bytes;
  }

  /**
   * Advances the commit index to what a quorum of voters has, if it is of this term (Figure 8).
   * A leader that is no longer a voter steps down once the configuration removing it commits.
   */
  maybeCommit(): boolean {
    const moved = this.log.maybeCommit(this.trk.committed(), this.term);
    if (
      moved &&
      this.role === "leader" &&
      !this.trk.voters.has(this.id) &&
      this.membership.currentIndex() <= this.log.committed
    ) {
      this.handOverAfterRemoval();
    }
    return moved;
  }

  /**
   * The configuration without this leader committed: tell everyone the commit index, hand
   * leadership to an up-to-date voter (TimeoutNow, which skips the wait for an election
   * timeout), and step down.
   */
  private handOverAfterRemoval(): void {
    this.bcastAppend();
    const last = this.log.lastIndex();
    for (const id of this.trk.voters) {
      if (this.trk.progress.get(id)?.match === last) {
        this.sendTimeoutNow(id);
        break;
      }
    }
    this.becomeFollower(this.term, null);
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
    this.dropOutgoingMembers();
  }

  /**
   * Members removed by the newest configuration keep receiving the log until it commits, so
   * that they learn of their removal (and its commitment, sent by the broadcast that precedes
   * this); then the leader forgets them.
   */
  private dropOutgoingMembers(): void {
    if (this.trk.progress.size === this.trk.voters.size + this.trk.learners.size) return;
    if (this.membership.currentIndex() > this.log.committed) return;
    for (const id of [...this.trk.progress.keys()]) {
      if (!this.trk.isMember(id) && id !== this.id) this.trk.progress.delete(id);
    }
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
  confChangeProposalProblem(data: Uint8Array, accepted: boolean): string | null {
    const cc = tryDecodeConfChange(data);
    if (cc === undefined) return "malformed conf change";
    const pending = this.membership.currentIndex();
    if (accepted || pending > this.log.committed) {
      return `the configuration change at index ${pending} is not committed yet (commit ${this.log.committed})`;
    }
    if (!this.committedEntryInCurrentTerm()) return "the leader has not committed an entry of its term yet";
    if (cc.type === "bootstrap") return "bootstrap is not a proposable change";
    return confChangeProblem(cc, this.trk.voters, this.trk.learners);
  }

  /** The membership as of log index `index` (for the driver's snapshots). */
  confStateAt(index: number): ConfState {
    return this.membership.at(index);
  }

  /** Makes the newest configuration in the log the one in force (membership, progress, roles). */
  switchConfig(): void {
    const cs = this.membership.current();
    const voters = new Set(cs.voters);
    const learners = new Set(cs.learners);
    this.trk.voters = voters;
    this.trk.learners = learners;
    // Keep replicating to members of the previous configuration until the new one commits.
    const index = this.membership.currentIndex();
    const previous = index > this.log.committed ? this.membership.at(index - 1) : null;
    const outgoing = new Set(previous === null ? [] : [...previous.voters, ...previous.learners]);
    for (const id of [...this.trk.progress.keys()]) {
      if (!voters.has(id) && !learners.has(id) && !outgoing.has(id)) this.trk.progress.delete(id);
    }
    const next = this.log.lastIndex() + 1;
    for (const id of voters) this.trk.ensureProgress(id, next, false);
    for (const id of learners) this.trk.ensureProgress(id, next, true);
    this.isLearner = learners.has(this.id);
    if (this.role !== "leader") {
      // A candidate whose configuration changed under it (it cannot append, so only through
      // a snapshot or restart) simply lets its election run out.
      return;
    }
    // A leader removed (or demoted) by the newest configuration keeps leading, without counting
    // itself, until that configuration commits (thesis §4.2.2); maybeCommit then steps it down.
    if (this.leadTransferee !== null && !voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    if (this.maybeCommit()) {
      if (this.role === "leader") this.bcastAppend();
    } else {
      for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
  }
}
