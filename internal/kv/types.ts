// The data the replicated key-value state machine takes in (commands), gives back (results), and
// lets callers read (key values, events, leases). Plain readonly data only, so that it can be
// encoded, compared and handed across the Raft driver without copies.

/** A lease id, chosen by the proposer (the leader's driver): 1 to 64 of [A-Za-z0-9._-]. */
export type LeaseId = string;

/** A key's current value and its MVCC metadata, as etcd defines them. */
export interface KeyValue {
  readonly key: string;
  /** Opaque text (JSON at the HTTP layer); the state machine does not interpret it. */
  readonly value: string;
  /** The revision at which the key was created, since its last deletion. */
  readonly createRevision: number;
  /** The revision of the key's last change. */
  readonly modRevision: number;
  /** Number of puts since creation: 1 after the first. */
  readonly version: number;
  /** The lease the key is attached to, if any. */
  readonly lease?: LeaseId;
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface PutCommand {
  readonly op: "put";
  readonly key: string;
  readonly value: string;
  /** Attach the key to this lease (which must exist); a put without a lease detaches it, as in etcd. */
  readonly lease?: LeaseId;
  /** Compare-and-set on the key's modRevision; 0 = create only (the key must not exist). */
  readonly ifModRevision?: number;
}

export interface DeleteCommand {
  readonly op: "delete";
  readonly key: string;
  /** Compare-and-set on the key's modRevision; 0 = only if absent (then nothing is deleted). */
  readonly ifModRevision?: number;
}

export interface LeaseGrantCommand {
  readonly op: "leaseGrant";
  readonly id: LeaseId;
  readonly ttlSeconds: number;
}

export interface LeaseRevokeCommand {
  readonly op: "leaseRevoke";
  readonly id: LeaseId;
}

export interface LeaseKeepAliveCommand {
  readonly op: "leaseKeepAlive";
  readonly id: LeaseId;
}

/** Proposed by the leader's driver when LeaseTimers says these leases ran out; unknown ids are skipped. */
export interface LeaseExpireCommand {
  readonly op: "leaseExpire";
  readonly ids: readonly LeaseId[];
  /**
   * Each lease's renewal count as the proposer saw it (parallel to ids). A lease renewed after
   * that, by a keep-alive ordered before this command in the log, is not expired: without this a
   * renewal that raced with the expiry would be lost.
   */
  readonly renewals?: readonly number[];
}

/** Drops history (key history and event log) older than `revision`. */
export interface CompactCommand {
  readonly op: "compact";
  readonly revision: number;
}

export type Command =
  | PutCommand
  | DeleteCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseKeepAliveCommand
  | LeaseExpireCommand
  | CompactCommand;

export type CommandOp = Command["op"];

// ---------------------------------------------------------------------------------------------
// Results. Every success carries `revision`: the store revision after the command (like an etcd
// response header). Failures carry `failed` and change nothing.

export interface PutResult {
  readonly op: "put";
  readonly revision: number;
}

export interface DeleteResult {
  readonly op: "delete";
  readonly revision: number;
  /** False when the key was absent: then the revision did not move. */
  readonly deleted: boolean;
}

export interface LeaseGrantResult {
  readonly op: "leaseGrant";
  readonly revision: number;
  readonly id: LeaseId;
  readonly ttlSeconds: number;
}

export interface LeaseRevokeResult {
  readonly op: "leaseRevoke";
  readonly revision: number;
  /** The keys deleted with the lease, sorted; all deleted at `revision` (unchanged when empty). */
  readonly deletedKeys: readonly string[];
}

export interface LeaseKeepAliveResult {
  readonly op: "leaseKeepAlive";
  readonly revision: number;
  readonly id: LeaseId;
  readonly ttlSeconds: number;
}

export interface LeaseExpireResult {
  readonly op: "leaseExpire";
  readonly revision: number;
  /** The leases that existed and are now gone, in command order (duplicates and unknown ids dropped). */
  readonly expired: readonly LeaseId[];
  /** The keys deleted with them, sorted; all deleted at `revision`. */
  readonly deletedKeys: readonly string[];
}

export interface CompactResult {
  readonly op: "compact";
  readonly revision: number;
  readonly compactRevision: number;
}

export type SuccessResult =
  | PutResult
  | DeleteResult
  | LeaseGrantResult
  | LeaseRevokeResult
  | LeaseKeepAliveResult
  | LeaseExpireResult
  | CompactResult;

/** A compare-and-set whose ifModRevision did not match; `currentModRevision` is 0 for an absent key. */
export interface CompareFailure {
  readonly failed: "compare";
  readonly currentModRevision: number;
}

/** The command's bytes or fields are invalid (bad encoding, bad key, bad number). */
export interface MalformedFailure {
  readonly failed: "malformed";
  readonly reason: string;
}

export interface LeaseNotFoundFailure {
  readonly failed: "leaseNotFound";
  readonly id: LeaseId;
}

export interface LeaseExistsFailure {
  readonly failed: "leaseExists";
  readonly id: LeaseId;
}

/** compact to a revision at or below the current compaction point. */
export interface CompactedFailure {
  readonly failed: "compacted";
  readonly compactRevision: number;
}

/** compact to a revision that does not exist yet. */
export interface FutureRevisionFailure {
  readonly failed: "futureRevision";
  readonly currentRevision: number;
}

export type Failure =
  | CompareFailure
  | MalformedFailure
  | LeaseNotFoundFailure
  | LeaseExistsFailure
  | CompactedFailure
  | FutureRevisionFailure;

export type ApplyResult = SuccessResult | Failure;

/** What applying each kind of command can answer. */
export interface ResultMap {
  put: PutResult | CompareFailure | LeaseNotFoundFailure | MalformedFailure;
  delete: DeleteResult | CompareFailure | MalformedFailure;
  leaseGrant: LeaseGrantResult | LeaseExistsFailure | MalformedFailure;
  leaseRevoke: LeaseRevokeResult | LeaseNotFoundFailure | MalformedFailure;
  leaseKeepAlive: LeaseKeepAliveResult | LeaseNotFoundFailure | MalformedFailure;
  leaseExpire: LeaseExpireResult | MalformedFailure;
  compact: CompactResult | CompactedFailure | FutureRevisionFailure | MalformedFailure;
}

export type ResultOf<C extends Command> = ResultMap[C["op"]];

export function isFailure(result: ApplyResult): result is Failure {
  return "failed" in result;
}

// ---------------------------------------------------------------------------------------------
// Events and reads

export interface PutEvent {
  readonly type: "put";
  readonly key: string;
  readonly value: string;
  /** The revision of the change, which is also the key's modRevision. */
  readonly revision: number;
  readonly createRevision: number;
  readonly version: number;
  readonly lease?: LeaseId;
  /** The value this put replaced, when the key existed. */
  readonly prevValue?: string;
}

export interface DeleteEvent {
  readonly type: "delete";
  readonly key: string;
  readonly revision: number;
  /** The value deleted. */
  readonly prevValue?: string;
}

/** One change, as watchers and history(key) see it. Several events may share one revision. */
export type KvEvent = PutEvent | DeleteEvent;

/** Called synchronously after an apply that produced events, with all of them (one revision). */
export type EventListener = (events: readonly KvEvent[]) => void;

export interface RangeResult {
  /** Every live key under the prefix, sorted by key (UTF-8 byte order; keys are ASCII). */
  readonly items: readonly KeyValue[];
  /** The store revision the range was read at. */
  readonly revision: number;
}

export interface LeaseInfo {
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  /** Keys attached to the lease, sorted. */
  readonly keys: readonly string[];
  /** How many leaseKeepAlive commands have been applied to it. */
  readonly renewals: number;
}

export interface KvStats {
  readonly keys: number;
  readonly leases: number;
  /** Events held in the event log (since the compaction revision). */
  readonly retainedEvents: number;
  readonly currentRevision: number;
  readonly compactRevision: number;
}
