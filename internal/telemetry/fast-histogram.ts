// A Prometheus histogram for a request path. prom-client's labelled observe() builds a label
// object and hashes it on every call, even on a child from labels(); measured in the sidecar that
// was a few percent of its CPU per request. Here a child is bound once per label set and observe()
// is a bucket search and three increments on plain arrays. The histogram registers on a
// prom-client Registry like any metric there (prom-client calls get()/getForPromString() when
// scraped), so exposition, content types and registry merging stay prom-client's.
import type { Registry } from "prom-client";

/** One label set's series: bound once, observed many times. */
export class HistogramChild {
  /** Per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value (seconds, bytes...); a value that is not finite is ignored. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface PromValue {
  value: number;
  exemplar?: null;
  labels: Record<string, string | number>;
  metricName: string;
  sharedLabels?: Record<string, string>;
}

export interface FastHistogramOptions {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Upper bounds, ascending; +Inf is implied. */
  readonly buckets: readonly number[];
  readonly registers?: readonly Registry[];
}

/** A histogram whose series are bound once (see child()) and cheap to observe. */
export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly labelNames: readonly string[];
  readonly #bounds: Float64Array;
  readonly #children = new Map<string, HistogramChild>();

  constructor(options: FastHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    const buckets = [...options.buckets];
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw new RangeError(`${options.name}: buckets must be ascending`);
    }
    this.#bounds = Float64Array.from(buckets);
    // The Registry type wants a prom-client Metric; it only ever calls what this class has.
    for (const registry of options.registers ?? []) registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** The series for these label values (in labelNames order), made on first use: keep it. */
  child(...values: string[]): HistogramChild {
    if (values.length !== this.labelNames.length) throw new RangeError(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join("\u0000");
    let child = this.#children.get(key);
    if (child === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]!));
      child = new HistogramChild(this.#bounds, labels);
      this.#children.set(key, child);
    }
    return child;
  }

  /** What prom-client's Registry formats as text: buckets (cumulative), _sum and _count per series. */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: PromValue[] }> {
    const values: PromValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const child of this.#children.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += child.counts[i]!;
        values.push({ value: cumulative, labels: { le: this.#bounds[i]! }, metricName: bucket, sharedLabels: child.labels });
      }
      values.push({ value: child.count, labels: { le: "+Inf" }, metricName: bucket, sharedLabels: child.labels });
      values.push({ value: child.sum, labels: {}, metricName: `${this.name}_sum`, sharedLabels: child.labels });
      values.push({ value: child.count, labels: {}, metricName: `${this.name}_count`, sharedLabels: child.labels });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The same as JSON (prom-client's getMetricsAsJSON): every label on the value itself. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: PromValue[] }> {
    const data = await this.getForPromString();
    // As prom-client shapes it: bucket values carry an (absent) exemplar.
    data.values = data.values.map(({ sharedLabels, ...value }) => ({
      ...value,
      ...(value.metricName.endsWith("_bucket") ? { exemplar: null } : {}),
      labels: { ...sharedLabels, ...value.labels },
    }));
    return data;
  }

  /** Forgets every series. */
  reset(): void {
    this.#children.clear();
  }
}
