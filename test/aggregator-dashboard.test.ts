// The aggregator's dashboard in a real browser (headless Chromium through playwright-core),
// against a fake aggregator answering scripted JSON: it loads and shows the cluster, follows
// changes as they come, shows registry strings as text, and marks itself stale when a fetch fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startFakeAggregator, type FakeAggregator } from "./support/fake-aggregator.ts";

const screenshotPath = join(import.meta.dir, "artifacts", "aggregator-dashboard.png");
const hostileId = `<script>window.__pwned = 1</script>`;
const hostileDomain = `<img src=x onerror="window.__pwned = 2">`;
const waitMs = 5_000;

interface Breaker {
  domain: string;
  state: "closed" | "open" | "half_open";
}

interface NodeSpec {
  id: string;
  domains: string[];
  up?: boolean;
  breakers?: Breaker[];
}

interface AlertSpec {
  name: string;
  value: number | null;
  unit: "ratio" | "seconds" | "count";
  comparison: "<" | ">";
  threshold: number;
  state: "ok" | "pending" | "firing";
  sinceSecondsAgo: number;
}

const ago = (seconds: number): string => new Date(Date.now() - seconds * 1000).toISOString();

/** The metrics answer as docs/aggregator.md shows it; rates move a little on every call. */
function metrics(nodes: NodeSpec[]): (call: number) => unknown {
  return (call) => {
    const up = nodes.filter((n) => n.up !== false).length;
    const rps = 40 + 8 * Math.sin(call / 2);
    return {
      generatedAt: new Date().toISOString(),
      windowSeconds: 300,
      scrapeIntervalSeconds: 1,
      cluster_health: {
        status: up === nodes.length ? "healthy" : "degraded",
        score: (up + 3) / (nodes.length + 3),
        nodesUp: up,
        nodesTotal: nodes.length,
        membersUp: 3,
        membersTotal: 3,
        leader: "cp1",
      },
      total_requests: 12_000 + call * 40,
      requests_per_second: rps,
      average_latency: 0.0031,
      error_rate: 0.002,
      latency: { p50: 0.0021, p90: 0.004, p99: 0.012 + 0.004 * Math.sin(call / 3) },
      nodes: nodes.map((n) => {
        const isUp = n.up !== false;
        return {
          id: n.id,
          address: `http://10.0.0.${n.id.length}:15006`,
          domains: n.domains,
          healthy: isUp,
          up: isUp,
          lastScrape: ago(isUp ? 0 : 20),
          scrapeError: isUp ? null : "connect ECONNREFUSED 10.0.0.7:15006",
          unreachableSince: isUp ? null : ago(20),
          configRevision: isUp ? 42 : 40,
          sync: isUp ? { state: "synced", latencySeconds: 0.08 } : { state: "stale", latencySeconds: 21.5 },
          total_requests: isUp ? 4000 + call * 13 : 0,
          requests_per_second: isUp ? rps / up : 0,
          average_latency: isUp ? 0.003 : null,
          error_rate: isUp ? 0.001 : null,
          breakers: n.breakers ?? n.domains.map((domain) => ({ domain, state: "closed" })),
        };
      }),
      domains: [...new Set(nodes.flatMap((n) => n.domains))].sort().map((domain) => ({
        domain,
        total_requests: 4000,
        requests_per_second: 13.1,
        average_latency: 0.003,
        error_rate: 0,
        latency: { p50: 0.002, p90: 0.004, p99: 0.01 },
      })),
      members: ["cp1", "cp2", "cp3"].map((id, i) => ({
        id,
        url: `http://10.0.0.${2 + i}:8080`,
        role: i === 0 ? "leader" : "follower",
        up: true,
        unreachableSince: null,
      })),
    };
  };
}

