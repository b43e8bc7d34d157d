// build/grafana/nagent-cluster.json: the Grafana dashboard imports cleanly (a datasource variable,
// no hard-wired datasource), its queries are valid PromQL, and every metric they read is one this
// project exports. The exported set is read from the sources, not listed here, so a metric that is
// renamed in code and not on the dashboard fails this test with the metric's name.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry, collectDefaultMetrics } from "prom-client";
import { parse, stringify } from "yaml";

const root = join(import.meta.dir, "..");
const DASHBOARD = "build/grafana/nagent-cluster.json";
const AGGREGATOR_DOC = "docs/aggregator.md";
const ALERT_RULES = "build/prometheus/rules/nagent-alerts.yml";
const DATASOURCE_UID = "${DS_PROMETHEUS}";

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Threshold {
  color: string;
  value: number | null;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { thresholds?: { steps?: Threshold[] } } };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

const dashboard = JSON.parse(readFileSync(join(root, DASHBOARD), "utf8")) as Dashboard;

/** Every panel, rows' nested panels (collapsed rows keep theirs in `panels`) included. */
function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

/** Each query with the panel it belongs to. */
function queries(): { panel: Panel; expr: string }[] {
  return allPanels(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) => (target.expr === undefined ? [] : [{ panel, expr: target.expr }])),
  );
}

// ---- PromQL: the metric names an expression reads

const CLAUSES = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi;
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);
// A duration or number, a name (a function or aggregation when "(" follows), or a Grafana variable.
const TOKEN = /(\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?)|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?|(\$\{?\w+\}?)/gi;

/**
 * The metric names a PromQL expression selects. Strings (label values), label matchers, range
 * selectors and by/without/on/ignoring/group_* clauses are dropped; of what is left, a name
 * followed by "(" is a function or an aggregation and a keyword is an operator, every other name
 * is a metric. `{__name__="x"}` counts as x.
 */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const match of expr.matchAll(/__name__\s*=\s*"([^"]*)"/g)) names.add(match[1]!);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/#[^\n]*/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(CLAUSES, " ");
  for (const [, , name, call] of bare.matchAll(TOKEN)) {
    if (name === undefined || call !== undefined || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

// ---- What the project exports

/** The series names a metric of this type exposes. */
function seriesNames(name: string, type: string): string[] {
  const kind = type.toLowerCase();
  if (kind.includes("histogram")) return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (kind.includes("summary")) return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/** The text from an opening "(" at `open` to its matching ")", skipping strings and comments. */
function balancedArguments(source: string, open: number): string {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' || c === "'" || c === "`") {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === "\\") i++;
    } else if (c === "/" && source[i + 1] === "/") {
      i = source.indexOf("\n", i);
      if (i === -1) break;
    } else if (c === "/" && source[i + 1] === "*") {
      i = source.indexOf("*/", i) + 1;
      if (i === 0) break;
    } else if (c === "(") {
      depth++;
    } else if (c === ")" && --depth === 0) {
      return source.slice(open, i + 1);
    }
  }
  return source.slice(open);
}

const CONSTRUCTOR = /\bnew\s+(Counter|Gauge|Histogram|Summary|FastHistogram)\s*(?:<[^>]*>)?\s*\(/g;

/** Metrics defined in internal/**: prom-client constructors and FastHistogram, by their literal name. */
function metricsInSources(): Map<string, string> {
  const found = new Map<string, string>();
  const files = [...new Bun.Glob("internal/**/*.ts").scanSync({ cwd: root })].filter((file) => !file.endsWith(".test.ts"));
  for (const file of files) {
    const source = readFileSync(join(root, file), "utf8");
    for (const match of source.matchAll(CONSTRUCTOR)) {
      const args = balancedArguments(source, match.index + match[0].length - 1);
      const name = /\bname\s*:\s*(["'`])([A-Za-z_:][A-Za-z0-9_:]*)\1/.exec(args)?.[2];
      if (name !== undefined) found.set(name, match[1]!);
    }
  }
  return found;
}

/** The table under "### `GET /metrics`" in docs/aggregator.md: metric name and type. */
function metricsInAggregatorDoc(): Map<string, string> {
  const doc = readFileSync(join(root, AGGREGATOR_DOC), "utf8");
  const start = doc.indexOf("### `GET /metrics`");
  if (start === -1) throw new Error(`${AGGREGATOR_DOC} has no "### \`GET /metrics\`" section`);
  const found = new Map<string, string>();
  let inTable = false;
  for (const line of doc.slice(start).split("\n").slice(1)) {
    if (!line.startsWith("|")) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const row = /^\|\s*`([A-Za-z_:][A-Za-z0-9_:]*)`\s*\|([^|]*)\|/.exec(line);
    if (row !== null) found.set(row[1]!, row[2]!.trim());
  }
  return found;
}

/** What collectDefaultMetrics registers in this runtime (process_*, nodejs_*). */
async function defaultMetrics(): Promise<Map<string, string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = await registry.getMetricsAsJSON();
  return new Map(metrics.map((metric) => [metric.name, String(metric.type)]));
}

async function exportedSeries(): Promise<Set<string>> {
  const exported = new Set<string>(["up"]);
  for (const source of [metricsInSources(), metricsInAggregatorDoc(), await defaultMetrics()]) {
    for (const [name, type] of source) for (const series of seriesNames(name, type)) exported.add(series);
  }
  return exported;
}

// ---- promtool, to parse the queries

function promtool(): string {
  const found = Bun.which("promtool", { PATH: [process.env.PATH ?? "", "/usr/bin"].join(":") });
  if (found === null) {
    throw new Error(
      "promtool is not on PATH nor in /usr/bin, and this test parses the dashboard's queries with it: install " +
        "Debian's `prometheus` package (apt-get install prometheus), or run `npm test`, which installs it.",
    );
  }
  return found;
}

