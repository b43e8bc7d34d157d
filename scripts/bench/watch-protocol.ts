// The messages between scripts/bench/watch.ts and its client processes (watch-clients.ts), and
// the one clock both sides timestamp with.

/** Which kind of watcher a client process opens. */
export type WatchedKind = "nagent" | "etcd";

/** What a client process is asked to watch: clients `first`..`first + count - 1` of the run. */
export interface WatchAssignment {
  readonly kind: WatchedKind;
  /** Client URLs of the members; client number g connects to `endpoints[g % endpoints.length]`. */
  readonly endpoints: readonly string[];
  /** Nagent only: the bearer token of the API. */
  readonly token: string;
  /** The prefix as the watch reports keys (`config/bench/`). */
  readonly prefix: string;
  readonly first: number;
  readonly count: number;
  /** etcd only: watchers multiplexed on one Etcd3 instance (one gRPC connection). */
  readonly watchersPerEtcdClient: number;
}

/** What one watching client saw: every put event's revision and arrival time, in order. */
export interface ClientRecord {
  readonly member: number;
  ready: boolean;
  readonly revisions: number[];
  readonly arrivals: number[];
}

export type ParentMessage =
  | { readonly id: number; readonly type: "start"; readonly assignment: WatchAssignment }
  | { readonly id: number; readonly type: "clock"; readonly sentAt: number }
  | { readonly id: number; readonly type: "progress" }
  | { readonly id: number; readonly type: "lag" }
  | { readonly id: number; readonly type: "report" };

export interface Progress {
  readonly ready: number;
  readonly delivered: number;
  readonly problems: number;
}

export interface Report {
  readonly clients: readonly ClientRecord[];
  /** Anything a client should never see: a refused stream, an error event, a stream that ended. */
  readonly problems: readonly string[];
  /** How many Etcd3 instances (gRPC connections) the process used; 0 for nagent. */
  readonly etcdClients: number;
}

export type ChildMessage =
  | { readonly id: number; readonly type: "start" }
  | { readonly id: number; readonly type: "clock"; readonly receivedAt: number }
  | ({ readonly id: number; readonly type: "progress" } & Progress)
  /** The worst event-loop lag since the previous `lag` request (which it resets), ms. */
  | { readonly id: number; readonly type: "lag"; readonly maxMs: number }
  | ({ readonly id: number; readonly type: "report" } & Report);

/**
 * Milliseconds on the machine's wall clock with sub-millisecond resolution. Every process of the
 * run uses this, so a write acknowledged in the parent and an event received in a client process
 * are timestamped on the same clock (timeOrigin is the wall clock at process start, now() the
 * monotonic time since).
 */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}
