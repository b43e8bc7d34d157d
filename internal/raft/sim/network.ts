// The simulated network: batches of encoded messages with per-batch delay, loss and duplication,
// and directional blocks for symmetric and one-way partitions. Delivery order is (time, sequence),
// so long delays reorder batches.

import type { NodeId } from "../types.ts";
import type { Rng } from "./random.ts";

export interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly bytes: Uint8Array;
  readonly hasSnapshot: boolean;
}

export interface NetworkFaults {
  dropRate: number;
  dupRate: number;
  minDelay: number;
  maxDelay: number;
  /** Chance that a batch is delayed up to longDelay instead (reordering). */
  longDelayRate: number;
  longDelay: number;
}

export const CALM_NETWORK: NetworkFaults = {
  dropRate: 0,
  dupRate: 0,
  minDelay: 1,
  maxDelay: 5,
  longDelayRate: 0,
  longDelay: 0,
};

/** A binary min-heap of in-flight batches ordered by (at, seq). */
class Heap {
  private items: InFlight[] = [];

  get size(): number {
    return this.items.length;
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = t;
  }

  push(x: InFlight): void {
    this.items.push(x);
    let i = this.items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  peek(): InFlight | undefined {
    return this.items[0];
  }

  pop(): InFlight | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last !== undefined) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.items.length && this.less(l, m)) m = l;
        if (r < this.items.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export class SimNetwork {
  faults: NetworkFaults = CALM_NETWORK;
  private readonly heap = new Heap();
  private seq = 0;
  readonly blocked = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(private readonly rng: Rng) {}

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  healPartitions(): void {
    this.blocked.clear();
  }

  private delay(): number {
    const f = this.faults;
    if (f.longDelayRate > 0 && this.rng.chance(f.longDelayRate)) return this.rng.range(f.maxDelay, f.longDelay);
    return this.rng.range(f.minDelay, f.maxDelay);
  }

  /** Queues a batch; it may be dropped now (returns false) or duplicated. */
  send(now: number, from: NodeId, to: NodeId, bytes: Uint8Array, hasSnapshot: boolean): boolean {
    this.sent++;
    if (this.faults.dropRate > 0 && this.rng.chance(this.faults.dropRate)) {
      this.dropped++;
      return false;
    }
    this.heap.push({ at: now + this.delay(), seq: this.seq++, from, to, bytes, hasSnapshot });
    if (this.faults.dupRate > 0 && this.rng.chance(this.faults.dupRate)) {
      this.heap.push({ at: now + this.delay(), seq: this.seq++, from, to, bytes, hasSnapshot });
    }
    return true;
  }

  /** The next batch due at or before `now`, if any. */
  popDue(now: number): InFlight | undefined {
    const top = this.heap.peek();
    if (top === undefined || top.at > now) return undefined;
    return this.heap.pop();
  }

  get inFlight(): number {
    return this.heap.size;
  }
}
