// The leader's (and candidate's) bookkeeping over the current membership: the voter and learner
// sets, one Progress per member, and the votes of the current election.

import { Progress } from "./progress.ts";
import { committedIndex, hasQuorum, voteResult, type VoteResult } from "./quorum.ts";
import type { ConfState, NodeId } from "./types.ts";

export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  /** Exactly one voter: the leader can commit and serve reads on its own. */
  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  /** Adds a progress for a member that has none (match 0, probing from next). */
  ensureProgress(id: NodeId, next: number, isLearner: boolean): Progress {
    let pr = this.progress.get(id);
    if (pr === undefined) {
      pr = new Progress(next, isLearner, this.maxInflight, this.maxInflightBytes);
      pr.recentActive = true;
      this.progress.set(id, pr);
    } else {
      pr.isLearner = isLearner;
    }
    return pr;
  }

  /** Replaces the whole membership (snapshot restore); every progress starts over at `next`. */
  restore(cs: ConfState, next: number): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    this.progress.clear();
    for (const id of cs.voters) this.ensureProgress(id, next, false);
    for (const id of cs.learners) this.ensureProgress(id, next, true);
  }

  /** The largest index replicated on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match);
  }

  /** A majority of voters was heard from since the last check (self is always active). */
  quorumActive(self: NodeId): boolean {
    return hasQuorum(this.voters, (id) => id === self || this.progress.get(id)?.recentActive === true);
  }

  /** The voter-majority-th newest lease acknowledgement tick, `now` standing for self. */
  leaseQuorumTick(self: NodeId, now: number): number {
    const ticks: number[] = [];
    for (const id of this.voters) {
      ticks.push(id === self ? now : (this.progress.get(id)?.leaseAckTick ?? -Infinity));
    }
    ticks.sort((a, b) => b - a);
    return ticks[Math.floor(ticks.length / 2)] ?? -Infinity;
  }

  hasQuorum(ids: ReadonlySet<NodeId>): boolean {
    return hasQuorum(this.voters, (id) => ids.has(id));
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a vote (the first one from each member counts) and returns the election outcome. */
  recordVote(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.voters, this.votes);
  }

  tally(): { granted: number; rejected: number } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected };
  }
}
