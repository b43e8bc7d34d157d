// Running totals over every sidecar's counters, kept monotonic whatever the sidecars do: a counter
// that goes back (a restarted sidecar) is read as starting again from zero, and a node seen for
// the first time counts only what it serves from then on (unless it started after the aggregator,
// when everything it counted is new). A history of snapshots, one per cycle, turns the totals into
// rates, ratios and percentiles over the window.
import { BUCKETS, Tally, type SidecarReading } from "./readings.ts";

/** Totals at one moment: the cluster, cross-node calls, each domain and each node. */
export interface Snapshot {
  readonly at: number;
  readonly cluster: Tally;
  readonly crossNode: Tally;
  readonly domains: ReadonlyMap<string, Tally>;
  readonly nodes: ReadonlyMap<string, Tally>;
}

function copy(tally: Tally): Tally {
  const out = new Tally();
  out.count = tally.count;
  out.errors = tally.errors;
  out.sum = tally.sum;
  out.buckets.set(tally.buckets);
  return out;
}

/** a - b, field by field (b may be missing: zero). */
export function minus(a: Tally, b: Tally | undefined): Tally {
  const out = copy(a);
  if (b === undefined) return out;
  out.count -= b.count;
  out.errors -= b.errors;
  out.sum -= b.sum;
  for (let i = 0; i < BUCKETS; i++) out.buckets[i]! -= b.buckets[i]!;
  return out;
}

function add(target: Tally, delta: Tally): void {
  target.count += delta.count;
  target.errors += delta.errors;
  target.sum += delta.sum;
  for (let i = 0; i < BUCKETS; i++) target.buckets[i]! += delta.buckets[i]!;
}

/** The change from `previous` to `current`, or all of `current` when the counter went back. */
function delta(current: Tally, previous: Tally | undefined, restarted: boolean): Tally {
  if (previous === undefined || restarted || current.count < previous.count || current.sum < previous.sum) return copy(current);
  return minus(current, previous);
}

export class Totals {
  readonly cluster = new Tally();
  readonly crossNode = new Tally();
  readonly domains = new Map<string, Tally>();
  readonly nodes = new Map<string, Tally>();
  readonly #last = new Map<string, SidecarReading>();

  /** @param startedAt epoch seconds when the aggregator started (a node started later is counted whole). */
  constructor(private readonly startedAt: number) {}

  /** Adds what `node`'s counters gained since its last reading. Answers whether a restart was seen. */
  apply(node: string, reading: SidecarReading): boolean {
    const previous = this.#last.get(node);
    this.#last.set(node, reading);
    let nodeTally = this.nodes.get(node);
    if (nodeTally === undefined) {
      nodeTally = new Tally();
      this.nodes.set(node, nodeTally);
    }
    if (previous === undefined) {
      // A node met for the first time: a baseline, unless its process started after the aggregator.
      const startedAfter = reading.startTime !== undefined && reading.startTime >= this.startedAt;
      if (!startedAfter) return false;
    }
    const restarted = previous !== undefined && previous.startTime !== undefined && reading.startTime !== undefined && previous.startTime !== reading.startTime;
    let reset = restarted;
    for (const [domain, current] of reading.domains) {
      const before = previous?.domains.get(domain);
      if (before !== undefined && (current.count < before.count || current.sum < before.sum)) reset = true;
      const d = delta(current, before, restarted);
      add(this.cluster, d);
      let domainTally = this.domains.get(domain);
      if (domainTally === undefined) {
        domainTally = new Tally();
        this.domains.set(domain, domainTally);
      }
      add(domainTally, d);
      nodeTally.count += d.count;
      nodeTally.errors += d.errors;
      nodeTally.sum += d.sum;
    }
    add(this.crossNode, delta(reading.crossNode, previous?.crossNode, restarted));
    return reset;
  }

  /** The node left the registry: its counts so far stay, its last reading goes. */
  forget(node: string): void {
    this.#last.delete(node);
    this.nodes.delete(node);
  }

  snapshot(at: number): Snapshot {
    const domains = new Map<string, Tally>();
    for (const [name, tally] of this.domains) domains.set(name, copy(tally));
    const nodes = new Map<string, Tally>();
    for (const [name, tally] of this.nodes) {
      const light = new Tally();
      light.count = tally.count;
      light.errors = tally.errors;
      light.sum = tally.sum;
      nodes.set(name, light);
    }
    return { at, cluster: copy(this.cluster), crossNode: copy(this.crossNode), domains, nodes };
  }
}

/** Snapshots, one per cycle, as far back as the window reaches (and one more, its base). */
export class History {
  readonly #snapshots: Snapshot[] = [];

  constructor(private readonly windowMs: number) {}

  push(snapshot: Snapshot): void {
    const snapshots = this.#snapshots;
    snapshots.push(snapshot);
    // Keep the newest snapshot at or before the window's start as the base; drop older ones.
    const start = snapshot.at - this.windowMs;
    while (snapshots.length > 2 && snapshots[1]!.at <= start) snapshots.shift();
  }

  get latest(): Snapshot | undefined {
    return this.#snapshots.at(-1);
  }

  /** The snapshot the window is measured from: the newest at or before its start, else the oldest. */
  get base(): Snapshot | undefined {
    return this.#snapshots[0];
  }
}
