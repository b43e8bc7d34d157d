// The replicated key-value state machine that every Raft member applies in log order. Pure and
// deterministic: no clock, timer, randomness, disk or network, and nothing in its state depends on
// Map or Set iteration order, so the same sequence of apply() calls yields byte-identical snapshots
// on every member. Time enters only as commands: the leader's driver decides that a lease ran out
// (LeaseTimers) and proposes leaseExpire, exactly as etcd's lessor proposes a LeaseRevoke.
//
// Revisions follow etcd's MVCC: the revision moves by one for each command that changes keys (a put,
// a delete of a present key, a lease revoke or expiry that deletes keys, however many: one revision
// with several events, like an etcd txn). Lease grants, keep-alives and compaction change no key and
// leave it where it is.

import { commandProblem, decodeCommand } from "./codec.ts";
import { CompactedError, FutureRevisionError, MalformedCommandError } from "./errors.ts";
import { SortedKeySet } from "./sorted-key-set.ts";
import { decodeSnapshot, deleteEvent, encodeSnapshot, putEvent, type SnapshotState } from "./snapshot.ts";
import type {
  ApplyResult,
  Command,
  CompactCommand,
  DeleteCommand,
  EventListener,
  KeyValue,
  KvEvent,
  KvStats,
  LeaseId,
  LeaseInfo,
  PutCommand,
  PutEvent,
  RangeResult,
  ResultMap,
  ResultOf,
} from "./types.ts";

interface LeaseRecord {
  readonly ttlSeconds: number;
  renewals: number;
  /** Attached keys. Iteration order is never relied on: revocation sorts them. */
  readonly keys: Set<string>;
}

interface State {
  revision: number;
  compactRevision: number;
  /** Live keys; each KeyValue is immutable and replaced on change, so reads may hand it out. */
  readonly keys: Map<string, KeyValue>;
  /** The same keys, in order, for prefix ranges. */
  readonly order: SortedKeySet;
  readonly leases: Map<LeaseId, LeaseRecord>;
  /** Every event with revision >= compactRevision, in revision order. */
  events: KvEvent[];
  /**
   * Per key, oldest first: its events since the compaction revision, preceded by the put that was
   * its value at the compaction point when there was one. Shares event objects with `events`.
   */
  readonly histories: Map<string, KvEvent[]>;
}

function emptyState(): State {
  return {
    revision: 0,
    compactRevision: 0,
    keys: new Map(),
    order: new SortedKeySet(),
    leases: new Map(),
    events: [],
    histories: new Map(),
  };
}

export interface KvStateMachineOptions {
  /**
   * Receives an exception thrown by an event listener. A listener cannot fail an apply that has
   * already happened on every member, so its error is handed here instead. Default: rethrown from
   * a microtask, i.e. an uncaught error.
   */
  readonly onListenerError?: (error: unknown) => void;
}

/**
 * An etcd-like MVCC key-value store as a deterministic state machine: apply() takes commands in
 * Raft log order and answers results; the reads (get, range, history, eventsSince, leases) are
 * local and synchronous; listeners see each apply's events as soon as it has happened.
 */
export class KvStateMachine {
  private s: State = emptyState();
  private listeners: EventListener[] = [];
  private applying = false;
  private readonly onListenerError: (error: unknown) => void;

  constructor(options: KvStateMachineOptions = {}) {
    this.onListenerError =
      options.onListenerError ??
      ((error) =>
        queueMicrotask(() => {
          throw error;
        }));
  }

  // -------------------------------------------------------------------------------------------
  // Applying commands

  /**
   * Applies one command: the bytes of a Raft log entry (encodeCommand) or a command object. Never
   * throws for a bad command: invalid bytes or fields answer a `malformed` failure, a failed
   * precondition a `compare`, `leaseNotFound`, ... failure, and a failure changes nothing. Throws
   * only when called from inside an event listener (a re-entrant apply would break ordering).
   */
  apply(entry: Uint8Array): ApplyResult;
  apply<C extends Command>(command: C): ResultOf<C>;
  apply(input: Uint8Array | Command): ApplyResult;
  apply(input: Uint8Array | Command): ApplyResult {
    if (this.applying) throw new Error("KvStateMachine.apply called from an event listener");
    let command: Command;
    if (input instanceof Uint8Array) {
      try {
        command = decodeCommand(input);
      } catch (error) {
        if (error instanceof MalformedCommandError) return { failed: "malformed", reason: error.reason };
        throw error;
      }
    } else {
      const problem = commandProblem(input);
      if (problem !== undefined) return { failed: "malformed", reason: problem };
      command = input;
    }
    this.applying = true;
    try {
      const [result, events] = this.execute(command);
      if (events.length > 0) this.emit(events);
      return result;
    } finally {
      this.applying = false;
    }
  }

