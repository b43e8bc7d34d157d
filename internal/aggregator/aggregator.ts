// The aggregator's collection cycle. Every scrape interval: read the registry and the cluster's
// status from the control plane, scrape every sidecar and member at once (each within the scrape
// timeout, so a slow or dead one never stalls the cycle, and is itself reported), fold the
// readings into running totals, and from those compute the cluster view, the six critical
// metrics and their alerts. Cycles never overlap: the next starts an interval after the last
// began, or at once if it ran over.
import type { ControlPlaneClient, NodeView } from "../../pkg/index.ts";
import type { CriticalMetricName } from "../config/index.ts";
import type { Logger } from "../telemetry/index.ts";
import { AlertEvaluator, criticalRules, type AlertView } from "./alerts.ts";
import type { AggregatorMetrics, TargetJob } from "./metrics.ts";
import { quantile, readMember, readSidecar, type BreakerState, type Tally } from "./readings.ts";
import { scrape, type ScrapeResult } from "./scrape.ts";
import { History, minus, Totals } from "./totals.ts";
import type { WebhookNotifier } from "./webhook.ts";

export interface AggregatorOptions {
  readonly client: ControlPlaneClient;
  readonly logger: Logger;
  readonly metrics: AggregatorMetrics;
  readonly scrapeIntervalMs: number;
  readonly scrapeTimeoutMs: number;
  readonly windowMs: number;
  readonly alertForMs: number;
  readonly alertResolveForMs: number;
  readonly thresholds?: Partial<Record<CriticalMetricName, number>>;
  readonly webhook?: WebhookNotifier;
  /** ms since the epoch; Date.now by default. */
  readonly now?: () => number;
  /** The scrape function; replaceable in tests. */
  readonly scrape?: (url: string, timeoutMs: number) => Promise<ScrapeResult>;
}

export interface LatencySummary {
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

export interface NodeFigures {
  readonly id: string;
  readonly address: string;
  readonly domains: readonly string[];
  readonly healthy: boolean;
  readonly up: boolean;
  readonly lastScrape: string | null;
  readonly scrapeError: string | null;
  readonly unreachableSince: string | null;
  readonly configRevision: number | null;
  readonly sync: { readonly state: string; readonly latencySeconds: number | null };
  readonly total_requests: number;
  readonly requests_per_second: number | null;
  readonly average_latency: number | null;
  readonly error_rate: number | null;
  readonly breakers: readonly { readonly domain: string; readonly state: BreakerState }[];
}

export interface DomainFigures {
  readonly domain: string;
  readonly total_requests: number;
  readonly requests_per_second: number | null;
  readonly average_latency: number | null;
  readonly error_rate: number | null;
  readonly latency: LatencySummary;
}

export interface MemberFigures {
  readonly id: string;
  readonly url: string;
  readonly role: string;
  readonly up: boolean;
  readonly unreachableSince: string | null;
}

export type HealthStatus = "healthy" | "degraded" | "critical";

/** GET /v1/cluster/metrics (docs/aggregator.md). */
export interface ClusterMetricsView {
  readonly generatedAt: string;
  readonly windowSeconds: number;
  readonly scrapeIntervalSeconds: number;
  readonly cluster_health: {
    readonly status: HealthStatus;
    readonly score: number;
    readonly nodesUp: number;
    readonly nodesTotal: number;
    readonly membersUp: number;
    readonly membersTotal: number;
    readonly leader: string | null;
  };
  readonly total_requests: number;
  readonly requests_per_second: number | null;
  readonly average_latency: number | null;
  readonly error_rate: number | null;
  readonly latency: LatencySummary;
  readonly nodes: readonly NodeFigures[];
  readonly domains: readonly DomainFigures[];
  readonly members: readonly MemberFigures[];
  readonly critical: Readonly<Record<CriticalMetricName, number | null>>;
}

/** One Prometheus http_sd target group. */
export interface TargetGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

class NodeState {
  address = "";
  domains: readonly string[] = [];
  healthy = false;
  up = false;
  lastScrape: number | undefined;
  scrapeError: string | undefined;
  unreachableSince: number | undefined;
  breakers: { domain: string; state: BreakerState }[] = [];
  /** From the node's heartbeats (the registry). */
  reportedRevision: number | undefined;
  reportedAppliedAt: number | undefined;
  /** From its /metrics. */
  scrapedRevision: number | undefined;
  /** The highest revision it is known to hold, and when it got it. */
  applied: { revision: number; at: number } | undefined;
  /** Its delay for the last revision it got, or its running delay while behind. */
  syncLatency: number | null = null;
  syncState = "unknown";

