// Lease deadlines for the leader's driver. The state machine has no clock, so something outside it
// must decide that a lease ran out and propose leaseExpire; this is that something, minus the
// timer: the driver injects now(), asks expired(now) when its own ticker fires (nextDeadline()
// says when), and proposes what it answers. Like etcd's lessor:
// - only the leader expires leases, and promote() restarts every lease's full TTL from the moment
//   of promotion, so a leader change (and the time it took) never expires a lease early;
// - a lease reported as expired is reported again after retryMs if no revoke or expiry for it has
//   been applied by then (the proposal may have been lost with a leader change).
// Keep-alives are replicated commands here, so a driver should refuse to propose one for a lease
// whose remainingMs() is <= 0: then, with one leader proposing in order, a renewal can never be
// applied after the expiry it was meant to prevent had already been proposed.

import { isFailure, type ApplyResult, type Command, type LeaseId } from "./types.ts";

export interface LeaseTimersOptions {
  /** Milliseconds on a monotonic clock (e.g. performance.now). */
  readonly now: () => number;
  /** How long before a lease reported by expired() is reported again. Default 3000 (etcd's retry). */
  readonly retryMs?: number;
}

interface Tracked {
  readonly ttlMs: number;
  /** When the lease runs out (leader only). */
  expiresAt: number;
  /** When expired() should look at it next: expiresAt, or a retry time once reported. */
  checkAt: number;
  /**
   * Renewed from one counter shared by all leases at every change, so that older heap entries,
   * including those of an earlier lease with the same id, are recognised as stale.
   */
  generation: number;
}

interface HeapEntry {
  readonly checkAt: number;
  readonly id: LeaseId;
  readonly generation: number;
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.checkAt < b.checkAt || (a.checkAt === b.checkAt && a.id < b.id);
}

/**
 * Tracks lease deadlines for the Raft leader's driver, with an injected clock and no timers of its
 * own. Feed it every applied lease command (observe), call promote() on becoming leader and
 * demote() on losing leadership, and propose `{ op: "leaseExpire", ids: expired(now) }`.
 */
export class LeaseTimers {
  private readonly now: () => number;
  private readonly retryMs: number;
  private readonly tracked = new Map<LeaseId, Tracked>();
  private heap: HeapEntry[] = [];
  private leader = false;
  private generations = 0;

  constructor(options: LeaseTimersOptions) {
    this.now = options.now;
    this.retryMs = options.retryMs ?? 3000;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Number of leases tracked. */
  get size(): number {
    return this.tracked.size;
  }

  /**
   * Becomes the one that expires leases: every lease's deadline becomes now + its TTL. With
   * `leases` (the state machine's leases()), the tracked set is replaced by it first, which is the
   * safe choice since a follower may not have observed every command.
   */
  promote(leases?: Iterable<{ readonly id: LeaseId; readonly ttlSeconds: number }>): void {
    if (leases !== undefined) {
      this.tracked.clear();
      for (const lease of leases) this.tracked.set(lease.id, this.fresh(lease.ttlSeconds * 1000));
    }
    this.leader = true;
    const now = this.now();
    this.heap = [];
    for (const [id, lease] of this.tracked) {
      lease.expiresAt = lease.checkAt = now + lease.ttlMs;
      lease.generation = ++this.generations;
      this.push({ checkAt: lease.checkAt, id, generation: lease.generation });
    }
  }

  /** Stops expiring leases (deadlines are forgotten; the next promote() sets new ones). */
  demote(): void {
    this.leader = false;
    this.heap = [];
  }

  /** A lease was granted: it expires ttlSeconds from now. */
  grant(id: LeaseId, ttlSeconds: number): void {
    const lease = this.fresh(ttlSeconds * 1000);
    this.tracked.set(id, lease);
    this.schedule(id, lease);
  }

  /** A keep-alive was applied: the lease expires a full TTL from now again. */
  keepAlive(id: LeaseId): void {
    const lease = this.tracked.get(id);
    if (lease === undefined) return;
    const now = this.now();
    lease.expiresAt = lease.checkAt = now + lease.ttlMs;
    lease.generation = ++this.generations;
    this.schedule(id, lease);
  }

  /** A lease was revoked or expired: forget it. */
  revoke(id: LeaseId): void {
    this.tracked.delete(id);
  }

  /** Updates the deadlines from a command the state machine has just applied, and its result. */
  observe(command: Command, result: ApplyResult): void {
    if (isFailure(result)) return;
    switch (command.op) {
      case "leaseGrant":
        this.grant(command.id, command.ttlSeconds);
        break;
      case "leaseKeepAlive":
        this.keepAlive(command.id);
        break;
      case "leaseRevoke":
        this.revoke(command.id);
        break;
      case "leaseExpire":
        // Only the leases that really went: one renewed meanwhile keeps its new deadline.
        for (const id of "expired" in result ? result.expired : command.ids) this.revoke(id);
        break;
      default:
        break;
    }
  }

  /**
   * The leases to propose for expiry at `now`: those whose deadline has passed, earliest first
   * (ties by id), at most `limit` of them. Empty unless leader. Each one reported is reported
   * again after retryMs unless its revoke or expiry is applied (or it is kept alive) meanwhile.
   */
  expired(now: number = this.now(), limit = Number.POSITIVE_INFINITY): LeaseId[] {
    const out: LeaseId[] = [];
    if (!this.leader) return out;
    while (out.length < limit) {
      const top = this.heap[0];
      if (top === undefined || top.checkAt > now) break;
      this.pop();
      const lease = this.tracked.get(top.id);
      if (lease === undefined || lease.generation !== top.generation) continue;
      out.push(top.id);
      lease.checkAt = now + this.retryMs;
      lease.generation = ++this.generations;
      this.push({ checkAt: lease.checkAt, id: top.id, generation: lease.generation });
    }
    return out;
  }

  /**
   * Milliseconds until the lease runs out (<= 0 once it has), or undefined when it is not tracked
   * or this is not the leader. A driver refuses keep-alives for leases at <= 0.
   */
  remainingMs(id: LeaseId, now: number = this.now()): number | undefined {
    const lease = this.tracked.get(id);
    if (lease === undefined || !this.leader) return undefined;
    return lease.expiresAt - now;
  }

  /** When expired() will next have something to say (for the driver's timer), or undefined. */
  nextDeadline(): number | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return undefined;
      const lease = this.tracked.get(top.id);
      if (lease !== undefined && lease.generation === top.generation) return top.checkAt;
      this.pop();
    }
  }

  private fresh(ttlMs: number): Tracked {
    const now = this.now();
    return { ttlMs, expiresAt: now + ttlMs, checkAt: now + ttlMs, generation: ++this.generations };
  }

  private schedule(id: LeaseId, lease: Tracked): void {
    if (!this.leader) return;
    this.push({ checkAt: lease.checkAt, id, generation: lease.generation });
    // Keep-alives leave stale entries behind; rebuild when they outnumber the live ones.
    if (this.heap.length > 2 * this.tracked.size + 64) this.rebuild();
  }

  private rebuild(): void {
    this.heap = [];
    for (const [id, lease] of this.tracked) this.push({ checkAt: lease.checkAt, id, generation: lease.generation });
  }

  private push(entry: HeapEntry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && before(heap[l]!, heap[smallest]!)) smallest = l;
      if (r < heap.length && before(heap[r]!, heap[smallest]!)) smallest = r;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