  private execute(command: Command): [ApplyResult, KvEvent[]] {
    switch (command.op) {
      case "put":
        return this.put(command);
      case "delete":
        return this.delete(command);
      case "leaseGrant": {
        const s = this.s;
        if (s.leases.has(command.id)) return [{ failed: "leaseExists", id: command.id }, []];
        s.leases.set(command.id, { ttlSeconds: command.ttlSeconds, renewals: 0, keys: new Set() });
        return [{ op: "leaseGrant", revision: s.revision, id: command.id, ttlSeconds: command.ttlSeconds }, []];
      }
      case "leaseRevoke": {
        if (!this.s.leases.has(command.id)) return [{ failed: "leaseNotFound", id: command.id }, []];
        const events = this.removeLeases([command.id]);
        return [{ op: "leaseRevoke", revision: this.s.revision, deletedKeys: events.map((e) => e.key) }, events];
      }
      case "leaseKeepAlive": {
        const lease = this.s.leases.get(command.id);
        if (lease === undefined) return [{ failed: "leaseNotFound", id: command.id }, []];
        lease.renewals++;
        return [{ op: "leaseKeepAlive", revision: this.s.revision, id: command.id, ttlSeconds: lease.ttlSeconds }, []];
      }
      case "leaseExpire": {
        const expired: LeaseId[] = [];
        command.ids.forEach((id, i) => {
          const lease = this.s.leases.get(id);
          if (lease === undefined || expired.includes(id)) return;
          // Renewed since the proposer decided it ran out: the keep-alive wins.
          const seen = command.renewals?.[i];
          if (seen !== undefined && lease.renewals !== seen) return;
          expired.push(id);
        });
        const events = this.removeLeases(expired);
        return [{ op: "leaseExpire", revision: this.s.revision, expired, deletedKeys: events.map((e) => e.key) }, events];
      }
      case "compact":
        return [this.compact(command), []];
    }
  }

  private put(command: PutCommand): [ResultMap["put"], KvEvent[]] {
    const s = this.s;
    const { key, value, lease } = command;
    const current = s.keys.get(key);
    if (command.ifModRevision !== undefined && (current?.modRevision ?? 0) !== command.ifModRevision) {
      return [{ failed: "compare", currentModRevision: current?.modRevision ?? 0 }, []];
    }
    const attachTo = lease === undefined ? undefined : s.leases.get(lease);
    if (lease !== undefined && attachTo === undefined) return [{ failed: "leaseNotFound", id: lease }, []];

    const revision = s.revision + 1;
    const createRevision = current === undefined ? revision : current.createRevision;
    const version = current === undefined ? 1 : current.version + 1;
    const kv: KeyValue =
      lease === undefined
        ? { key, value, createRevision, modRevision: revision, version }
        : { key, value, createRevision, modRevision: revision, version, lease };
    if (current === undefined) s.order.add(key);
    else if (current.lease !== undefined && current.lease !== lease) s.leases.get(current.lease)?.keys.delete(key);
    attachTo?.keys.add(key);
    s.keys.set(key, kv);
    const events = [putEvent(key, value, revision, createRevision, version, lease, current?.value)];
    this.record(revision, events);
    return [{ op: "put", revision }, events];
  }

  private delete(command: DeleteCommand): [ResultMap["delete"], KvEvent[]] {
    const s = this.s;
    const current = s.keys.get(command.key);
    if (command.ifModRevision !== undefined && (current?.modRevision ?? 0) !== command.ifModRevision) {
      return [{ failed: "compare", currentModRevision: current?.modRevision ?? 0 }, []];
    }
    if (current === undefined) return [{ op: "delete", revision: s.revision, deleted: false }, []];
    const revision = s.revision + 1;
    const events = [this.removeKey(current, revision)];
    this.record(revision, events);
    return [{ op: "delete", revision, deleted: true }, events];
  }

  /** Drops the leases and deletes their keys, in key order, all at one new revision. */
  private removeLeases(ids: readonly LeaseId[]): KvEvent[] {
    const s = this.s;
    const doomed: string[] = [];
    for (const id of ids) {
      const lease = s.leases.get(id);
      if (lease === undefined) continue;
      for (const key of lease.keys) doomed.push(key);
      s.leases.delete(id);
    }
    if (doomed.length === 0) return [];
    doomed.sort();
    const revision = s.revision + 1;
    const events = doomed.map((key) => this.removeKey(s.keys.get(key)!, revision));
    this.record(revision, events);
    return events;
  }

