// What scripts/bench/aggregator.ts reads about the aggregator process from outside: its own
// /metrics (the cycle and scrape histograms, scrape failures, event-loop lag) and /proc (memory).
// CPU time comes from watch-proc.ts.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat times (as watch-proc.ts). */
const CLK_TCK = 100;

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Prometheus text to samples; enough for the aggregator's own exposition (no timestamps, no escapes that matter here). */
export function parseSamples(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? "").matchAll(LABEL)) labels[name!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrapeSamples(baseUrl: string): Promise<PromSample[]> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${baseUrl}/metrics: ${response.status}`);
  return parseSamples(await response.text());
}

function matches(sample: PromSample, labels: Readonly<Record<string, string>>): boolean {
  for (const [name, value] of Object.entries(labels)) if (sample.labels[name] !== value) return false;
  return true;
}

/** The sum of every series of `name` carrying `labels` (0 if none). */
export function total(samples: readonly PromSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && matches(s, labels)) sum += s.value;
  return sum;
}

/** One histogram series: cumulative counts per upper bound (the last is +Inf), its sum and count. */
export interface HistogramReading {
  readonly bounds: readonly number[];
  readonly cumulative: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export function histogram(samples: readonly PromSample[], name: string, labels: Readonly<Record<string, string>> = {}): HistogramReading {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !matches(s, labels)) continue;
    const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  return {
    bounds,
    cumulative: bounds.map((b) => buckets.get(b)!),
    sum: total(samples, `${name}_sum`, labels),
    count: total(samples, `${name}_count`, labels),
  };
}

/** after - before, bucket by bucket (the same bounds: one process's histogram read twice). */
export function histogramDelta(after: HistogramReading, before: HistogramReading): HistogramReading {
  return {
    bounds: after.bounds,
    cumulative: after.cumulative.map((c, i) => c - (before.cumulative[i] ?? 0)),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** As Prometheus's histogram_quantile: linear within the bucket the rank falls in; NaN without observations. */
export function histogramQuantile(q: number, h: HistogramReading): number {
  const totalCount = h.cumulative.at(-1) ?? 0;
  if (!(totalCount > 0)) return Number.NaN;
  const rank = q * totalCount;
  let previous = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    const count = h.cumulative[i]!;
    if (count >= rank) {
      const upper = h.bounds[i]!;
      if (upper === Number.POSITIVE_INFINITY) return h.bounds[i - 1] ?? Number.NaN;
      const lower = i === 0 ? 0 : h.bounds[i - 1]!;
      return count === previous ? upper : lower + ((upper - lower) * (rank - previous)) / (count - previous);
    }
    previous = count;
  }
  return Number.NaN;
}

/** The upper bound of the highest bucket that gained observations: the slowest one took at most this. */
export function histogramMaxBound(h: HistogramReading): number {
  const totalCount = h.cumulative.at(-1) ?? 0;
  const i = h.cumulative.findIndex((c) => c >= totalCount);
  return totalCount > 0 ? (h.bounds[i] ?? Number.NaN) : Number.NaN;
}

export interface Memory {
  /** Resident set (VmRSS), its anonymous part (RssAnon: heaps, not mapped files), and the peak (VmHWM), MiB. */
  readonly rss: number;
  readonly rssAnon: number;
  readonly peak: number;
}

/** From /proc/PID/status (Linux); NaN fields if the process is gone. */
export function memory(pid: number): Memory {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    // Gone: every field NaN.
  }
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  };
  return { rss: field("VmRSS"), rssAnon: field("RssAnon"), peak: field("VmHWM") };
}

/** One collection cycle, as seen from the aggregator's cycle histogram. */
export interface Cycle {
  /** 1 for the aggregator's first cycle. */
  readonly index: number;
  readonly seconds: number;
  /** False when two cycles ended between polls: each is then given their mean. */
  readonly exact: boolean;
}

const CYCLE = "nagent_aggregator_cycle_duration_seconds";
const LAG_MAX = "nodejs_eventloop_lag_max_seconds";

/**
 * Polls the aggregator's /metrics and records every cycle it completes: the cycle histogram's
 * _sum grows by exactly the cycle's duration when its _count grows by one, so each cycle's own
 * time is known, not only the bucket it fell in. The event loop's worst lag is kept as well
 * (prom-client resets it at every scrape, so each poll reads the lag since the previous one).
 */
export class CycleWatch {
  readonly cycles: Cycle[] = [];
  #count = 0;
  #sum = 0;
  #lagMax: { at: number; seconds: number }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #error: Error | undefined;
  #latest: PromSample[] = [];

  constructor(
    private readonly url: string,
    private readonly pollMs: number,
  ) {
    this.#poll();
  }

  /** The last /metrics read. */
  get latest(): readonly PromSample[] {
    return this.#latest;
  }

  async #poll(): Promise<void> {
    if (this.#stopped) return;
    try {
      const samples = await scrapeSamples(this.url);
      this.#latest = samples;
      const count = total(samples, `${CYCLE}_count`);
      const sum = total(samples, `${CYCLE}_sum`);
      const ended = count - this.#count;
      for (let i = 0; i < ended; i++) this.cycles.push({ index: this.#count + i + 1, seconds: (sum - this.#sum) / ended, exact: ended === 1 });
      this.#count = count;
      this.#sum = sum;
      const lag = samples.find((s) => s.name === LAG_MAX);
      if (lag !== undefined) this.#lagMax.push({ at: performance.now(), seconds: lag.value });
    } catch (error) {
      this.#error = error as Error;
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#poll(), this.pollMs);
  }

  /**
   * Resolves once the aggregator has completed `count` cycles; rejects past `timeoutMs`, or as soon
   * as `broken` names something wrong (a process of the benchmark that ended).
   */
  async until(count: number, timeoutMs: number, broken: () => string | undefined = () => undefined): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.cycles.length < count) {
      const problem = broken();
      if (problem !== undefined) throw new Error(`waiting for cycle ${count}: ${problem}`);
      if (performance.now() > deadline) {
        throw new Error(`the aggregator completed ${this.cycles.length} of ${count} cycles in ${timeoutMs} ms${this.#error ? ` (last poll: ${this.#error.message})` : ""}`);
      }
      await Bun.sleep(50);
    }
  }

  /** The event loop's worst lag seen by the polls since `since` (performance.now()), seconds; NaN if not exported. */
  lagMaxSince(since: number): number {
    const seen = this.#lagMax.filter((l) => l.at >= since).map((l) => l.seconds);
    return seen.length === 0 ? Number.NaN : Math.max(...seen);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** CPU seconds (utime + stime) of each thread of `pid` so far, by thread id, with the thread's name. */
export function threadCpu(pid: number): Map<number, { readonly name: string; readonly seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      threads.set(Number(tid), { name, seconds: (Number(fields[11]) + Number(fields[12])) / CLK_TCK });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/** CPU seconds each kind of thread (by name) used between two threadCpu readings, most first. */
export function threadCpuDelta(after: ReturnType<typeof threadCpu>, before: ReturnType<typeof threadCpu>): [string, number][] {
  const byName = new Map<string, number>();
  for (const [tid, { name, seconds }] of after) byName.set(name, (byName.get(name) ?? 0) + seconds - (before.get(tid)?.seconds ?? 0));
  return [...byName].filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]);
}
