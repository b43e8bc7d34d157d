// One simulated sidecar of scripts/bench/aggregator.ts, as its /metrics sees it: a prom-client
// Registry of its own, the sidecar's metrics from the sidecar's own code (createSidecarMetrics),
// the daemon metrics every binary has (as createDaemonMetrics registers them), and a steady,
// seeded workload fed through the same helpers the request path calls (observeRequest,
// observeCrossNode, breakers, retries, auth lookups). Many of these live in one process, so the
// process-wide default metrics (collectDefaultMetrics) are rendered once and shared, and each node
// carries its own process_start_time_seconds, which the aggregator reads to tell a restart.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { createSidecarMetrics, type SidecarMetrics } from "../../internal/sidecar/telemetry/index.ts";
import { seededRandom } from "../../internal/testing/index.ts";
import { LATENCY_BUCKETS_SECONDS } from "../../internal/telemetry/index.ts";

const DOMAINS = ["communication", "execution", "coordination", "state", "core", "memory", "planning"] as const;
/** Routes of the sidecar's own daemon listener, for http_server_* (route templates, as the app labels them). */
const DAEMON_ROUTES = ["/healthz", "/readyz", "/metrics", "/v1/status", "/v1/config", "/v1/config/*", "/v1/config/watch"] as const;

/** Weighted picks: [value, weight][] with weights summing to about 1. */
type Weighted<T> = readonly (readonly [T, number])[];

const INBOUND_METHODS: Weighted<string> = [["POST", 0.55], ["GET", 0.3], ["PUT", 0.1], ["DELETE", 0.05]];
const OUTBOUND_METHODS: Weighted<string> = [["POST", 0.6], ["GET", 0.4]];
const STATUSES: Weighted<number | "error"> = [[200, 0.93], [201, 0.02], [404, 0.02], [429, 0.015], [503, 0.01], ["error", 0.005]];

function pick<T>(random: () => number, choices: Weighted<T>): T {
  let r = random();
  for (const [value, weight] of choices) {
    r -= weight;
    if (r < 0) return value;
  }
  return choices[choices.length - 1]![0];
}

/** A log-normal duration in seconds around `median` (sigma 0.6): most calls fast, a real tail. */
function latency(random: () => number, median: number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return median * Math.exp(0.6 * normal);
}

export interface SimulatedNodeOptions {
  readonly index: number;
  readonly seed: number;
  /** Inbound requests per second; outbound calls are about half as many. */
  readonly requestsPerSecond: number;
  /** Epoch seconds; staggered in the past, as a fleet's sidecars started at different times. */
  readonly startTime: number;
}

/** What the node's last rendered body says, for the benchmark's own cross-checks. */
export interface RenderedBody {
  readonly text: string;
  readonly bytes: number;
  /** Inbound requests counted in this body (what the aggregator adds up). */
  readonly inbound: number;
}

export class SimulatedNode {
  readonly id: string;
  /** Every domain the node's metrics mention: it serves `served`, calls the others. */
  readonly served: readonly string[];
  readonly called: readonly string[];
  readonly registry = new Registry();
  readonly #metrics: SidecarMetrics;
  readonly #random: () => number;
  readonly #rate: number;
  readonly #httpDuration: Histogram<"http_request_method" | "http_route" | "http_response_status_code">;
  #inbound = 0;
  #carry = 0;
  #body: RenderedBody = { text: "", bytes: 0, inbound: 0 };