  private removeKey(kv: KeyValue, revision: number): KvEvent {
    const s = this.s;
    s.keys.delete(kv.key);
    s.order.delete(kv.key);
    if (kv.lease !== undefined) s.leases.get(kv.lease)?.keys.delete(kv.key);
    return deleteEvent(kv.key, revision, kv.value);
  }

  /** Appends one revision's events to the log and the keys' histories. */
  private record(revision: number, events: readonly KvEvent[]): void {
    const s = this.s;
    s.revision = revision;
    for (const event of events) {
      s.events.push(event);
      const history = s.histories.get(event.key);
      if (history === undefined) s.histories.set(event.key, [event]);
      else history.push(event);
    }
  }

  private compact(command: CompactCommand): ResultMap["compact"] {
    const s = this.s;
    const target = command.revision;
    if (target <= s.compactRevision) return { failed: "compacted", compactRevision: s.compactRevision };
    if (target > s.revision) return { failed: "futureRevision", currentRevision: s.revision };
    const cut = firstEventAtOrAfter(s.events, target);
    // Only keys with events in the dropped stretch, or at the target itself, can hold history the
    // target makes unnecessary; any other key's one carried entry is still its value at the target.
    const touched = new Set<string>();
    for (let i = 0; i < s.events.length && (i < cut || s.events[i]!.revision === target); i++) touched.add(s.events[i]!.key);
    for (const key of touched) {
      const history = s.histories.get(key)!;
      let keep = 0;
      while (keep < history.length && history[keep]!.revision < target) keep++;
      // The value the key had at the compaction point stays readable, as in etcd.
      const changedAtTarget = history[keep]?.revision === target;
      if (keep > 0 && !changedAtTarget && history[keep - 1]!.type === "put") keep--;
      if (keep === history.length) s.histories.delete(key);
      else if (keep > 0) history.splice(0, keep);
    }
    s.events = s.events.slice(cut);
    s.compactRevision = target;
    return { op: "compact", revision: s.revision, compactRevision: target };
  }

  private emit(events: readonly KvEvent[]): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(events);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** The store revision: the revision of the last change to any key (0 before the first). */
  get currentRevision(): number {
    return this.s.revision;
  }

  /** Events and history older than this have been dropped (0 = nothing compacted). */
  get compactRevision(): number {
    return this.s.compactRevision;
  }

  /** A key's current value and metadata, or undefined when absent. O(1). */
  get(key: string): KeyValue | undefined {
    return this.s.keys.get(key);
  }

  /** Every live key starting with `prefix` ("" = all), sorted. O(log n + matches). */
  range(prefix = ""): RangeResult {
    const { keys, order, revision } = this.s;
    const items: KeyValue[] = [];
    order.forEachFrom(prefix, (key) => {
      if (!key.startsWith(prefix)) return false;
      items.push(keys.get(key)!);
    });
    return { items, revision };
  }

  /**
   * A key's retained changes, oldest first: every put and delete since the compaction revision,
   * preceded by the value it had at the compaction point when it had one. The last entry is the
   * current value unless the key is deleted. Empty for a key never written since compaction.
   */
  history(key: string): KvEvent[] {
    return [...(this.s.histories.get(key) ?? [])];
  }