function alerts(specs: AlertSpec[]): unknown {
  return {
    alerts: specs.map((a) => ({
      name: a.name,
      description: `${a.name} (scripted)`,
      value: a.value,
      unit: a.unit,
      comparison: a.comparison,
      threshold: a.threshold,
      state: a.state,
      since: ago(a.sinceSecondsAgo),
      activeAt: a.state === "ok" ? null : ago(a.sinceSecondsAgo),
      forSeconds: 30,
      resolveForSeconds: 30,
      transitions: [],
    })),
  };
}

function sixAlerts(changes: Partial<Record<string, Partial<AlertSpec>>> = {}): unknown {
  const base: AlertSpec[] = [
    { name: "control_plane_availability", value: 0.9995, unit: "ratio", comparison: "<", threshold: 0.99, state: "ok", sinceSecondsAgo: 3600 },
    { name: "config_sync_latency", value: 0.08, unit: "seconds", comparison: ">", threshold: 10, state: "ok", sinceSecondsAgo: 3600 },
    { name: "cross_node_latency", value: 0.062, unit: "seconds", comparison: ">", threshold: 0.05, state: "pending", sinceSecondsAgo: 12 },
    { name: "network_partition_duration", value: 20, unit: "seconds", comparison: ">", threshold: 30, state: "ok", sinceSecondsAgo: 3600 },
    { name: "request_success_rate", value: 0.998, unit: "ratio", comparison: "<", threshold: 0.95, state: "ok", sinceSecondsAgo: 3600 },
    { name: "circuit_breaker_open_count", value: 0, unit: "count", comparison: ">", threshold: 5, state: "ok", sinceSecondsAgo: 3600 },
  ];
  return alerts(base.map((a) => ({ ...a, ...changes[a.name] })));
}

const nodes: NodeSpec[] = [
  { id: "node-1", domains: ["communication", "execution"] },
  { id: "node-2", domains: ["execution", "state"] },
  { id: "node-3", domains: ["coordination"], up: false },
];

let fake: FakeAggregator;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const cspViolations: string[] = [];
const requested: string[] = [];

beforeAll(async () => {
  fake = startFakeAggregator({ metrics: metrics(nodes), alerts: sixAlerts(), delayMs: 40 });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) cspViolations.push(message.text());
  });
  page.on("request", (request) => requested.push(request.url()));
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await fake?.stop();
}, 15_000);

const testId = (id: string): string => `[data-testid="${id}"]`;

async function waitFor(selector: string): Promise<void> {
  await page.waitForSelector(selector, { state: "attached", timeout: waitMs });
}