  constructor(readonly id: string) {}
}

class MemberState {
  url = "";
  role = "unknown";
  up = false;
  unreachableSince: number | undefined;

  constructor(readonly id: string) {}
}

/** How many committed revisions' first sighting times are kept. */
const MAX_REVISIONS = 20_000;

export class Aggregator {
  readonly #options: AggregatorOptions;
  readonly #now: () => number;
  readonly #scrape: (url: string, timeoutMs: number) => Promise<ScrapeResult>;
  readonly #startedAt: number;
  readonly #totals: Totals;
  readonly #history: History;
  readonly #alerts: AlertEvaluator;
  readonly #nodes = new Map<string, NodeState>();
  readonly #members = new Map<string, MemberState>();
  /** When each committed revision was first seen on the watch (ms). */
  readonly #revisionSeen = new Map<number, number>();
  #latestRevision = 0;
  #leader: string | null = null;
  #store: "raft" | "etcd" | undefined;
  /** One sample per cycle: did the control plane have a leader and a quorum. */
  #availability: { at: number; ok: boolean }[] = [];
  #view: ClusterMetricsView | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cycle: Promise<void> | undefined;
  #watch: { close(): void } | undefined;
  #stopped = false;

  constructor(options: AggregatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#scrape = options.scrape ?? scrape;
    this.#startedAt = this.#now();
    this.#totals = new Totals(this.#startedAt / 1000);
    this.#history = new History(options.windowMs);
    this.#alerts = new AlertEvaluator(criticalRules(options.thresholds), options.alertForMs, options.alertResolveForMs, this.#startedAt);
  }