  /**
   * Every retained event with revision >= fromRevision whose key starts with `prefix`, in order.
   * fromRevision = currentRevision + 1 answers nothing yet. Throws CompactedError when fromRevision
   * is below compactRevision and FutureRevisionError when it is beyond currentRevision + 1.
   */
  eventsSince(fromRevision: number, prefix = ""): KvEvent[] {
    const s = this.s;
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 0) {
      throw new RangeError(`fromRevision must be a non-negative integer, got ${fromRevision}`);
    }
    if (fromRevision < s.compactRevision) throw new CompactedError(fromRevision, s.compactRevision);
    if (fromRevision > s.revision + 1) throw new FutureRevisionError(fromRevision, s.revision);
    const events = s.events;
    const out: KvEvent[] = [];
    for (let i = firstEventAtOrAfter(events, fromRevision); i < events.length; i++) {
      const event = events[i]!;
      if (prefix === "" || event.key.startsWith(prefix)) out.push(event);
    }
    return out;
  }

  /**
   * Calls `listener` synchronously after every apply that changed keys, with all of that apply's
   * events (one revision). Answers the function that unsubscribes. Listeners are not called for
   * restore(): a watcher spanning a restore resumes with eventsSince.
   */
  subscribe(listener: EventListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * A watcher under `prefix`: first the retained events since `fromRevision` (omitted = from now
   * on), one call per revision, then every new revision's matching events as they are applied,
   * with no gap or repeat between the two. Throws like eventsSince. Answers the cancel function.
   */
  watch(prefix: string, fromRevision: number | undefined, listener: EventListener): () => void {
    if (fromRevision !== undefined) {
      // A listener may apply while it catches up; loop until nothing newer is left.
      let next = fromRevision;
      do {
        const backlog = this.eventsSince(next, prefix);
        next = this.s.revision + 1;
        for (const batch of byRevision(backlog)) listener(batch);
      } while (next <= this.s.revision);
    }
    return this.subscribe((events) => {
      if (prefix === "") return listener(events);
      const matching = events.filter((e) => e.key.startsWith(prefix));
      if (matching.length > 0) listener(matching);
    });
  }

  /** Every lease, sorted by id, with its attached keys sorted. */
  leases(): LeaseInfo[] {
    return [...this.s.leases.keys()].sort().map((id) => this.lease(id)!);
  }

  lease(id: LeaseId): LeaseInfo | undefined {
    const lease = this.s.leases.get(id);
    if (lease === undefined) return undefined;
    return { id, ttlSeconds: lease.ttlSeconds, keys: [...lease.keys].sort(), renewals: lease.renewals };
  }

  stats(): KvStats {
    const s = this.s;
    return {
      keys: s.keys.size,
      leases: s.leases.size,
      retainedEvents: s.events.length,
      currentRevision: s.revision,
      compactRevision: s.compactRevision,
    };
  }

  /**
   * A retention policy for the driver: the revision to propose in a compact command so that the
   * last `keepRevisions` revisions stay watchable (compacting at currentRevision - keepRevisions),
   * or undefined while that would drop fewer than `minStep` revisions. Compaction itself happens
   * only through the replicated command, so every member drops the same history.
   */
  suggestCompaction(keepRevisions: number, minStep = 1): number | undefined {
    const target = this.s.revision - keepRevisions;
    if (target <= this.s.compactRevision || target - this.s.compactRevision < minStep) return undefined;
    return target;
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots

  /** The complete state as canonical bytes (see snapshot.ts); equal states give equal bytes. */
  snapshot(): Uint8Array {
    const s = this.s;
    const keys: KeyValue[] = [];
    s.order.forEachFrom("", (key) => {
      keys.push(s.keys.get(key)!);
    });
    const carried: PutEvent[] = [];
    for (const key of [...s.histories.keys()].sort()) {
      const first = s.histories.get(key)![0]!;
      if (first.revision < s.compactRevision && first.type === "put") carried.push(first);
    }
    const state: SnapshotState = {
      revision: s.revision,
      compactRevision: s.compactRevision,
      leases: [...s.leases.keys()].sort().map((id) => {
        const lease = s.leases.get(id)!;
        return { id, ttlSeconds: lease.ttlSeconds, renewals: lease.renewals };
      }),
      keys,
      carried,
      events: s.events,
    };
    return encodeSnapshot(state);
  }

  /**
   * Replaces the whole state with a snapshot's. Throws SnapshotFormatError, leaving the state as
   * it was, when the bytes are not a valid snapshot. Listeners stay subscribed but are not called.
   */
  restore(bytes: Uint8Array): void {
    if (this.applying) throw new Error("KvStateMachine.restore called from an event listener");
    const snapshot = decodeSnapshot(bytes);
    const s = emptyState();
    s.revision = snapshot.revision;
    s.compactRevision = snapshot.compactRevision;
    for (const lease of snapshot.leases) {
      s.leases.set(lease.id, { ttlSeconds: lease.ttlSeconds, renewals: lease.renewals, keys: new Set() });
    }
    for (const kv of snapshot.keys) {
      s.keys.set(kv.key, kv);
      s.order.add(kv.key);
      if (kv.lease !== undefined) s.leases.get(kv.lease)!.keys.add(kv.key);
    }
    for (const event of snapshot.carried) s.histories.set(event.key, [event]);
    s.events = [...snapshot.events];
    for (const event of s.events) {
      const history = s.histories.get(event.key);
      if (history === undefined) s.histories.set(event.key, [event]);
      else history.push(event);
    }
    this.s = s;
  }
}

/** Index of the first event with revision >= revision. */
function firstEventAtOrAfter(events: readonly KvEvent[], revision: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.revision < revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function* byRevision(events: readonly KvEvent[]): Generator<KvEvent[]> {
  let batch: KvEvent[] = [];
  for (const event of events) {
    if (batch.length > 0 && batch[0]!.revision !== event.revision) {
      yield batch;
      batch = [];
    }
    batch.push(event);
  }
  if (batch.length > 0) yield batch;
}
