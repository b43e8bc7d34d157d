// build/prometheus/: the Prometheus configuration, the alert rules on the aggregator's critical
// metrics and their promtool unit tests must all be accepted by a real promtool. A missing
// promtool fails the suite (npm test installs it) rather than skipping it.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const root = join(import.meta.dir, "..");
const CONFIG = "build/prometheus/prometheus.yml";
const RULES = "build/prometheus/rules/nagent-alerts.yml";
const RULE_TESTS = "build/prometheus/rules/nagent-alerts.test.yml";

/** promtool on PATH, else Debian's /usr/bin/promtool; a missing one names the package to install. */
function promtool(): string {
  const found = Bun.which("promtool", { PATH: [process.env.PATH ?? "", "/usr/bin"].join(":") });
  if (found === null) {
    throw new Error(
      "promtool is not on PATH nor in /usr/bin, and these tests need a real one: install Debian's `prometheus` " +
        "package (apt-get install prometheus), or run `npm test`, which installs it.",
    );
  }
  return found;
}

/** Runs promtool from the repository root; a non-zero exit throws with everything promtool said. */
function runPromtool(...args: string[]): string {
  const result = Bun.spawnSync([promtool(), ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const output = `${result.stdout.toString()}${result.stderr.toString()}`;
  if (result.exitCode !== 0) {
    throw new Error(`promtool ${args.join(" ")} exited with ${result.exitCode}:\n${output}`);
  }
  return output;
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): AlertRule[] {
  const file = parse(readFileSync(join(root, RULES), "utf8")) as { groups: { rules: AlertRule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

describe("Prometheus configuration and alert rules", () => {
  test("promtool check config accepts prometheus.yml and the rule files it names", () => {
    const output = runPromtool("check", "config", CONFIG);
    expect(output).toContain("1 rule files found");
  });

  test("promtool check rules accepts the alert rules", () => {
    const output = runPromtool("check", "rules", RULES);
    expect(output).toContain("SUCCESS");
  });

  test("promtool test rules passes the rules' unit tests", () => {
    const output = runPromtool("test", "rules", RULE_TESTS);
    expect(output).toContain("SUCCESS");
  });

  test("one alert per critical metric on its strict threshold, plus the aggregator being down", () => {
    const byExpr = new Map(alertRules().map((rule) => [rule.expr.trim(), rule]));
    // The aggregator's gauges (docs/aggregator.md) and its default thresholds and --alert-for.
    const expected: [string, string][] = [
      ["nagent_control_plane_availability_ratio < 0.99", "30s"],
      ["nagent_config_sync_latency_seconds > 10", "30s"],
      ["nagent_cross_node_latency_p99_seconds > 0.05", "30s"],
      ["nagent_network_partition_duration_seconds > 30", "30s"],
      ["nagent_request_success_ratio < 0.95", "30s"],
      ["nagent_circuit_breakers_open > 5", "30s"],
      ['up{job="nagent-aggregator"} == 0', "1m"],
    ];
    for (const [expr, forDuration] of expected) {
      const rule = byExpr.get(expr);
      expect(rule, `no alert with expr ${expr}`).toBeDefined();
      expect(rule?.for).toBe(forDuration);
    }
    expect(byExpr.size).toBe(expected.length);
  });

  test("every alert has a CamelCase name, a severity and a summary and description", () => {
    for (const rule of alertRules()) {
      expect(rule.alert ?? "").toMatch(/^Nagent[A-Z][A-Za-z]+$/);
      expect(["critical", "warning"]).toContain(rule.labels?.severity ?? "");
      expect(rule.annotations?.summary ?? "").not.toBe("");
      expect(rule.annotations?.description ?? "").not.toBe("");
    }
  });
});
