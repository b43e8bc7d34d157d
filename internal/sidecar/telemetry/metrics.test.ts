import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { LATENCY_BUCKETS_SECONDS } from "../../telemetry/index.ts";
import { BoundedLabel, createSidecarMetrics, methodLabel, statusClass } from "./metrics.ts";

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A strict reader of the Prometheus text format: every line is a comment or a well-formed sample. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a valid exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    // Go's ParseFloat, which Prometheus uses, takes NaN in any case (prom-client writes "Nan") and ±Inf.
    const raw = sample[3] as string;
    const value = /^nan$/i.test(raw) ? Number.NaN : /^[+-]?inf$/i.test(raw) ? Number(raw.replace(/inf/i, "Infinity")) : Number(raw);
    if (Number.isNaN(value) && !/^nan$/i.test(raw)) throw new Error(`not a number: ${line}`);
    samples.push({ name: sample[1] as string, labels, value });
  }
  return { types, samples };
}

async function scrape(registry: Registry) {
  return parseExposition(await registry.metrics());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(
    (sample) => sample.name === name && Object.entries(labels).every(([key, expected]) => sample.labels[key] === expected),
  )?.value;
}

function labelSets(samples: Sample[], name: string): Record<string, string>[] {
  return samples.filter((sample) => sample.name === name).map((sample) => sample.labels);
}

