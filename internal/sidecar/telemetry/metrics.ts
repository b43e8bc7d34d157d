// The sidecar's Prometheus metrics. Call sites are on the request path, so every helper is one or
// two synchronous prom-client calls on a labelled child that was bound once and is kept in an
// array slot (no label object, no key string built per call), and every label value comes from a
// closed set, or for domains from a capped one, so no caller can grow the number of series.

import { Counter, Gauge, type Registry } from "prom-client";
import { FastHistogram, LATENCY_BUCKETS_SECONDS, type HistogramChild } from "../../telemetry/index.ts";

export type Direction = "inbound" | "outbound";
export type MethodLabel = "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" | "other";
export type StatusClass = "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "error";
export type BreakerState = "closed" | "open" | "half_open";
export type FallbackStrategy = "static" | "cache" | "domain";
export type AuthTier = "jwt" | "memory" | "redis" | "control_plane";
export type AuthResult = "hit" | "miss" | "error";

/** Distinct domain label values kept before the rest are counted as "other". */
export const DEFAULT_MAX_DOMAINS = 200;
/** The label value every domain beyond the cap shares. */
export const OTHER_DOMAIN = "other";

const METHODS: readonly MethodLabel[] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"];
const STATUS_CLASSES: readonly StatusClass[] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];
const BREAKER_STATES: readonly BreakerState[] = ["closed", "open", "half_open"];
const FALLBACK_STRATEGIES: readonly FallbackStrategy[] = ["static", "cache", "domain"];
const AUTH_TIERS: readonly AuthTier[] = ["jwt", "memory", "redis", "control_plane"];
const AUTH_RESULTS: readonly AuthResult[] = ["hit", "miss", "error"];

const METHOD_INDEX = 7; // "other"
const ERROR_CLASS_INDEX = 5; // "error"

function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "POST":
      return 1;
    case "PUT":
      return 2;
    case "DELETE":
      return 3;
    case "PATCH":
      return 4;
    case "HEAD":
      return 5;
    case "OPTIONS":
      return 6;
  }
  // fetch upper-cases only the six methods it normalises, so "patch" arrives as sent.
  const upper = method.toUpperCase();
  return upper === method ? METHOD_INDEX : methodIndex(upper);
}

function statusIndex(status: number | "error"): number {
  if (status === "error") return ERROR_CLASS_INDEX;
  const hundreds = Math.floor(status / 100);
  return hundreds >= 1 && hundreds <= 5 ? hundreds - 1 : ERROR_CLASS_INDEX;
}

/** The method label: one of the seven common methods, case-insensitively, else "other". */
export function methodLabel(method: string): MethodLabel {
  return METHODS[methodIndex(method)] ?? "other";
}

/** "1xx".."5xx" for an HTTP status, "error" for a failure without one (or a status out of range). */
export function statusClass(status: number | "error"): StatusClass {
  return STATUS_CLASSES[statusIndex(status)] ?? "error";
}

/**
 * Caps the distinct values of a label: the first `max` values seen pass through, every later one
 * becomes "other". What it keeps per value is up to the caller (here: the bound metric children of
 * one domain), so the lookup that caps the label also finds them.
 */
export class BoundedLabel<T> {
  private readonly values = new Map<string, T>();
  private readonly other: T;

  constructor(
    private readonly max: number,
    private readonly create: (label: string) => T,
  ) {
    this.other = create(OTHER_DOMAIN);
  }

  get(value: string): T {
    const known = this.values.get(value);
    if (known !== undefined) return known;
    if (this.values.size >= this.max || value === "" || value === OTHER_DOMAIN) return this.other;
    const created = this.create(value);
    this.values.set(value, created);
    return created;
  }

  /** How many distinct values were let through (not counting "other"). */
  get size(): number {
    return this.values.size;
  }
}

/** The children of every per-domain metric for one domain label value, bound on first use. */
class DomainSeries {
  readonly requests: (HistogramChild | undefined)[] = [];
  retries: Counter.Internal | undefined;
  ejections: Counter.Internal | undefined;
  crossNode: HistogramChild | undefined;
  readonly fallbacks: (Counter.Internal | undefined)[] = [];
  readonly transitions: (Counter.Internal | undefined)[] = [];
  breakerStates: Gauge.Internal<string>[] | undefined;

  constructor(readonly label: string) {}
}

export interface SidecarMetricsOptions {
  /** Default 200. */
  readonly maxDomains?: number;
  /** Clock for the cache age, in epoch milliseconds; Date.now by default. */
  readonly now?: () => number;
}

