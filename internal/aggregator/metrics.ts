// The aggregator's own /metrics: the cluster figures and the six critical metrics, as Prometheus
// reads them (base units, _total counters, a merged histogram), plus how its scraping goes.
import { Counter, Gauge, type Registry } from "prom-client";
import { FastHistogram, LATENCY_BUCKETS_SECONDS } from "../telemetry/index.ts";
import type { CriticalMetricName } from "../config/index.ts";
import { BUCKET_BOUNDS, type Tally } from "./readings.ts";
import type { ScrapeFailure } from "./scrape.ts";

export type TargetJob = "nagent-sidecar" | "nagent-control-plane";

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Registers a metric whose values are computed when scraped (a merged histogram, a gauge that is
 * absent while it has no value), in the shape prom-client's Registry formats.
 */
function computedMetric(registry: Registry, name: string, help: string, type: "gauge" | "histogram", values: () => PromValue[]): void {
  const metric = {
    name,
    help,
    type,
    aggregator: "sum",
    get: async () => ({ name, help, type, aggregator: "sum", values: values() }),
    reset: () => {},
  };
  registry.registerMetric(metric as unknown as Parameters<Registry["registerMetric"]>[0]);
}

/** Where each critical metric is exported, by its name in /v1/alerts. */
export const CRITICAL_METRIC_EXPORTS: Readonly<Record<CriticalMetricName, string>> = {
  control_plane_availability: "nagent_control_plane_availability_ratio",
  config_sync_latency: "nagent_config_sync_latency_seconds",
  cross_node_latency: "nagent_cross_node_latency_p99_seconds",
  network_partition_duration: "nagent_network_partition_duration_seconds",
  request_success_rate: "nagent_request_success_ratio",
  circuit_breaker_open_count: "nagent_circuit_breakers_open",
};

const CRITICAL_HELP: Readonly<Record<CriticalMetricName, string>> = {
  control_plane_availability: "Share of the window in which the control plane had a leader and a quorum.",
  config_sync_latency: "The worst node's delay in applying a committed configuration change, in seconds.",
  cross_node_latency: "p99 of sidecar-to-sidecar calls over the window, in seconds.",
  network_partition_duration: "The longest a registered node or control-plane member has been unreachable, in seconds.",
  request_success_rate: "Share of requests through the sidecars that did not end in 5xx or an error, over the window; absent without requests.",
  circuit_breaker_open_count: "Circuit breakers open now, one per node and target domain.",
};

export interface AggregatorMetrics {
  /** The cluster figures of this cycle. */
  setCluster(figures: {
    healthScore: number;
    targets: Record<TargetJob, { up: number; down: number }>;
    critical: Partial<Record<CriticalMetricName, number | null>>;
    alertStates: readonly { name: CriticalMetricName; code: number }[];
  }): void;
  /** Cumulative request totals (monotonic; the registry exports their increase). */
  setRequestTotals(cluster: Tally): void;
  observeScrape(job: TargetJob, seconds: number): void;
  scrapeFailed(job: TargetJob, reason: ScrapeFailure): void;
  observeCycle(seconds: number): void;
}

export function createAggregatorMetrics(registry: Registry): AggregatorMetrics {
  const registers = [registry];
  let healthScore = 0;
  let cluster: Tally | undefined;
  let critical: Partial<Record<CriticalMetricName, number | null>> = {};
  computedMetric(registry, "nagent_cluster_health_score", "Share of the cluster's targets (sidecars and control-plane members) that answer, 0 to 1.", "gauge", () => [
    { value: healthScore, labels: {} },
  ]);
  const targets = new Gauge({ name: "nagent_cluster_targets", help: "Targets the aggregator scrapes, by job and whether they answered the last scrape.", labelNames: ["job", "state"], registers });
  const requests = new Counter({ name: "nagent_cluster_requests_total", help: "Requests through every sidecar's inbound port since the aggregator started watching.", registers });
  const errors = new Counter({ name: "nagent_cluster_request_errors_total", help: "Of those, requests that ended in 5xx or an error.", registers });
  let reportedCount = 0;
  let reportedErrors = 0;
  computedMetric(registry, "nagent_cluster_request_duration_seconds", "Duration of requests through every sidecar's inbound port, merged bucket by bucket.", "histogram", () => {
    if (cluster === undefined) return [];
    const values: PromValue[] = [];
    for (let i = 0; i < BUCKET_BOUNDS.length; i++) values.push({ value: cluster.buckets[i]!, labels: { le: BUCKET_BOUNDS[i]! }, metricName: "nagent_cluster_request_duration_seconds_bucket" });
    values.push({ value: cluster.count, labels: { le: "+Inf" }, metricName: "nagent_cluster_request_duration_seconds_bucket" });
    values.push({ value: cluster.sum, labels: {}, metricName: "nagent_cluster_request_duration_seconds_sum" });
    values.push({ value: cluster.count, labels: {}, metricName: "nagent_cluster_request_duration_seconds_count" });
    return values;
  });
  for (const [metric, exported] of Object.entries(CRITICAL_METRIC_EXPORTS) as [CriticalMetricName, string][]) {
    computedMetric(registry, exported, CRITICAL_HELP[metric], "gauge", () => {
      const value = critical[metric];
      return value === undefined || value === null ? [] : [{ value, labels: {} }];
    });
  }
  const alertState = new Gauge({ name: "nagent_alert_state", help: "State of each critical metric's alert: 0 ok, 1 pending, 2 firing.", labelNames: ["alert"], registers });
  const scrapeDuration = new FastHistogram({ name: "nagent_aggregator_scrape_duration_seconds", help: "Time to scrape one target, by job.", labelNames: ["job"], buckets: LATENCY_BUCKETS_SECONDS, registers });
  const scrapeFailures = new Counter({ name: "nagent_aggregator_scrape_failures_total", help: "Scrapes that failed, by job and reason.", labelNames: ["job", "reason"], registers });
  const cycleDuration = new FastHistogram({
    name: "nagent_aggregator_cycle_duration_seconds",
    help: "Time of one collection cycle: discovery, every scrape, the view and the alerts.",
    labelNames: [],
    // Cycles last tens of milliseconds to seconds: finer buckets there than the request latency ones.
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 30],
    registers,
  });
  const cycles = cycleDuration.child();

  return {
    setCluster(figures) {
      healthScore = figures.healthScore;
      critical = figures.critical;
      for (const [job, counts] of Object.entries(figures.targets)) {
        targets.set({ job, state: "up" }, counts.up);
        targets.set({ job, state: "down" }, counts.down);
      }
      for (const { name, code } of figures.alertStates) alertState.set({ alert: name }, code);
    },
    setRequestTotals(tally) {
      cluster = tally;
      if (tally.count > reportedCount) requests.inc(tally.count - reportedCount);
      if (tally.errors > reportedErrors) errors.inc(tally.errors - reportedErrors);
      reportedCount = Math.max(reportedCount, tally.count);
      reportedErrors = Math.max(reportedErrors, tally.errors);
    },
    observeScrape(job, seconds) {
      scrapeDuration.child(job).observe(seconds);
    },
    scrapeFailed(job, reason) {
      scrapeFailures.inc({ job, reason });
    },
    observeCycle(seconds) {
      cycles.observe(seconds);
    },
  };
}
