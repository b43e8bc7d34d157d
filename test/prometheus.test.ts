// A real Prometheus (Debian's) with build/prometheus/prometheus.yml, pointed at a real aggregator
// over a small running mesh: it discovers every sidecar and the control-plane member through the
// aggregator's /v1/targets, scrapes them and the aggregator, finds them up with their labels, and
// loads the alerting rules.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, until, waitUntilReady, type ServiceProcess } from "../internal/testing/index.ts";
import { startAggregator, type AggregatorProcess } from "./support/aggregator.ts";
import { startMesh, type Mesh } from "./support/mesh.ts";

const root = join(import.meta.dir, "..");
let mesh: Mesh;
let aggregator: AggregatorProcess;
let prometheus: ServiceProcess;
let prometheusUrl: string;

function prometheusBinary(): string {
  const found = Bun.which("prometheus") ?? (Bun.file("/usr/bin/prometheus").size > 0 ? "/usr/bin/prometheus" : null);
  if (found === null) throw new Error("prometheus is not installed: apt-get install prometheus (npm test installs it)");
  return found;
}

beforeAll(async () => {
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution"] },
    ],
  });
  aggregator = await startAggregator(mesh.cp.url, mesh.cp.token, ["--scrape-interval", "1s"]);
  // The shipped configuration, pointed at this aggregator, with intervals short enough for a test.
  const dir = mkdtempSync(join(tmpdir(), "nagent-prometheus-"));
  cpSync(join(root, "build", "prometheus", "rules"), join(dir, "rules"), { recursive: true });
  const aggregatorHost = aggregator.url.replace("http://", "");
  const config = readFileSync(join(root, "build", "prometheus", "prometheus.yml"), "utf8")
    .replaceAll("localhost:9100", aggregatorHost)
    .replace(/scrape_interval: 15s/, "scrape_interval: 1s")
    .replace(/evaluation_interval: 15s/, "evaluation_interval: 1s")
    .replace(/scrape_timeout: 5s/, "scrape_timeout: 1s")
    .replace(/refresh_interval: 15s/, "refresh_interval: 1s");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawnService({
    name: "prometheus",
    command: [prometheusBinary(), `--config.file=${join(dir, "prometheus.yml")}`, `--web.listen-address=127.0.0.1:${port}`, `--storage.tsdb.path=${join(dir, "data")}`, "--log.level=warn"],
    ownedDir: dir,
  });
  await waitUntilReady(prometheus, async () => (await fetch(`${prometheusUrl}/-/ready`, { signal: AbortSignal.timeout(500) })).ok);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await aggregator?.stop();
  await mesh?.stop();
}, 60_000);

interface ActiveTarget {
  labels: Record<string, string>;
  health: "up" | "down" | "unknown";
  lastError: string;
}

test("Prometheus discovers every sidecar and member through the aggregator and finds them up", async () => {
  const targets = await until(
    async () => {
      const body = (await (await fetch(`${prometheusUrl}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: ActiveTarget[] } };
      const active = body.data.activeTargets;
      const up = active.filter((t) => t.health === "up");
      return up.length === 4 ? active : undefined;
    },
    { what: "4 targets up in Prometheus (the aggregator, 2 sidecars, 1 member)", timeoutMs: 30_000 },
  );
  const byJob = (job: string) => targets.filter((t) => t.labels.job === job);
  expect(byJob("nagent-aggregator")).toHaveLength(1);
  expect(byJob("nagent-sidecar").map((t) => t.labels.node).sort()).toEqual(["node-a", "node-b"]);
  expect(byJob("nagent-sidecar").find((t) => t.labels.node === "node-b")!.labels.domains).toBe("execution");
  expect(byJob("nagent-control-plane")).toHaveLength(1);
});

test("it scrapes the aggregator's figures and the sidecars' own metrics, and holds the alert rules", async () => {
  const query = async (expr: string) =>
    ((await (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  await until(async () => (await query("nagent_cluster_health_score")).length === 1, { what: "the aggregator's health score in Prometheus", timeoutMs: 20_000 });
  const score = await query("nagent_cluster_health_score");
  expect(Number(score[0]!.value[1])).toBe(1);
  const targets = await query('nagent_cluster_targets{job="nagent-sidecar",state="up"}');
  expect(Number(targets[0]!.value[1])).toBe(2);
  await until(async () => (await query('nagent_sidecar_config_revision{job="nagent-sidecar"}')).length === 2, { what: "both sidecars' own metrics" });
  const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
  const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
  expect(names).toContain("NagentCircuitBreakersOpen");
  expect(names).toContain("NagentControlPlaneAvailabilityLow");
  expect(names.length).toBeGreaterThanOrEqual(7);
});
