// A snapshot of a member's Raft state for the cluster API and for the driver's decisions
// (e.g. promoting a learner once its match index has caught up).

import type { DropCounters, Raft, Role } from "./raft.ts";
import type { ProgressState } from "./progress.ts";
import type { ConfState, NodeId } from "./types.ts";

export interface PeerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly pendingSnapshot: number;
  readonly inflight: number;
}

export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly role: Role;
  readonly isLearner: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly leadTransferee: NodeId | null;
  readonly config: ConfState;
  /** Leader only (null elsewhere): every member's replication progress, itself included. */
  readonly progress: Readonly<Record<NodeId, PeerProgress>> | null;
  readonly dropped: Readonly<DropCounters>;
}

/** Builds a Status from the core's current state. */
export function statusOf(r: Raft): Status {
  let progress: Record<NodeId, PeerProgress> | null = null;
  if (r.role === "leader") {
    progress = {};
    for (const [id, pr] of r.trk.progress) {
      progress[id] = {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        isLearner: pr.isLearner,
        recentActive: pr.recentActive,
        pendingSnapshot: pr.pendingSnapshot,
        inflight: pr.inflights.length,
      };
    }
  }
  return {
    id: r.id,
    term: r.term,
    vote: r.vote,
    leader: r.lead,
    role: r.role,
    isLearner: r.isLearner,
    commit: r.log.committed,
    applied: r.log.applied,
    firstIndex: r.log.firstIndex(),
    lastIndex: r.log.lastIndex(),
    leadTransferee: r.leadTransferee,
    config: r.trk.confState(),
    progress,
    dropped: { ...r.dropped },
  };
}
