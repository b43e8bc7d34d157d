// The one interface behind which the control plane keeps its durable state: the integrated Raft
// store (--store raft) and an existing etcd cluster (--store etcd). Both pass the same
// conformance suite (conformance.ts), so everything above this line is backend-agnostic.

import type { KeyValue } from "../kv/types.ts";

/** A key's current value and its MVCC metadata, as etcd defines them: the state machine's own shape. */
export type { KeyValue };

/** linearizable: reflects every write acknowledged before the read began. serializable: a member's local copy, possibly stale. */
export type Consistency = "linearizable" | "serializable";

export interface PutOptions {
  /** Compare-and-set: the write happens only if the key's modRevision equals this; 0 = only if absent. */
  readonly ifModRevision?: number;
  /** Attach the key to a lease; it is deleted when the lease expires or is revoked. */
  readonly lease?: string;
}

export interface DeleteOptions {
  readonly ifModRevision?: number;
}

/** One change, as a watcher and the history see it. */
export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  /** The new value for a put; absent for a delete. */
  readonly value?: string;
  /** The revision of the change (several events may share one, e.g. a lease expiry). */
  readonly revision: number;
}

export interface WatchHandlers {
  /** Every event of one revision at once, in order; revisions arrive in increasing order. */
  onEvents(events: readonly WatchEvent[]): void;
  /** The watch ended abnormally (the store closed, or the history it needs was compacted). */
  onError(error: Error): void;
}

export interface Watch {
  /** Stops delivery; no handler is called after this resolves. */
  cancel(): Promise<void>;
}

export interface ListResult {
  readonly items: readonly KeyValue[];
  /** The store revision the list was read at. */
  readonly revision: number;
}

export interface MemberStatus {
  readonly id: string;
  readonly url: string;
  readonly role: "leader" | "follower" | "candidate" | "learner" | "unknown";
  /** Known for the member answering (its own indexes). */
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Known when the member answering leads: how far this member's log matches the leader's. */
  readonly matchIndex?: number;
}

export interface StoreStatus {
  readonly kind: "raft" | "etcd";
  readonly leader: string | null;
  readonly term: number;
  readonly revision: number;
  readonly members: readonly MemberStatus[];
}

/** Run-time membership changes; only the integrated Raft store has them (etcd's are made with etcdctl). */
export interface ClusterAdmin {
  /** Adds a member; a learner first receives the log and is promoted to voter once it has caught up. */
  addMember(id: string, url: string): Promise<void>;
  removeMember(id: string): Promise<void>;
  /** Hands leadership to `to` (or to the most caught-up voter); answers the new leader. */
  transferLeadership(to?: string): Promise<string>;
}

/**
 * The control plane's durable, replicated key-value store. Keys are validated by `validateKey`
 * before they reach a backend. Errors are the named classes in errors.ts.
 */
export interface Store {
  readonly kind: "raft" | "etcd";
  get(key: string, consistency?: Consistency): Promise<KeyValue | undefined>;
  /** Every key under `prefix` ("" = all), sorted by key. */
  list(prefix: string, consistency?: Consistency): Promise<ListResult>;
  /** Resolves once the write is committed. Throws PreconditionFailedError when ifModRevision does not hold. */
  put(key: string, value: string, options?: PutOptions): Promise<{ revision: number }>;
  /** Throws PreconditionFailedError when ifModRevision does not hold; `deleted` is false when the key was absent. */
  delete(key: string, options?: DeleteOptions): Promise<{ revision: number; deleted: boolean }>;
  /** The key's changes still retained (back to the last compaction), oldest first. */
  history(key: string): Promise<readonly WatchEvent[]>;
  /**
   * Delivers every change under `prefix` from `fromRevision` on (or from now on when omitted).
   * Throws CompactedError when fromRevision is older than the retained history and
   * FutureRevisionError when it is beyond the next revision.
   */
  watch(prefix: string, fromRevision: number | undefined, handlers: WatchHandlers): Promise<Watch>;
  /** A lease that expires `ttlSeconds` after its last keep-alive; answers its id. */
  grantLease(ttlSeconds: number): Promise<string>;
  /** Renews a lease; answers its TTL. Throws LeaseNotFoundError when it has expired. */
  keepAlive(lease: string): Promise<number>;
  revokeLease(lease: string): Promise<void>;
  /** Drops history before `revision`. */
  compact(revision: number): Promise<void>;
  status(): Promise<StoreStatus>;
  /** Why this member cannot serve consistent requests now (no leader, catching up, backend unreachable), or undefined. Cheap: called on every /readyz. */
  notReadyReason(): string | undefined;
  readonly cluster?: ClusterAdmin;
  /**
   * A self-describing backup file of the whole state, holding every write acknowledged before the
   * call; only the integrated Raft store has one (etcd's is taken with etcdctl snapshot save).
   */
  backup?(): Promise<Uint8Array>;
  close(): Promise<void>;
}
