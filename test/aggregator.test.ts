// The aggregator against a real mesh: two nodes and a control plane as processes, plus nodes that
// misbehave (one answering garbage, one that never answers). The cluster view's arithmetic, a
// restart that resets counters, a dead node reported and its partition timed, an alert that goes
// pending, firing and resolved (with the webhook told), and the targets Prometheus would discover.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { until } from "../internal/testing/index.ts";
import { startAggregator, type AggregatorProcess } from "./support/aggregator.ts";
import { startMesh, type Mesh } from "./support/mesh.ts";

let mesh: Mesh;
let aggregator: AggregatorProcess;
let caller: string;
let junk: ReturnType<typeof Bun.serve>;
let hanging: ReturnType<typeof Bun.serve>;
let webhook: ReturnType<typeof Bun.serve>;
const notifications: any[] = [];

beforeAll(async () => {
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution"] },
    ],
  });
  caller = await mesh.token("agent-1", ["agent"]);
  // A node whose /metrics is garbage, and one whose /metrics never answers.
  junk = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("this is {not prometheus text\n") });
  hanging = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
  webhook = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      notifications.push(await request.json());
      return new Response("ok");
    },
  });
  await mesh.admin.registerNode("junk", { address: `http://127.0.0.1:${junk.port}`, domains: ["junk"], ttlSeconds: 3600 });
  await mesh.admin.registerNode("hanging", { address: `http://127.0.0.1:${hanging.port}`, domains: ["hanging"], ttlSeconds: 3600 });
  aggregator = await startAggregator(mesh.cp.url, mesh.cp.token, [
    ...["--scrape-interval", "500ms", "--scrape-timeout", "300ms", "--window", "30s"],
    ...["--alert-for", "1s", "--alert-resolve-for", "1s", "--thresholds", "circuit_breaker_open_count=0"],
    ...["--webhook-url", `http://127.0.0.1:${webhook.port}/hook`],
  ]);
}, 120_000);

afterAll(async () => {
  await aggregator?.stop();
  await mesh?.stop();
  junk?.stop(true);
  hanging?.stop(true);
  webhook?.stop(true);
}, 60_000);

const view = () => aggregator.json("/v1/cluster/metrics");
const alert = async (name: string) => ((await aggregator.json("/v1/alerts")).alerts as any[]).find((a) => a.name === name);

async function traffic(count: number, path = "/work"): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await mesh.node("node-a").invoke("execution", path, { token: caller });
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

describe("the cluster view", () => {
  test("every node and member is found; the misbehaving ones are down with the reason, and the cycle goes on", async () => {
    await until(async () => (await view()).nodes.length === 4 && (await view()).members.length === 1, { what: "the aggregator to find 4 nodes and 1 member" });
    const v = await view();
    const byId = Object.fromEntries(v.nodes.map((n: any) => [n.id, n]));
    expect(byId["node-a"].up).toBe(true);
    expect(byId["node-b"].up).toBe(true);
    expect(byId.junk.up).toBe(false);
    expect(byId.junk.scrapeError).toContain("not Prometheus text");
    expect(byId.hanging.up).toBe(false);
    expect(byId.hanging.scrapeError).toContain("did not answer");
    expect(v.members[0].up).toBe(true);
    expect(v.cluster_health).toMatchObject({ status: "degraded", nodesUp: 2, nodesTotal: 4, membersUp: 1, membersTotal: 1 });
    expect(v.cluster_health.leader).not.toBeNull();
    // A hanging target costs one timeout, not a stalled cycle: node-a keeps being scraped every interval.
    const first = Date.parse(byId["node-a"].lastScrape);
    await Bun.sleep(1_200);
    const later = Date.parse((await view()).nodes.find((n: any) => n.id === "node-a").lastScrape);
    expect(later - first).toBeGreaterThanOrEqual(500);
  });

  test("requests, errors and latency are counted: error rate from 5xx, latency weighted by requests, nothing divided by zero", async () => {
    const before = await view();
    expect(before.error_rate === null || before.error_rate === 0).toBe(true);
    await mesh.node("node-b").behave({ status: 500, failNext: 5 });
    const statuses = await traffic(20);
    expect(statuses.filter((s) => s === 500)).toHaveLength(5);
    await until(async () => (await view()).total_requests >= before.total_requests + 20, { what: "20 more requests counted" });
    const v = await view();
    const execution = v.domains.find((d: any) => d.domain === "execution");
    expect(execution.total_requests).toBeGreaterThanOrEqual(20);
    expect(v.error_rate).toBeGreaterThan(0);
    expect(v.error_rate).toBeLessThan(0.5);
    expect(v.average_latency).toBeGreaterThan(0);
    expect(v.latency.p99).toBeGreaterThanOrEqual(v.latency.p50);
    expect(v.critical.request_success_rate).toBeCloseTo(1 - v.error_rate, 10);
    // The inbound side counts the calls: node-b served them.
    expect(v.nodes.find((n: any) => n.id === "node-b").total_requests).toBeGreaterThanOrEqual(20);
    // cross-node calls were made (node-a → node-b)
    expect(v.critical.cross_node_latency).toBeGreaterThan(0);
  });

  test("a sidecar restarted (its counters back at zero) does not take requests away from the totals", async () => {
    await until(async () => (await view()).total_requests > 0, { what: "requests counted" });
    const before = (await view()).total_requests;
    await mesh.node("node-b").stopSidecar();
    await mesh.node("node-b").startSidecar();
    await until(async () => (await view()).nodes.find((n: any) => n.id === "node-b")?.up === true, { what: "node-b back up" });
    await traffic(5);
    await until(async () => (await view()).total_requests >= before + 5, { what: "the 5 new requests counted on top" });
    expect((await view()).total_requests).toBeLessThan(before + 50);
  });

  test("/v1/targets lists every sidecar and member for Prometheus", async () => {
    const groups = (await aggregator.json("/v1/targets")) as { targets: string[]; labels: Record<string, string> }[];
    const sidecars = groups.filter((g) => g.labels.job === "nagent-sidecar");
    const members = groups.filter((g) => g.labels.job === "nagent-control-plane");
    expect(sidecars.map((g) => g.labels.node).sort()).toEqual(["hanging", "junk", "node-a", "node-b"]);
    expect(sidecars.find((g) => g.labels.node === "node-a")!.targets).toEqual([mesh.node("node-a").inbound.replace("http://", "")]);
    expect(members).toHaveLength(1);
  });
});

