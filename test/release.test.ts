// `npm run release`: the tarball holds the four binaries, the systemd units, the example
// configuration, Prometheus and Grafana files and a SHA256SUMS that checks; the binaries run from
// it and name their version and commit ("-dirty" exactly when the tree has uncommitted changes).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeCommit } from "../internal/version/commit.ts";
import { VERSION } from "../internal/version/index.ts";

const root = join(import.meta.dir, "..");
const out = mkdtempSync(join(tmpdir(), "nagent-release-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const run = (command: string[], cwd = root) => {
  const result = Bun.spawnSync(command, { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
};

test("npm run release builds a tarball that verifies and runs", () => {
  const released = run([process.execPath, join(root, "scripts", "release.ts"), "--out", out]);
  expect(released.stderr).toBe("");
  expect(released.code).toBe(0);
  const name = `nagent-mesh-${VERSION}-${process.platform}-${process.arch}`;
  const tarball = join(out, `${name}.tar.gz`);
  expect(existsSync(tarball)).toBe(true);

  // The download checks against its .sha256, as the README says.
  expect(run(["sha256sum", "-c", `${name}.tar.gz.sha256`], out).code).toBe(0);
  expect(run(["tar", "-xzf", tarball, "-C", out]).code).toBe(0);
  const top = join(out, name);
  for (const file of ["bin/control-plane", "bin/sidecar", "bin/aggregator", "bin/nagentctl", "SHA256SUMS", "VERSION", "README.md", "prometheus/prometheus.yml", "prometheus/rules/nagent-alerts.yml", "grafana/nagent-cluster.json", "systemd/nagent-control-plane.service", "systemd/nagent-sidecar@.service", "systemd/nagent-aggregator.service"]) {
    expect(existsSync(join(top, file))).toBe(true);
  }
  const sums = run(["sha256sum", "-c", "SHA256SUMS"], top);
  expect(sums.code).toBe(0);
  expect(sums.stdout.split("\n").filter((line) => line.endsWith(": OK")).length).toBeGreaterThan(10);

  const commit = describeCommit(root)!;
  expect(commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  const clean = run(["git", "status", "--porcelain"]).stdout.trim() === "";
  expect(commit.endsWith("-dirty")).toBe(!clean);
  for (const binary of ["control-plane", "sidecar", "aggregator", "nagentctl"]) {
    const version = run([join(top, "bin", binary), "--version"], out);
    expect(version.code).toBe(0);
    expect(version.stdout).toContain(`${binary} ${VERSION} (commit ${commit}`);
  }
  expect(readFileSync(join(top, "VERSION"), "utf8")).toContain(`commit ${commit}`);
}, 120_000);