describe("sidecar metrics", () => {
  test("every metric is registered with its type and Prometheus name", async () => {
    const registry = new Registry();
    createSidecarMetrics(registry);
    const { types } = await scrape(registry);
    expect(Object.fromEntries(types)).toEqual({
      nagent_sidecar_request_duration_seconds: "histogram",
      nagent_sidecar_requests_in_flight: "gauge",
      nagent_sidecar_cross_node_request_duration_seconds: "histogram",
      nagent_sidecar_retries_total: "counter",
      nagent_sidecar_fallbacks_total: "counter",
      nagent_sidecar_circuit_breaker_state: "gauge",
      nagent_sidecar_circuit_breaker_transitions_total: "counter",
      nagent_sidecar_outlier_ejections_total: "counter",
      nagent_sidecar_auth_cache_lookups_total: "counter",
      nagent_sidecar_config_revision: "gauge",
      nagent_sidecar_control_plane_connected: "gauge",
      nagent_sidecar_cache_age_seconds: "gauge",
    });
  });

  test("requests are observed with normalised labels and the shared latency buckets", async () => {
    const registry = new Registry();
    const metrics = createSidecarMetrics(registry);
    metrics.observeRequest("outbound", "execution", "POST", 201, 0.004);
    metrics.observeRequest("outbound", "execution", "post", 200, 0.006);
    metrics.observeRequest("inbound", "execution", "patch", 503, 0.2);
    metrics.observeRequest("inbound", "execution", "PROPFIND", "error", 1.5);
    metrics.observeRequest("inbound", "execution", "GET", 999, 0.001);
    metrics.observeRequest("inbound", "execution", "GET", 200, Number.NaN); // ignored, never thrown
    metrics.observeCrossNode("execution", 0.03);
    const { samples } = await scrape(registry);

    const count = "nagent_sidecar_request_duration_seconds_count";
    expect(value(samples, count, { direction: "outbound", domain: "execution", method: "POST", status_class: "2xx" })).toBe(2);
    expect(value(samples, count, { direction: "inbound", method: "PATCH", status_class: "5xx" })).toBe(1);
    expect(value(samples, count, { direction: "inbound", method: "other", status_class: "error" })).toBe(1);
    expect(value(samples, count, { direction: "inbound", method: "GET", status_class: "error" })).toBe(1);
    expect(labelSets(samples, count)).toHaveLength(4);
    const sum = value(samples, "nagent_sidecar_request_duration_seconds_sum", { direction: "outbound", status_class: "2xx" });
    expect(sum).toBeCloseTo(0.01, 9);
    const bounds = samples
      .filter((sample) => sample.name === "nagent_sidecar_request_duration_seconds_bucket" && sample.labels.method === "POST")
      .map((sample) => sample.labels.le);
    expect(bounds).toEqual([...LATENCY_BUCKETS_SECONDS.map(String), "+Inf"]);
    expect(value(samples, "nagent_sidecar_cross_node_request_duration_seconds_bucket", { domain: "execution", le: "0.05" })).toBe(1);
    expect(value(samples, "nagent_sidecar_cross_node_request_duration_seconds_bucket", { domain: "execution", le: "0.025" })).toBe(0);
  });

  test("in-flight requests per direction", async () => {
    const registry = new Registry();
    const metrics = createSidecarMetrics(registry);
    metrics.requestStarted("inbound");
    metrics.requestStarted("inbound");
    metrics.requestStarted("outbound");
    metrics.requestEnded("inbound");
    const { samples } = await scrape(registry);
    expect(value(samples, "nagent_sidecar_requests_in_flight", { direction: "inbound" })).toBe(1);
    expect(value(samples, "nagent_sidecar_requests_in_flight", { direction: "outbound" })).toBe(1);
  });

  test("a breaker transition counts once and leaves exactly its new state at 1", async () => {
    const registry = new Registry();
    const metrics = createSidecarMetrics(registry);
    metrics.breakerState("state", "closed");
    metrics.breakerTransition("state", "closed", "open");
    metrics.breakerTransition("state", "open", "half_open");
    metrics.breakerTransition("state", "half_open", "open");
    metrics.breakerTransition("state", "open", "open"); // not a transition
    const { samples } = await scrape(registry);
    const state = (s: string) => value(samples, "nagent_sidecar_circuit_breaker_state", { domain: "state", state: s });
    expect([state("closed"), state("open"), state("half_open")]).toEqual([0, 1, 0]);
    const transitions = samples.filter((sample) => sample.name === "nagent_sidecar_circuit_breaker_transitions_total");
    expect(transitions.map((sample) => [sample.labels.from, sample.labels.to, sample.value]).sort()).toEqual([
      ["closed", "open", 1],
      ["half_open", "open", 1],
      ["open", "half_open", 1],
    ]);
  });

  test("retries, fallbacks, ejections and auth lookups", async () => {
    const registry = new Registry();
    const metrics = createSidecarMetrics(registry);
    metrics.retry("core");
    metrics.retry("core");
    metrics.fallback("core", "cache");
    metrics.fallback("core", "static");
    metrics.fallback("core", "static");
    metrics.outlierEjection("core");
    metrics.authLookup("memory", "hit");
    metrics.authLookup("memory", "hit");
    metrics.authLookup("control_plane", "error");
    const { samples } = await scrape(registry);
    expect(value(samples, "nagent_sidecar_retries_total", { domain: "core" })).toBe(2);
    expect(value(samples, "nagent_sidecar_fallbacks_total", { domain: "core", strategy: "static" })).toBe(2);
    expect(value(samples, "nagent_sidecar_fallbacks_total", { domain: "core", strategy: "cache" })).toBe(1);
    expect(value(samples, "nagent_sidecar_outlier_ejections_total", { domain: "core" })).toBe(1);
    expect(value(samples, "nagent_sidecar_auth_cache_lookups_total", { tier: "memory", result: "hit" })).toBe(2);
    expect(value(samples, "nagent_sidecar_auth_cache_lookups_total", { tier: "control_plane", result: "error" })).toBe(1);
    // All twelve tier x result series exist from the start.
    expect(labelSets(samples, "nagent_sidecar_auth_cache_lookups_total")).toHaveLength(12);
    expect(value(samples, "nagent_sidecar_auth_cache_lookups_total", { tier: "redis", result: "miss" })).toBe(0);
  });

  test("config revision, control plane connection and cache age (computed when scraped)", async () => {
    const registry = new Registry();
    let now = 1_000_000;
    const metrics = createSidecarMetrics(registry, { now: () => now });
    let { samples } = await scrape(registry);
    expect(value(samples, "nagent_sidecar_config_revision")).toBe(0);
    expect(value(samples, "nagent_sidecar_control_plane_connected")).toBe(0);
    expect(value(samples, "nagent_sidecar_cache_age_seconds")).toBe(0);

    metrics.setConfigRevision(42);
    metrics.setControlPlaneConnected(true);
    ({ samples } = await scrape(registry));
    expect(value(samples, "nagent_sidecar_config_revision")).toBe(42);
    expect(value(samples, "nagent_sidecar_control_plane_connected")).toBe(1);

    metrics.setControlPlaneConnected(false);
    metrics.setRunningFromCache(now - 2_500);
    ({ samples } = await scrape(registry));
    expect(value(samples, "nagent_sidecar_cache_age_seconds")).toBe(2.5);
    now += 10_000;
    ({ samples } = await scrape(registry));
    expect(value(samples, "nagent_sidecar_cache_age_seconds")).toBe(12.5);
    metrics.setRunningFromCache(undefined);
    ({ samples } = await scrape(registry));
    expect(value(samples, "nagent_sidecar_cache_age_seconds")).toBe(0);
  });

  test("domains past the cap are counted as other, so a misbehaving caller cannot explode cardinality", async () => {
    const registry = new Registry();
    const metrics = createSidecarMetrics(registry, { maxDomains: 3 });
    for (let i = 0; i < 1000; i++) {
      const domain = `domain-${i}`;
      metrics.observeRequest("outbound", domain, "GET", 200, 0.001);
      metrics.retry(domain);
      metrics.fallback(domain, "domain");
      metrics.breakerTransition(domain, "closed", "open");
      metrics.outlierEjection(domain);
      metrics.observeCrossNode(domain, 0.01);
    }
    metrics.observeRequest("outbound", "", "GET", 200, 0.001);
    expect(metrics.domainLabel("domain-0")).toBe("domain-0");
    expect(metrics.domainLabel("domain-2")).toBe("domain-2");
    expect(metrics.domainLabel("domain-3")).toBe("other");
    expect(metrics.domainLabel("")).toBe("other");

    const { samples } = await scrape(registry);
    const domains = new Set(samples.map((sample) => sample.labels.domain).filter((domain) => domain !== undefined));
    expect([...domains].sort()).toEqual(["domain-0", "domain-1", "domain-2", "other"]);
    expect(value(samples, "nagent_sidecar_retries_total", { domain: "other" })).toBe(997);
    expect(value(samples, "nagent_sidecar_request_duration_seconds_count", { domain: "other" })).toBe(998);
    expect(labelSets(samples, "nagent_sidecar_circuit_breaker_state")).toHaveLength(4 * 3);
  });

  test("BoundedLabel keeps the first values it sees", () => {
    const label = new BoundedLabel(2, (value) => ({ value }));
    expect(["a", "b", "c", "a", "d", "b"].map((value) => label.get(value).value)).toEqual(["a", "b", "other", "a", "other", "b"]);
    expect(label.size).toBe(2);
  });

  test("methodLabel and statusClass map onto their closed sets", () => {
    expect(["GET", "get", "POST", "Put", "DELETE", "patch", "HEAD", "OPTIONS", "TRACE", "CONNECT", "BREW", ""].map(methodLabel)).toEqual([
      "GET",
      "GET",
      "POST",
      "PUT",
      "DELETE",
      "PATCH",
      "HEAD",
      "OPTIONS",
      "other",
      "other",
      "other",
      "other",
    ]);
    expect(([100, 204, 301, 404, 499, 500, 599, 0, 600, -1, Number.NaN, "error"] as const).map(statusClass)).toEqual([
      "1xx",
      "2xx",
      "3xx",
      "4xx",
      "4xx",
      "5xx",
      "5xx",
      "error",
      "error",
      "error",
      "error",
      "error",
    ]);
  });

  test("the sidecar metrics sit beside the daemon metrics on one registry", async () => {
    const { createDaemonMetrics } = await import("../../telemetry/index.ts");
    const daemon = createDaemonMetrics("sidecar");
    createSidecarMetrics(daemon.registry).observeRequest("inbound", "core", "GET", 200, 0.01);
    const { types, samples } = await scrape(daemon.registry);
    expect(types.get("nagent_build_info")).toBe("gauge");
    expect(value(samples, "nagent_sidecar_request_duration_seconds_count", { domain: "core" })).toBe(1);
  });
});