const scratch = mkdtempSync(join(tmpdir(), "nagent-dashboard-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("metricNames", () => {
  test.each([
    ["rate(nagent_cluster_requests_total[1m])", ["nagent_cluster_requests_total"]],
    [
      'histogram_quantile(0.99, sum by (le) (rate(nagent_cluster_request_duration_seconds_bucket{job="a", le!="+Inf"}[$__rate_interval])))',
      ["nagent_cluster_request_duration_seconds_bucket"],
    ],
    ['sum(rate(a_total{x=~"b|c"}[5m] offset 1h)) by (node) / on (node) group_left (domains) b_info', ["a_total", "b_info"]],
    ["count(nagent_alert_state == 2) or vector(0)", ["nagent_alert_state"]],
    ['max_over_time(up{job="x"}[10m:1m]) > bool 1e3 unless {__name__="c:d"}', ["c:d", "up"]],
    ['label_replace(process_open_fds, "to", "$1", "from", "(.*)") * $scale', ["process_open_fds"]],
  ])("%s", (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe("Grafana dashboard", () => {
  test("imports cleanly: schema 39-ish, a Prometheus datasource variable, every query on it", () => {
    expect(dashboard.uid).toBe("nagent-cluster");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variable = dashboard.templating.list.find((v) => `\${${v.name}}` === DATASOURCE_UID);
    expect(variable?.type).toBe("datasource");
    expect(variable?.query).toBe("prometheus");
    for (const panel of allPanels(dashboard.panels)) {
      if (panel.type === "row") continue;
      expect(panel.datasource, `panel "${panel.title}"`).toEqual({ type: "prometheus", uid: DATASOURCE_UID });
      expect(panel.targets?.length ?? 0, `panel "${panel.title}" has no query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource, `a query of panel "${panel.title}"`).toEqual({ type: "prometheus", uid: DATASOURCE_UID });
      }
    }
  });

  test("panel ids are unique and panels sit on the 24-column grid without overlapping", () => {
    const panels = allPanels(dashboard.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const overlaps: string[] = [];
    panels.forEach((a, i) => {
      expect(a.gridPos.x + a.gridPos.w, `panel "${a.title}" is wider than the grid`).toBeLessThanOrEqual(24);
      for (const b of panels.slice(i + 1)) {
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        if (!apart) overlaps.push(`"${a.title}" and "${b.title}"`);
      }
    });
    expect(overlaps).toEqual([]);
  });

  test("every query is valid PromQL (promtool check rules)", () => {
    const all = queries();
    expect(all.length).toBeGreaterThan(0);
    const rules = all.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr }));
    const file = join(scratch, "dashboard-queries.yml");
    writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
    const result = Bun.spawnSync([promtool(), "check", "rules", file], { stdout: "pipe", stderr: "pipe" });
    const output = `${result.stdout.toString()}${result.stderr.toString()}`;
    if (result.exitCode !== 0) {
      const listing = all.map(({ panel, expr }, i) => `  dashboard:query_${i} (panel "${panel.title}"): ${expr}`).join("\n");
      throw new Error(`promtool rejected a dashboard query:\n${output}\nqueries:\n${listing}`);
    }
  });

  test("every metric the dashboard reads is one Nagent Mesh exports", async () => {
    const fromSources = metricsInSources();
    const fromDoc = metricsInAggregatorDoc();
    // The scanners found what they must, so an empty or broken scan cannot pass by accident.
    for (const name of ["nagent_sidecar_request_duration_seconds", "nagent_sidecar_circuit_breaker_state", "nagent_raft_term", "http_server_request_duration_seconds"]) {
      expect(fromSources.has(name), `${name} not found in internal/**/*.ts`).toBe(true);
    }
    expect(fromSources.get("nagent_sidecar_request_duration_seconds")).toBe("FastHistogram");
    for (const name of ["nagent_cluster_health_score", "nagent_cluster_request_duration_seconds", "nagent_alert_state", "nagent_aggregator_scrape_duration_seconds"]) {
      expect(fromDoc.has(name), `${name} not found in ${AGGREGATOR_DOC}'s metrics table`).toBe(true);
    }
    expect(fromDoc.get("nagent_cluster_request_duration_seconds")).toContain("histogram");

    const exported = await exportedSeries();
    expect(exported.has("process_cpu_seconds_total")).toBe(true);
    expect(exported.has("nagent_cluster_request_duration_seconds_bucket")).toBe(true);

    const unknown = queries().flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${name} (panel "${panel.title}": ${expr})`),
    );
    expect(unknown, `the dashboard reads metrics nothing exports:\n${unknown.join("\n")}`).toEqual([]);
  });

  test("each critical metric is drawn with the threshold of its alert rule", () => {
    const rules = parse(readFileSync(join(root, ALERT_RULES), "utf8")) as { groups: { rules: { expr: string }[] }[] };
    const thresholds = rules.groups
      .flatMap((group) => group.rules)
      .flatMap((rule) => {
        const m = /^(nagent_[a-z0-9_]+) [<>] ([0-9.]+)$/.exec(rule.expr.trim());
        return m === null ? [] : [[m[1]!, Number(m[2])] as const];
      });
    expect(thresholds.length).toBe(6);
    for (const [metric, threshold] of thresholds) {
      const panels = queries()
        .filter(({ expr }) => expr.trim() === metric)
        .map(({ panel }) => panel);
      expect(panels.length, `no panel shows ${metric}`).toBeGreaterThan(0);
      for (const panel of panels) {
        const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
        expect(steps.map((step) => step.value), `panel "${panel.title}" (${metric}) does not draw ${threshold}`).toContain(threshold);
      }
    }
  });
});
