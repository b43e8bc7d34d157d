// The dashboard of a real aggregator, in headless Chromium, over a real mesh: it shows the nodes
// the registry holds, and a circuit breaker that opens because an app starts failing appears on
// the page within seconds, with its alert firing. The screenshot is kept as an artifact.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { until } from "../internal/testing/index.ts";
import { startAggregator, type AggregatorProcess } from "./support/aggregator.ts";
import { startMesh, type Mesh } from "./support/mesh.ts";

const screenshotPath = join(import.meta.dir, "artifacts", "aggregator-dashboard-live.png");
let mesh: Mesh;
let aggregator: AggregatorProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution", "state"] },
      { id: "node-c", domains: ["coordination"] },
    ],
  });
  aggregator = await startAggregator(mesh.cp.url, mesh.cp.token, ["--scrape-interval", "1s", "--scrape-timeout", "500ms", "--alert-for", "1s", "--thresholds", "circuit_breaker_open_count=0"]);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => pageErrors.push(error.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await aggregator?.stop();
  await mesh?.stop();
}, 60_000);

test("the page shows the mesh's nodes, and a breaker opened by a failing app within seconds", async () => {
  await page.goto(`${aggregator.url}/`);
  await page.getByTestId("node-count").filter({ hasText: "3/3" }).waitFor({ timeout: 15_000 });
  expect(await page.getByTestId("node-row").count()).toBe(3);
  expect(await page.getByTestId("health-status").getAttribute("data-status")).toBe("healthy");
  expect(await page.getByTestId("breakers-empty").isVisible()).toBe(true);

  // node-a calls execution through a breaker; node-b's app starts failing.
  await mesh.admin.putPolicy("resilience", "execution-breaker", {
    target: { domain: "execution" },
    circuitBreaker: { trip: "consecutiveFailures >= 2", openMs: 30_000, halfOpenRequests: 1 },
  });
  await until(async () => (await mesh.node("node-a").status()).held.resiliencePolicies.includes("execution-breaker"), { what: "the policy at node-a" });
  const caller = await mesh.token("agent-1", ["agent"]);
  await mesh.node("node-b").behave({ status: 503 });
  const injectedAt = Date.now();
  for (let i = 0; i < 3; i++) await (await mesh.node("node-a").invoke("execution", "/fail", { token: caller })).arrayBuffer();

  const breaker = page.locator('[data-testid="breaker"][data-node="node-a"][data-domain="execution"]');
  await breaker.waitFor({ timeout: 10_000 });
  const shownAfterMs = Date.now() - injectedAt;
  expect(await breaker.getAttribute("data-state")).toBe("open");
  await page.locator('[data-testid="metric-circuit_breaker_open_count"][data-state="firing"]').waitFor({ timeout: 10_000 });

  mkdirSync(join(import.meta.dir, "artifacts"), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  console.log(`breaker shown ${shownAfterMs} ms after the failure was injected; screenshot: ${screenshotPath}`);
  expect(shownAfterMs).toBeLessThan(10_000);
  expect(pageErrors).toEqual([]);
  await mesh.node("node-b").behave({ status: 200 });
  await mesh.admin.deletePolicy("resilience", "execution-breaker");
}, 60_000);