describe("critical metrics and alerts", () => {
  test("a dead node is reported, and the partition duration grows while it stays away", async () => {
    await mesh.node("node-a").killSidecar();
    await until(async () => (await view()).nodes.find((n: any) => n.id === "node-a")?.up === false, { what: "node-a down" });
    const first = (await view()).critical.network_partition_duration;
    await Bun.sleep(1_100);
    expect((await view()).critical.network_partition_duration).toBeGreaterThan(first);
    await mesh.node("node-a").startSidecar();
    await until(async () => (await view()).nodes.find((n: any) => n.id === "node-a")?.up === true, { what: "node-a back" });
  });

  test("a breaker that opens makes its alert pending, then firing (the webhook told), then resolved once it closes", async () => {
    await mesh.admin.putPolicy("resilience", "execution-breaker", {
      target: { domain: "execution" },
      circuitBreaker: { trip: "consecutiveFailures >= 2", openMs: 3_000, halfOpenRequests: 1 },
    });
    await until(async () => (await mesh.node("node-a").status()).held.resiliencePolicies.includes("execution-breaker"), { what: "the policy at node-a" });
    await mesh.node("node-b").behave({ status: 503 });
    await traffic(3);
    await until(async () => (await alert("circuit_breaker_open_count"))?.state !== "ok", { what: "the breaker alert to leave ok", timeoutMs: 10_000 });
    await until(async () => (await alert("circuit_breaker_open_count"))?.state === "firing", { what: "the breaker alert to fire", timeoutMs: 10_000 });
    const firing = await alert("circuit_breaker_open_count");
    expect(firing.value).toBeGreaterThanOrEqual(1);
    expect(firing.transitions.map((t: any) => `${t.from}>${t.to}`).slice(0, 2)).toEqual(["pending>firing", "ok>pending"]);
    await until(() => notifications.some((n) => n.status === "firing" && n.alerts.some((a: any) => a.labels.alertname === "NagentCircuitBreakersOpen")), {
      what: "the webhook to hear of it",
    });
    // Healthy again: a probe after openMs closes the breaker, and the alert resolves.
    await mesh.node("node-b").behave({ status: 200 });
    await Bun.sleep(3_200);
    await traffic(2);
    await until(async () => (await alert("circuit_breaker_open_count"))?.state === "ok", { what: "the alert to resolve", timeoutMs: 15_000 });
    await until(() => notifications.some((n) => n.status === "resolved"), { what: "the webhook to hear it resolved" });
    const message = notifications.find((n) => n.status === "resolved");
    expect(message).toMatchObject({ version: "4", receiver: "nagent-aggregator" });
    expect(message.alerts[0].endsAt).not.toBe("0001-01-01T00:00:00Z");
    await mesh.admin.deletePolicy("resilience", "execution-breaker");
  }, 60_000);

  test("/metrics exports the cluster figures and the six metrics by their Prometheus names", async () => {
    const text = await (await fetch(`${aggregator.url}/metrics`)).text();
    for (const name of [
      "nagent_cluster_health_score",
      'nagent_cluster_targets{job="nagent-sidecar",state="up"}',
      "nagent_cluster_requests_total",
      "nagent_cluster_request_duration_seconds_bucket",
      "nagent_control_plane_availability_ratio",
      "nagent_config_sync_latency_seconds",
      "nagent_cross_node_latency_p99_seconds",
      "nagent_network_partition_duration_seconds",
      "nagent_request_success_ratio",
      "nagent_circuit_breakers_open",
      'nagent_alert_state{alert="circuit_breaker_open_count"}',
      'nagent_aggregator_scrape_failures_total{job="nagent-sidecar",reason="malformed"}',
      'nagent_aggregator_scrape_failures_total{job="nagent-sidecar",reason="timeout"}',
      "nagent_aggregator_cycle_duration_seconds_count",
    ]) {
      expect(text).toContain(name);
    }
  });

  test("config changes reach the sidecars well within the sync threshold, and availability is whole", async () => {
    await mesh.admin.putConfig("agents/greeting", "hello");
    await until(async () => {
      const v = await view();
      return v.nodes.filter((n: any) => n.id.startsWith("node-")).every((n: any) => n.sync.latencySeconds !== null);
    }, { what: "a sync latency for each real node" });
    const v = await view();
    expect(v.critical.config_sync_latency).toBeLessThan(10);
    expect(v.critical.control_plane_availability).toBe(1);
  });
});
