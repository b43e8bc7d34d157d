// What the members say about themselves over a phase of scripts/bench/watch.ts, from their
// Prometheus /metrics (both Nagent and etcd serve one on the client port): fsyncs of the log,
// leader changes, cut-off slow watchers and, for Nagent, the event loop's lag. These explain a
// latency tail (a slow disk, an election, a stalled process) without touching either system.

/** One scrape: `name{labels}` -> value, for every sample line. */
export type Scrape = ReadonlyMap<string, number>;

/** The series of one system that the report reads. */
export interface MetricNames {
  /** Histogram of the time to write and fsync the log. */
  readonly walSync: string;
  /** Counter of leader changes this member has seen. */
  readonly leaderChanges: string;
  /** Watchers cut off for being slow (Nagent, a counter) or slow watchers now (etcd, a gauge). */
  readonly slowWatchers: string;
  readonly slowWatchersKind: "counter" | "gauge";
  /** Gauge of the event loop's worst lag since the previous scrape (Nagent, via prom-client). */
  readonly eventLoopLagMax?: string;
}

export async function scrape(url: string): Promise<Scrape> {
  const samples = new Map<string, number>();
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const space = line.lastIndexOf(" ");
      samples.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
  } catch {
    // A member that cannot be scraped shows as "-" in the report.
  }
  return samples;
}

interface Buckets {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

function buckets(sample: Scrape, histogram: string): Buckets {
  const pairs: [number, number][] = [];
  for (const [series, value] of sample) {
    const match = new RegExp(`^${histogram}_bucket\\{le="([^"]+)"\\}$`).exec(series);
    if (match) pairs.push([match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]), value]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { bounds: pairs.map((p) => p[0]), counts: pairs.map((p) => p[1]) };
}

/** What changed in one member between two scrapes. */
export interface MemberActivity {
  readonly syncs: number;
  /** Syncs slower than `slowBound` seconds (the first bucket bound at or above 0.1 s). */
  readonly slowSyncs: number;
  readonly slowBound: number;
  /** The upper bound of the slowest sync's bucket, seconds. */
  readonly slowestSyncAtMost: number;
  readonly leaderChanges: number;
  readonly slowWatchers: number;
  /** Nagent only: the event loop's worst lag over the phase, milliseconds. */
  readonly eventLoopLagMaxMs: number | undefined;
}

const SLOW_SYNC_SECONDS = 0.1;

export function activity(before: Scrape, after: Scrape, names: MetricNames): MemberActivity {
  const a = buckets(after, names.walSync);
  const b = buckets(before, names.walSync);
  const delta = a.counts.map((count, i) => count - (b.counts[i] ?? 0));
  const total = delta.at(-1) ?? 0;
  const slowIndex = a.bounds.findIndex((bound) => bound >= SLOW_SYNC_SECONDS);
  const slowestIndex = delta.findIndex((count) => count === total);
  const counter = (name: string) => (after.get(name) ?? Number.NaN) - (before.get(name) ?? 0);
  return {
    syncs: total,
    slowSyncs: slowIndex < 0 ? Number.NaN : total - delta[slowIndex]!,
    slowBound: a.bounds[slowIndex] ?? Number.NaN,
    slowestSyncAtMost: total === 0 ? 0 : (a.bounds[slowestIndex] ?? Number.NaN),
    leaderChanges: counter(names.leaderChanges),
    slowWatchers: names.slowWatchersKind === "counter" ? counter(names.slowWatchers) : (after.get(names.slowWatchers) ?? Number.NaN),
    // prom-client resets its event-loop histogram at every scrape: the value after is the phase's.
    eventLoopLagMaxMs: names.eventLoopLagMax === undefined ? undefined : (after.get(names.eventLoopLagMax) ?? Number.NaN) * 1000,
  };
}
