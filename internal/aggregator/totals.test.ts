import { describe, expect, test } from "bun:test";
import { BUCKET_BOUNDS, BUCKETS, quantile, Tally, type SidecarReading } from "./readings.ts";
import { History, minus, Totals } from "./totals.ts";

function tally(count: number, errors = 0, sum = count * 0.01, everyIn = 4): Tally {
  const t = new Tally();
  t.count = count;
  t.errors = errors;
  t.sum = sum;
  // every observation in bucket `everyIn` (cumulative from there on)
  for (let i = everyIn; i < BUCKETS; i++) t.buckets[i] = count;
  return t;
}

function reading(domains: Record<string, Tally>, startTime = 100, cross = new Tally()): SidecarReading {
  return { domains: new Map(Object.entries(domains)), crossNode: cross, breakers: [], configRevision: undefined, startTime };
}

describe("Totals", () => {
  test("the first reading of a node started before the aggregator is a baseline; later ones add what changed", () => {
    const totals = new Totals(1_000);
    totals.apply("a", reading({ x: tally(50, 5) }, 100));
    expect(totals.cluster.count).toBe(0);
    totals.apply("a", reading({ x: tally(80, 6) }, 100));
    expect(totals.cluster.count).toBe(30);
    expect(totals.cluster.errors).toBe(1);
    expect(totals.domains.get("x")?.count).toBe(30);
    expect(totals.nodes.get("a")?.count).toBe(30);
  });

  test("a node whose process started after the aggregator is counted whole from its first reading", () => {
    const totals = new Totals(1_000);
    totals.apply("b", reading({ x: tally(7) }, 1_500));
    expect(totals.cluster.count).toBe(7);
  });

  test("a counter that goes back, or a new start time, is a restart: counting starts again from zero, nothing is subtracted", () => {
    const totals = new Totals(1_000);
    totals.apply("a", reading({ x: tally(100) }, 100));
    totals.apply("a", reading({ x: tally(120) }, 100));
    expect(totals.apply("a", reading({ x: tally(3) }, 100))).toBe(true); // went back
    expect(totals.cluster.count).toBe(23);
    expect(totals.apply("a", reading({ x: tally(8) }, 2_000))).toBe(true); // new process, higher than 3
    expect(totals.cluster.count).toBe(31);
    expect(totals.apply("a", reading({ x: tally(10) }, 2_000))).toBe(false);
    expect(totals.cluster.count).toBe(33);
    for (let i = 0; i < BUCKETS; i++) expect(totals.cluster.buckets[i]).toBeGreaterThanOrEqual(0);
  });

  test("forgetting a node keeps what it counted", () => {
    const totals = new Totals(1_000);
    totals.apply("a", reading({ x: tally(1) }, 100));
    totals.apply("a", reading({ x: tally(11) }, 100));
    totals.forget("a");
    expect(totals.cluster.count).toBe(10);
    expect(totals.nodes.has("a")).toBe(false);
  });
});

describe("History", () => {
  test("keeps the newest snapshot at or before the window's start as the base", () => {
    const totals = new Totals(0);
    const history = new History(10_000);
    for (let t = 0; t <= 30_000; t += 5_000) {
      totals.cluster.count = t / 1000;
      history.push(totals.snapshot(t));
    }
    expect(history.latest?.at).toBe(30_000);
    expect(history.base?.at).toBe(20_000);
    expect(minus(history.latest!.cluster, history.base!.cluster).count).toBe(10);
  });
});

describe("quantile", () => {
  test("interpolates within the bucket like histogram_quantile; the +Inf bucket answers the top bound; none without observations", () => {
    const cumulative = new Float64Array(BUCKETS);
    // 100 observations: 50 in (0, b0], 50 in (b0, b1]
    for (let i = 0; i < BUCKETS; i++) cumulative[i] = i === 0 ? 50 : 100;
    expect(quantile(0.5, cumulative)).toBeCloseTo(BUCKET_BOUNDS[0]!, 10);
    expect(quantile(0.75, cumulative)).toBeCloseTo((BUCKET_BOUNDS[0]! + BUCKET_BOUNDS[1]!) / 2, 10);
    const inf = new Float64Array(BUCKETS);
    inf[BUCKETS - 1] = 10;
    expect(quantile(0.99, inf)).toBe(BUCKET_BOUNDS.at(-1));
    expect(quantile(0.5, new Float64Array(BUCKETS))).toBeUndefined();
  });
});