export interface SidecarMetrics {
  /** One finished request: its duration in seconds and its status (or "error" when none came back). */
  observeRequest(direction: Direction, domain: string, method: string, status: number | "error", seconds: number): void;
  /** A request entered the pipeline (in-flight + 1). Pair with `requestEnded`. */
  requestStarted(direction: Direction): void;
  requestEnded(direction: Direction): void;
  /** An outbound call that crossed to another node, in seconds (cross_node_latency). */
  observeCrossNode(domain: string, seconds: number): void;
  /** A retry attempt (not the first attempt). */
  retry(domain: string): void;
  fallback(domain: string, strategy: FallbackStrategy): void;
  /** A breaker changed state: counts the transition and moves the state gauge. */
  breakerTransition(domain: string, from: BreakerState, to: BreakerState): void;
  /** Sets the state gauge without counting a transition (a breaker just created, or reset). */
  breakerState(domain: string, state: BreakerState): void;
  outlierEjection(domain: string): void;
  authLookup(tier: AuthTier, result: AuthResult): void;
  setConfigRevision(revision: number): void;
  setControlPlaneConnected(connected: boolean): void;
  /**
   * Running from the cache since the state was last in sync at `lastSyncedAtMs` (epoch ms), or,
   * with undefined, live again. The age is computed at scrape time.
   */
  setRunningFromCache(lastSyncedAtMs: number | undefined): void;
  /** The label value a domain is counted under: itself, or "other" past the cap. */
  domainLabel(domain: string): string;
}

/**
 * Registers the sidecar's metrics on `registry` (normally the daemon registry from
 * createDaemonMetrics) and answers typed helpers for the request path.
 */