  /** Starts following commits and collecting, the first cycle at once. */
  start(): void {
    this.#followCommits();
    const loop = () => {
      if (this.#stopped) return;
      const began = performance.now();
      this.#cycle = this.runCycle()
        .catch((error: unknown) => this.#options.logger.error({ err: error }, "a collection cycle failed"))
        .finally(() => {
          if (this.#stopped) return;
          const wait = Math.max(0, this.#options.scrapeIntervalMs - (performance.now() - began));
          this.#timer = setTimeout(loop, wait);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watch?.close();
    this.#options.webhook?.close();
    await this.#cycle;
  }

  /** The latest cycle's cluster view (an empty one before the first). */
  clusterMetrics(): ClusterMetricsView {
    return this.#view ?? this.#emptyView();
  }

  alerts(): AlertView[] {
    return this.#alerts.views();
  }

  /** Every sidecar and member, for Prometheus's HTTP service discovery. */
  targets(): TargetGroup[] {
    const groups: TargetGroup[] = [];
    for (const node of this.#nodes.values()) {
      const url = parseUrl(node.address);
      if (url === undefined) continue;
      groups.push({ targets: [url.host], labels: { job: "nagent-sidecar", node: node.id, domains: node.domains.join(","), __scheme__: url.protocol.replace(":", "") } });
    }
    for (const member of this.#members.values()) {
      const url = parseUrl(member.url);
      if (url === undefined) continue;
      groups.push({ targets: [url.host], labels: { job: "nagent-control-plane", member: member.id, __scheme__: url.protocol.replace(":", "") } });
    }
    return groups;
  }

  /** One collection cycle. */
  async runCycle(): Promise<void> {
    const began = performance.now();
    const { client, scrapeTimeoutMs, logger } = this.#options;
    const signal = AbortSignal.timeout(scrapeTimeoutMs);
    const [nodesResult, clusterResult] = await Promise.allSettled([client.listNodes({ signal }), client.clusterStatus({ signal })]);
    const now = this.#now();

    if (nodesResult.status === "fulfilled") {
      this.#latestRevision = Math.max(this.#latestRevision, nodesResult.value.revision);
      this.#updateNodes(nodesResult.value.nodes);
    } else {
      logger.warn({ err: (nodesResult.reason as Error).message }, "cannot read the registry; keeping the last known nodes");
    }
    let clusterAnswered = false;
    if (clusterResult.status === "fulfilled") {
      clusterAnswered = true;
      const status = clusterResult.value;
      this.#leader = status.leader;
      this.#store = status.store;
      this.#updateMembers(status.members);
    } else {
      this.#leader = null;
    }

    // Every target at once, each within the timeout; each answer is folded in as it arrives, so
    // the work is spread over the cycle instead of blocking the event loop once at its end.
    const nodes = [...this.#nodes.values()];
    const members = [...this.#members.values()];
    await Promise.all([
      ...nodes.map(async (node) => this.#takeNodeScrape(node, await this.#scrapeTarget("nagent-sidecar", node.address), this.#now())),
      ...members.map(async (member) => this.#takeMemberScrape(member, await this.#scrapeTarget("nagent-control-plane", member.url), this.#now())),
    ]);
    const scrapedAt = this.#now();

    for (const node of nodes) this.#updateSync(node, scrapedAt);

    // The control plane's availability this cycle: a leader, and a quorum of members answering.
    const membersUp = members.filter((member) => member.up).length;
    const quorum = this.#store === "etcd" ? membersUp >= 1 : membersUp > members.length / 2;
    this.#availability.push({ at: now, ok: clusterAnswered && this.#leader !== null && members.length > 0 && quorum });
    const windowStart = now - this.#options.windowMs;
    while (this.#availability.length > 1 && this.#availability[0]!.at < windowStart) this.#availability.shift();

    this.#history.push(this.#totals.snapshot(scrapedAt));
    const view = this.#buildView(scrapedAt, membersUp);
    this.#view = view;

    const changes = this.#alerts.evaluate(view.critical, scrapedAt);
    for (const change of changes) {
      logger.info({ alert: change.rule.name, from: change.from, to: change.to, value: change.value, threshold: change.rule.threshold }, `alert ${change.rule.name}: ${change.from} → ${change.to}`);
    }
    this.#options.webhook?.notify(changes);

    const targets = {
      "nagent-sidecar": { up: nodes.filter((n) => n.up).length, down: nodes.filter((n) => !n.up).length },
      "nagent-control-plane": { up: membersUp, down: members.length - membersUp },
    };
    this.#options.metrics.setCluster({ healthScore: view.cluster_health.score, targets, critical: view.critical, alertStates: this.#alerts.states() });
    this.#options.metrics.setRequestTotals(this.#totals.cluster);
    this.#options.metrics.observeCycle((performance.now() - began) / 1000);
  }

  async #scrapeTarget(job: TargetJob, base: string): Promise<ScrapeResult> {
    const result = await this.#scrape(`${base.replace(/\/+$/, "")}/metrics`, this.#options.scrapeTimeoutMs);
    this.#options.metrics.observeScrape(job, result.seconds);
    if (!result.ok) this.#options.metrics.scrapeFailed(job, result.reason);
    return result;
  }

  #updateNodes(views: readonly NodeView[]): void {
    const seen = new Set<string>();
    for (const view of views) {
      seen.add(view.id);
      let node = this.#nodes.get(view.id);
      if (node === undefined) {
        node = new NodeState(view.id);
        this.#nodes.set(view.id, node);
      }
      node.address = view.address;
      node.domains = view.domains;
      node.healthy = view.healthy;
      node.reportedRevision = view.configRevision ?? undefined;
      node.reportedAppliedAt = view.configAppliedAt === null ? undefined : Date.parse(view.configAppliedAt);
      node.syncState = view.sync.state;
    }
    for (const id of [...this.#nodes.keys()]) {
      if (seen.has(id)) continue;
      this.#nodes.delete(id);
      this.#totals.forget(id);
    }
  }

  #updateMembers(members: readonly { id: string; url: string; role: string }[]): void {
    const seen = new Set<string>();
    for (const m of members) {
      seen.add(m.id);
      let member = this.#members.get(m.id);
      if (member === undefined) {
        member = new MemberState(m.id);
        this.#members.set(m.id, member);
      }
      member.url = m.url;
      member.role = m.role;
    }
    for (const id of [...this.#members.keys()]) if (!seen.has(id)) this.#members.delete(id);
  }

  #takeNodeScrape(node: NodeState, result: ScrapeResult, at: number): void {
    node.lastScrape = at;
    if (!result.ok) {
      node.up = false;
      node.scrapeError = result.message;
      node.unreachableSince ??= at;
      node.breakers = [];
      return;
    }
    node.up = true;
    node.scrapeError = undefined;
    node.unreachableSince = undefined;
    const reading = readSidecar(result.samples);
    if (this.#totals.apply(node.id, reading)) this.#options.logger.info({ node: node.id }, "a node's counters started again (restarted); counting from zero");
    node.breakers = reading.breakers;
    node.scrapedRevision = reading.configRevision;
  }

  #takeMemberScrape(member: MemberState, result: ScrapeResult, at: number): void {
    if (!result.ok) {
      member.up = false;
      member.unreachableSince ??= at;
      return;
    }
    member.up = true;
    member.unreachableSince = undefined;
    const reading = readMember(result.samples);
    if (reading.isLeader === true) member.role = "leader";
  }

  /**
   * A node's configuration delay: for the highest revision it holds, from the revision's commit
   * (first seen on the watch) to when it got it (its heartbeat's applied time, else the scrape
   * that showed it); while it lacks a revision, from that revision's commit to now.
   */
  #updateSync(node: NodeState, now: number): void {
    const heartbeat = node.reportedRevision ?? -1;
    const scraped = node.up ? (node.scrapedRevision ?? -1) : -1;
    const held = Math.max(heartbeat, scraped);
    if (held < 0) return;
    if (node.applied === undefined || held > node.applied.revision) {
      const at = heartbeat === held && node.reportedAppliedAt !== undefined ? node.reportedAppliedAt : now;
      const previous = node.applied;
      node.applied = { revision: held, at };
      const committed = this.#committedAfter(previous?.revision ?? held - 1);
      if (committed !== undefined && previous !== undefined) node.syncLatency = Math.max(0, (at - committed) / 1000);
      else if (node.syncLatency === null) node.syncLatency = 0;
    }
    if (held < this.#latestRevision) {
      const missing = this.#committedAfter(held);
      if (missing !== undefined) node.syncLatency = Math.max(node.syncLatency ?? 0, (now - missing) / 1000);
    }
  }

  /** When the first revision after `revision` was committed (first seen), if the watch saw it. */
  #committedAfter(revision: number): number | undefined {
    let best: number | undefined;
    let bestRevision = Number.POSITIVE_INFINITY;
    for (const [r, at] of this.#revisionSeen) {
      if (r > revision && r < bestRevision) {
        bestRevision = r;
        best = at;
      }
    }
    return best;
  }

  /** Records when each committed revision is first seen, from the control plane's watch. */
  #followCommits(): void {
    const start = () => {
      if (this.#stopped) return;
      const handle = this.#options.client.watch("", {
        onEvent: (event) => {
          if (!this.#revisionSeen.has(event.revision)) {
            this.#revisionSeen.set(event.revision, this.#now());
            if (this.#revisionSeen.size > MAX_REVISIONS) {
              const oldest = this.#revisionSeen.keys().next().value;
              if (oldest !== undefined) this.#revisionSeen.delete(oldest);
            }
          }
          this.#latestRevision = Math.max(this.#latestRevision, event.revision);
        },
        onError: (error, info) => {
          if (!info.retrying) this.#options.logger.warn({ err: error.message }, "the configuration watch ended; starting again");
        },
      });
      this.#watch = handle;
      void handle.done.then(() => {
        if (!this.#stopped) setTimeout(start, 1_000);
      });
    };
    start();
  }

  #buildView(now: number, membersUp: number): ClusterMetricsView {
    const latest = this.#history.latest;
    const base = this.#history.base;
    const elapsed = latest !== undefined && base !== undefined ? (latest.at - base.at) / 1000 : 0;
    const rate = (count: number) => (elapsed > 0 ? count / elapsed : null);
    const cluster = latest === undefined ? undefined : minus(latest.cluster, base === latest ? undefined : base?.cluster);
    const windowed = (tally: Tally | undefined) => ({
      requests_per_second: tally === undefined ? null : rate(tally.count),
      average_latency: tally !== undefined && tally.count > 0 ? tally.sum / tally.count : null,
      error_rate: tally !== undefined && tally.count > 0 ? tally.errors / tally.count : null,
    });
    const summary = (tally: Tally | undefined): LatencySummary => ({
      p50: tally === undefined ? null : (quantile(0.5, tally.buckets) ?? null),
      p90: tally === undefined ? null : (quantile(0.9, tally.buckets) ?? null),
      p99: tally === undefined ? null : (quantile(0.99, tally.buckets) ?? null),
    });

    const nodes: NodeFigures[] = [...this.#nodes.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((node) => {
        const total = latest?.nodes.get(node.id);
        const window = total === undefined ? undefined : minus(total, base === latest ? undefined : base?.nodes.get(node.id));
        return {
          id: node.id,
          address: node.address,
          domains: node.domains,
          healthy: node.healthy,
          up: node.up,
          lastScrape: iso(node.lastScrape),
          scrapeError: node.scrapeError ?? null,
          unreachableSince: iso(node.unreachableSince),
          configRevision: node.applied?.revision ?? null,
          sync: { state: node.syncState, latencySeconds: node.syncLatency },
          total_requests: total?.count ?? 0,
          ...windowed(window),
          breakers: node.breakers,
        };
      });
    const domains: DomainFigures[] = [...(latest?.domains ?? new Map<string, Tally>())]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([domain, total]) => {
        const window = minus(total, base === latest ? undefined : base?.domains.get(domain));
        return { domain, total_requests: total.count, ...windowed(window), latency: summary(window) };
      });
    const members: MemberFigures[] = [...this.#members.values()].map((member) => ({
      id: member.id,
      url: member.url,
      role: member.role,
      up: member.up,
      unreachableSince: iso(member.unreachableSince),
    }));

    const nodesUp = nodes.filter((n) => n.up).length;
    const targetsTotal = nodes.length + members.length;
    const score = targetsTotal === 0 ? 0 : (nodesUp + membersUp) / targetsTotal;
    const available = this.#availability.at(-1)?.ok ?? false;
    const status: HealthStatus = !available ? "critical" : nodesUp === nodes.length && membersUp === members.length ? "healthy" : "degraded";

    const crossWindow = latest === undefined ? undefined : minus(latest.crossNode, base === latest ? undefined : base?.crossNode);
    let partition = 0;
    for (const node of this.#nodes.values()) if (node.unreachableSince !== undefined) partition = Math.max(partition, (now - node.unreachableSince) / 1000);
    for (const member of this.#members.values()) if (member.unreachableSince !== undefined) partition = Math.max(partition, (now - member.unreachableSince) / 1000);
    let syncLatency: number | null = null;
    for (const node of this.#nodes.values()) if (node.syncLatency !== null) syncLatency = Math.max(syncLatency ?? 0, node.syncLatency);
    const openBreakers = nodes.reduce((sum, node) => sum + node.breakers.filter((b) => b.state === "open").length, 0);
    const availability = this.#availability.length === 0 ? null : this.#availability.filter((s) => s.ok).length / this.#availability.length;
    const critical: Record<CriticalMetricName, number | null> = {
      control_plane_availability: availability,
      config_sync_latency: syncLatency,
      cross_node_latency: crossWindow !== undefined && crossWindow.count > 0 ? (quantile(0.99, crossWindow.buckets) ?? null) : null,
      network_partition_duration: partition,
      request_success_rate: cluster !== undefined && cluster.count > 0 ? 1 - cluster.errors / cluster.count : null,
      circuit_breaker_open_count: openBreakers,
    };

    return {
      generatedAt: new Date(now).toISOString(),
      windowSeconds: this.#options.windowMs / 1000,
      scrapeIntervalSeconds: this.#options.scrapeIntervalMs / 1000,
      cluster_health: { status, score, nodesUp, nodesTotal: nodes.length, membersUp, membersTotal: members.length, leader: this.#leader },
      total_requests: latest?.cluster.count ?? 0,
      ...windowed(cluster),
      latency: summary(cluster),
      nodes,
      domains,
      members,
      critical,
    };
  }

  #emptyView(): ClusterMetricsView {
    return {
      generatedAt: new Date(this.#now()).toISOString(),
      windowSeconds: this.#options.windowMs / 1000,
      scrapeIntervalSeconds: this.#options.scrapeIntervalMs / 1000,
      cluster_health: { status: "critical", score: 0, nodesUp: 0, nodesTotal: 0, membersUp: 0, membersTotal: 0, leader: null },
      total_requests: 0,
      requests_per_second: null,
      average_latency: null,
      error_rate: null,
      latency: { p50: null, p90: null, p99: null },
      nodes: [],
      domains: [],
      members: [],
      critical: {
        control_plane_availability: null,
        config_sync_latency: null,
        cross_node_latency: null,
        network_partition_duration: null,
        request_success_rate: null,
        circuit_breaker_open_count: null,
      },
    };
  }
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