  constructor(options: SimulatedNodeOptions) {
    this.id = `sim-node-${String(options.index).padStart(3, "0")}`;
    this.#random = seededRandom(options.seed * 1_000_003 + options.index);
    this.#rate = options.requestsPerSecond;
    // 3 to 5 domains, 1 or 2 of them served here.
    const shuffled: string[] = [...DOMAINS];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const count = 3 + Math.floor(this.#random() * 3);
    const servedCount = 1 + Math.floor(this.#random() * 2);
    this.served = shuffled.slice(0, servedCount);
    this.called = shuffled.slice(servedCount, count);

    const registers = [this.registry];
    new Gauge({ name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", registers }).set(options.startTime);
    new Gauge({ name: "nagent_build_info", help: "Always 1; labels carry the binary and its version.", labelNames: ["service", "version"], registers }).set({ service: "sidecar", version: "0.1.0" }, 1);
    this.#httpDuration = new Histogram({
      name: "http_server_request_duration_seconds",
      help: "Duration of HTTP server requests.",
      labelNames: ["http_request_method", "http_route", "http_response_status_code"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    new Gauge({ name: "http_server_active_requests", help: "Number of HTTP server requests in flight.", labelNames: ["http_request_method"], registers }).set({ http_request_method: "GET" }, 0);
    new Counter({ name: "http_server_rejected_requests_total", help: "Requests refused before reaching their handler, by reason.", labelNames: ["reason"], registers }).inc({ reason: "body_too_large" }, 0);

    this.#metrics = createSidecarMetrics(this.registry);
    this.#metrics.setControlPlaneConnected(true);
    // Every called domain has a breaker; a few nodes hold one open or half-open, as a real fleet
    // usually does somewhere (kept under the alert's threshold of 5 open).
    for (const domain of this.called) this.#metrics.breakerState(domain, "closed");
    const first = this.called[0];
    if (first !== undefined && options.index % 50 === 7) this.#metrics.breakerTransition(first, "closed", "open");
    if (first !== undefined && options.index % 50 === 23) {
      this.#metrics.breakerTransition(first, "closed", "open");
      this.#metrics.breakerTransition(first, "open", "half_open");
    }
  }

  /** The sidecar holds this configuration revision (nagent_sidecar_config_revision). */
  setConfigRevision(revision: number): void {
    this.#metrics.setConfigRevision(revision);
  }

  /** Inbound requests observed so far. */
  get inbound(): number {
    return this.#inbound;
  }

  /** The last rendered /metrics body. */
  get body(): RenderedBody {
    return this.#body;
  }

  /** Feeds `seconds` worth of traffic (at the node's rate, fractional requests carried over). */
  run(seconds: number): void {
    const due = this.#rate * seconds + this.#carry;
    const requests = Math.floor(due);
    this.#carry = due - requests;
    const random = this.#random;
    const m = this.#metrics;
    for (let i = 0; i < requests; i++) {
      const domain = this.served[i % this.served.length]!;
      m.observeRequest("inbound", domain, pick(random, INBOUND_METHODS), pick(random, STATUSES), latency(random, 0.004));
      m.authLookup(random() < 0.9 ? "memory" : "jwt", "hit");
      if (random() < 0.01) m.authLookup("redis", random() < 0.8 ? "hit" : "miss");
      this.#inbound++;
      if (i % 2 === 1 && this.called.length > 0) this.#callOut(this.called[(i >> 1) % this.called.length]!);
    }
    // The daemon listener: health probes and a /metrics scrape or so every few seconds.
    for (const route of DAEMON_ROUTES) {
      if (route === "/v1/config/watch" || random() < 0.5) {
        this.#httpDuration.observe({ http_request_method: "GET", http_route: route, http_response_status_code: 200 }, latency(random, 0.0008));
      }
    }
  }

  #callOut(domain: string): void {
    const random = this.#random;
    const m = this.#metrics;
    const status = pick(random, STATUSES);
    const seconds = latency(random, 0.008);
    m.observeRequest("outbound", domain, pick(random, OUTBOUND_METHODS), status, seconds);
    // Most calls go to another node (cross-node latency); some are answered on this node.
    if (random() < 0.85) m.observeCrossNode(domain, seconds);
    if (status === 503 || status === "error") m.retry(domain);
    if (status === "error" && random() < 0.3) m.fallback(domain, "cache");
    if (random() < 0.0005) m.outlierEjection(domain);
  }

  /** Renders the body a scrape answers now (prom-client's exposition), after the shared part. */
  async render(shared: string): Promise<RenderedBody> {
    const inbound = this.#inbound;
    const text = shared + (await this.registry.metrics());
    this.#body = { text, bytes: Buffer.byteLength(text), inbound };
    return this.#body;
  }
}

/**
 * The process-wide default metrics a sidecar's /metrics starts with (prom-client's
 * collectDefaultMetrics: CPU, memory, heap spaces, event-loop lag, GC...), rendered from this
 * process once per call and shared by every simulated node; process_start_time_seconds is left to
 * each node.
 */
export class SharedDefaults {
  readonly #registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.#registry });
    this.#registry.removeSingleMetric("process_start_time_seconds");
  }

  render(): Promise<string> {
    return this.#registry.metrics();
  }
}