export function createSidecarMetrics(registry: Registry, options: SidecarMetricsOptions = {}): SidecarMetrics {
  const registers = [registry];
  const now = options.now ?? Date.now;

  // The two histograms every request feeds are FastHistograms (see internal/telemetry/fast-histogram.ts).
  const requestDuration = new FastHistogram({
    name: "nagent_sidecar_request_duration_seconds",
    help: "Duration of requests through the sidecar, from receipt to the last response byte handed back.",
    labelNames: ["direction", "domain", "method", "status_class"],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  let inboundInFlight = 0;
  let outboundInFlight = 0;
  new Gauge({
    name: "nagent_sidecar_requests_in_flight",
    help: "Requests inside the sidecar's pipeline.",
    labelNames: ["direction"],
    registers,
    // Kept in plain numbers on the request path and handed to prom-client only when scraped.
    collect() {
      this.set({ direction: "inbound" }, inboundInFlight);
      this.set({ direction: "outbound" }, outboundInFlight);
    },
  });
  const crossNodeDuration = new FastHistogram({
    name: "nagent_sidecar_cross_node_request_duration_seconds",
    help: "Duration of outbound calls answered by another node's sidecar.",
    labelNames: ["domain"],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const retries = new Counter({
    name: "nagent_sidecar_retries_total",
    help: "Retry attempts of outbound calls (first attempts are not counted).",
    labelNames: ["domain"],
    registers,
  });
  const fallbacks = new Counter({
    name: "nagent_sidecar_fallbacks_total",
    help: "Outbound calls answered by a fallback, by strategy.",
    labelNames: ["domain", "strategy"],
    registers,
  });
  const breakerStateGauge = new Gauge({
    name: "nagent_sidecar_circuit_breaker_state",
    help: "1 for the circuit breaker's current state, 0 for the others.",
    labelNames: ["domain", "state"],
    registers,
  });
  const breakerTransitions = new Counter({
    name: "nagent_sidecar_circuit_breaker_transitions_total",
    help: "Circuit breaker state changes.",
    labelNames: ["domain", "from", "to"],
    registers,
  });
  const ejections = new Counter({
    name: "nagent_sidecar_outlier_ejections_total",
    help: "Instances taken out of load balancing by outlier detection.",
    labelNames: ["domain"],
    registers,
  });
  // Counted in a plain array on the request path (a cache hit is every request) and handed to
  // prom-client only when scraped.
  const authCounts = new Float64Array(AUTH_TIERS.length * AUTH_RESULTS.length);
  const authReported = new Float64Array(authCounts.length);
  const authLookups: Counter = new Counter({
    name: "nagent_sidecar_auth_cache_lookups_total",
    help: "Credential lookups by tier and result.",
    labelNames: ["tier", "result"],
    registers,
    collect() {
      for (let t = 0; t < AUTH_TIERS.length; t++) {
        for (let r = 0; r < AUTH_RESULTS.length; r++) {
          const i = t * AUTH_RESULTS.length + r;
          const delta = authCounts[i]! - authReported[i]!;
          if (delta > 0) authChildren[t]?.[r]?.inc(delta);
          authReported[i] = authCounts[i]!;
        }
      }
    },
  });
  const configRevision = new Gauge({
    name: "nagent_sidecar_config_revision",
    help: "Revision of the configuration the sidecar holds.",
    registers,
  });
  const controlPlaneConnected = new Gauge({
    name: "nagent_sidecar_control_plane_connected",
    help: "1 while the sidecar's watch on the control plane is up, else 0.",
    registers,
  });
  let lastSyncedAtMs: number | undefined;
  new Gauge({
    name: "nagent_sidecar_cache_age_seconds",
    help: "How old the held state is while the sidecar runs from its cache; 0 while in sync.",
    registers,
    collect() {
      this.set(lastSyncedAtMs === undefined ? 0 : Math.max(0, (now() - lastSyncedAtMs) / 1000));
    },
  });

  // Every auth series exists from the start (at 0), so rates and ratios are defined from the first scrape.
  const authChildren = AUTH_TIERS.map((tier) =>
    AUTH_RESULTS.map((result) => {
      const child = authLookups.labels(tier, result);
      child.inc(0);
      return child;
    }),
  );
  configRevision.set(0);
  controlPlaneConnected.set(0);

  const domains = new BoundedLabel(options.maxDomains ?? DEFAULT_MAX_DOMAINS, (label) => new DomainSeries(label));

  function setBreakerGauge(series: DomainSeries, state: BreakerState): void {
    const gauges = (series.breakerStates ??= BREAKER_STATES.map((s) => breakerStateGauge.labels(series.label, s)));
    for (let i = 0; i < BREAKER_STATES.length; i++) gauges[i]?.set(BREAKER_STATES[i] === state ? 1 : 0);
  }

  return {
    observeRequest(direction, domain, method, status, seconds) {
      // prom-client throws on a non-finite value; a metric must never fail a request.
      if (!Number.isFinite(seconds)) return;
      const series = domains.get(domain);
      const d = direction === "inbound" ? 0 : 1;
      const m = methodIndex(method);
      const s = statusIndex(status);
      const slot = (d * METHODS.length + m) * STATUS_CLASSES.length + s;
      let child = series.requests[slot];
      if (child === undefined) {
        child = requestDuration.child(direction, series.label, METHODS[m] ?? "other", STATUS_CLASSES[s] ?? "error");
        series.requests[slot] = child;
      }
      child.observe(seconds);
    },
    requestStarted(direction) {
      if (direction === "inbound") inboundInFlight++;
      else outboundInFlight++;
    },
    requestEnded(direction) {
      if (direction === "inbound") inboundInFlight--;
      else outboundInFlight--;
    },
    observeCrossNode(domain, seconds) {
      if (!Number.isFinite(seconds)) return;
      const series = domains.get(domain);
      (series.crossNode ??= crossNodeDuration.child(series.label)).observe(seconds);
    },
    retry(domain) {
      const series = domains.get(domain);
      (series.retries ??= retries.labels(series.label)).inc();
    },
    fallback(domain, strategy) {
      const series = domains.get(domain);
      const i = FALLBACK_STRATEGIES.indexOf(strategy);
      if (i < 0) return;
      (series.fallbacks[i] ??= fallbacks.labels(series.label, strategy)).inc();
    },
    breakerTransition(domain, from, to) {
      if (!BREAKER_STATES.includes(to)) return;
      const series = domains.get(domain);
      setBreakerGauge(series, to);
      const f = BREAKER_STATES.indexOf(from);
      const t = BREAKER_STATES.indexOf(to);
      if (f === t || f < 0 || t < 0) return;
      const i = f * BREAKER_STATES.length + t;
      (series.transitions[i] ??= breakerTransitions.labels(series.label, from, to)).inc();
    },
    breakerState(domain, state) {
      setBreakerGauge(domains.get(domain), state);
    },
    outlierEjection(domain) {
      const series = domains.get(domain);
      (series.ejections ??= ejections.labels(series.label)).inc();
    },
    authLookup(tier, result) {
      const t = AUTH_TIERS.indexOf(tier);
      const r = AUTH_RESULTS.indexOf(result);
      if (t >= 0 && r >= 0) authCounts[t * AUTH_RESULTS.length + r]!++;
    },
    setConfigRevision(revision) {
      configRevision.set(revision);
    },
    setControlPlaneConnected(connected) {
      controlPlaneConnected.set(connected ? 1 : 0);
    },
    setRunningFromCache(syncedAt) {
      lastSyncedAtMs = syncedAt;
    },
    domainLabel(domain) {
      return domains.get(domain).label;
    },
  };
}
