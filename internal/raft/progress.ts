// The leader's view of one follower's log (Raft thesis §10.2.1 and etcd's tracker): what matches,
// what to send next, and how (probe one message at a time, pipeline optimistically, or wait for a
// snapshot).

import { Inflights } from "./inflights.ts";

/**
 * probe: the leader does not know where the follower's log ends; it sends one MsgApp per heartbeat
 * interval and waits for the answer. replicate: the follower is known to match up to `match`; the
 * leader pipelines entries optimistically (next jumps ahead of match) within the inflight limits.
 * snapshot: the follower needs a snapshot; nothing is sent until the driver reports its outcome.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round (or just added). */
  recentActive = false;
  /** Probe state: a probe is outstanding. Replicate: the inflight window is full. */
  msgAppFlowPaused = false;
  /** The highest commit index sent to this follower. */
  sentCommit = 0;
  /** leaseBased reads: the leader tick of the newest heartbeat this follower acknowledged. */
  leaseAckTick = -Infinity;
  readonly inflights: Inflights;

  constructor(
    next: number,
    public isLearner: boolean,
    maxInflight: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  /** Resets to the state of a newly elected leader's view: probing from `next`. */
  reset(next: number, match: number): void {
    this.match = match;
    this.next = next;
    this.state = "probe";
    this.pendingSnapshot = 0;
    this.recentActive = false;
    this.msgAppFlowPaused = false;
    this.sentCommit = 0;
    this.leaseAckTick = -Infinity;
    this.inflights.reset();
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records a MsgApp sent with `entries` entries ending at lastIndex, of `bytes` total. */
  sentEntries(entries: number, lastIndex: number, bytes: number): void {
    if (this.state === "replicate") {
      if (entries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else {
      // Every MsgApp in probe state is a probe: wait for its answer (or the next heartbeat).
      this.msgAppFlowPaused = true;
    }
  }

  /** An acknowledgement up to n: returns true if match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * A rejection of the MsgApp whose previous index was `rejected`, with the follower's hint.
   * Returns false if the rejection is stale (answers an older probe) and was ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** No MsgApp may be sent now (probe outstanding, window full, or snapshot in flight). */
  isPaused(): boolean {
    return this.state === "snapshot" || this.msgAppFlowPaused;
  }
}