describe("aggregator dashboard", () => {
  test("loads and shows the cluster's health, its nodes and the metrics' alert states", async () => {
    await page.goto(fake.url + "/", { timeout: waitMs });
    await waitFor(`${testId("health-status")}[data-status="degraded"]`);
    expect(await page.textContent(testId("health-status"))).toBe("degraded");
    expect(await page.textContent(testId("node-count"))).toBe("2/3");
    expect(await page.getAttribute(testId("node-count"), "data-total")).toBe("3");
    expect(await page.textContent(testId("leader"))).toBe("cp1");
    expect(await page.locator(testId("node-row")).count()).toBe(3);
    expect(await page.getAttribute(testId("metric-cross_node_latency"), "data-state")).toBe("pending");
    expect(await page.getAttribute(testId("metric-request_success_rate"), "data-state")).toBe("ok");
    expect(await page.textContent(`${testId("metric-cross_node_latency")} ${testId("metric-value")}`)).toBe("62 ms");
    expect(await page.textContent(`${testId("metric-control_plane_availability")} ${testId("metric-value")}`)).toBe("99.95%");
    expect(await page.isVisible(testId("breakers-empty"))).toBe(true);
    expect(await page.locator(testId("breaker")).count()).toBe(0);
    expect(await page.isHidden(testId("stale"))).toBe(true);
  }, 15_000);

  test("a breaker that opens and an alert that fires show up within a few seconds", async () => {
    nodes[1]!.breakers = [
      { domain: "execution", state: "open" },
      { domain: "state", state: "closed" },
    ];
    fake.answer("/v1/cluster/metrics", metrics(nodes));
    fake.answer("/v1/alerts", sixAlerts({ cross_node_latency: { value: 0.071, state: "firing", sinceSecondsAgo: 1 }, circuit_breaker_open_count: { value: 1 } }));

    await waitFor(`${testId("breaker")}[data-node="node-2"][data-domain="execution"]`);
    await waitFor(`${testId("metric-cross_node_latency")}[data-state="firing"]`);
    expect(await page.locator(testId("breaker")).count()).toBe(1);
    expect(await page.getAttribute(`${testId("node-row")}[data-node="node-2"]`, "class")).toContain("row-open");
    expect(await page.textContent(`${testId("metric-circuit_breaker_open_count")} ${testId("metric-value")}`)).toBe("1");
  }, 15_000);

  test("a node id and a domain holding markup are shown as text, never run", async () => {
    nodes.push({ id: hostileId, domains: [hostileDomain], breakers: [{ domain: hostileDomain, state: "open" }] });
    fake.answer("/v1/cluster/metrics", metrics(nodes));

    await page.waitForSelector(`${testId("node-row")}:nth-child(${nodes.length})`, { state: "attached", timeout: waitMs });
    // Expressions as strings: the project's TypeScript has no DOM library.
    const shown = await page.evaluate<{ dataNodes: string[]; breakerDomains: string[]; pwned: unknown; scripts: number; images: number }>(`({
      dataNodes: [...document.querySelectorAll('[data-testid="node-row"]')].map((row) => row.getAttribute("data-node")),
      breakerDomains: [...document.querySelectorAll('[data-testid="breaker"]')].map((b) => b.getAttribute("data-domain")),
      pwned: window.__pwned,
      scripts: document.scripts.length,
      images: document.images.length,
    })`);
    expect(await page.locator(`${testId("node-row")} td:first-child`).allTextContents()).toContain(hostileId);
    expect(shown.dataNodes).toContain(hostileId);
    expect(shown.breakerDomains).toContain(hostileDomain);
    expect(await page.textContent(testId("node-count"))).toBe("3/4");
    expect(shown.pwned).toBeUndefined();
    expect(shown.scripts).toBe(1);
    expect(shown.images).toBe(0);
  }, 15_000);

  test("a failing fetch marks the page stale, keeps the last data and polling, and recovers", async () => {
    fake.fail("/v1/cluster/metrics", 503);
    await page.waitForSelector(testId("stale"), { state: "visible", timeout: waitMs });
    expect(await page.textContent(testId("stale"))).toContain("metrics: HTTP 503");
    expect(await page.locator(testId("node-row")).count()).toBe(nodes.length);
    expect(await page.textContent(testId("health-status"))).toBe("degraded");

    const before = fake.requests("/v1/cluster/metrics");
    fake.restore("/v1/cluster/metrics");
    await page.waitForSelector(testId("stale"), { state: "hidden", timeout: waitMs });
    expect(fake.requests("/v1/cluster/metrics")).toBeGreaterThan(before);
  }, 15_000);

  test("one request in flight at a time, nothing fetched elsewhere, no script errors; a screenshot", async () => {
    // A few more polls so that the charts hold a line.
    const seen = fake.requests("/v1/alerts");
    await page.waitForSelector(`${testId("chart-rps")} path.line`, { state: "attached", timeout: waitMs });
    while (fake.requests("/v1/alerts") < seen + 2) await Bun.sleep(100);

    expect(fake.maxInFlight).toBe(1);
    expect(requested.filter((url) => !url.startsWith(fake.url + "/"))).toEqual([]);
    expect(new Set(requested.map((url) => new URL(url).pathname))).toEqual(new Set(["/", "/v1/cluster/metrics", "/v1/alerts"]));
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);

    mkdirSync(join(import.meta.dir, "artifacts"), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    console.log(`dashboard screenshot: ${screenshotPath}`);
  }, 15_000);
});
