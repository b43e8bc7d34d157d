// nagentctl as a process against real control planes: one member (config, watch across a
// restart, exit codes, and the registry, policy and token commands end to end) and a 3-member
// cluster (cluster status and transfer, check with a member down and without quorum). Rendering
// and argument details of the registry, policy and token commands are tested in-process against
// a contract stub in internal/ctl/commands.contract.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlaneProcess } from "../internal/testing/control-plane-process.ts";
import { freePort } from "../internal/testing/index.ts";
import { ControlPlaneClient } from "../pkg/index.ts";
import { ADMIN_TOKEN, startCluster, type Cluster } from "./support/cluster.ts";

const root = join(import.meta.dir, "..");
const MAIN = join(root, "cmd", "nagentctl", "main.ts");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function ctl(args: string[], env: Record<string, string> = {}, stdin?: string): Run {
  const result = Bun.spawnSync([process.execPath, MAIN, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env },
    ...(stdin !== undefined ? { stdin: new TextEncoder().encode(stdin) } : {}),
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

interface CheckJson {
  success: boolean;
  checks: { category: string; name: string; ok: boolean; warning?: boolean; detail: string; hint?: string }[];
}

describe("nagentctl against one control plane", () => {
  let cp: ControlPlaneProcess;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    cp = await startControlPlane();
    env = { NAGENT_ENDPOINTS: cp.url, NAGENT_TOKEN: cp.token };
    dir = mkdtempSync(join(tmpdir(), "nagentctl-"));
  });
  afterAll(async () => {
    await cp.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("config put, get, list, history, del, in text and JSON", () => {
    expect(ctl(["config", "put", "svc/payment/timeout", '{"ms":250}'], env)).toMatchObject({ code: 0, stderr: "" });
    const put = JSON.parse(ctl(["config", "put", "svc/payment/timeout", '{"ms":300}', "-o", "json"], env).stdout) as { key: string; revision: number };
    expect(put.key).toBe("svc/payment/timeout");

    expect(ctl(["config", "get", "svc/payment/timeout"], env)).toMatchObject({ code: 0, stdout: '{\n  "ms": 300\n}\n' });
    const got = JSON.parse(ctl(["-o", "json", "config", "get", "svc/payment/timeout", "--consistency", "serializable"], env).stdout) as Record<string, unknown>;
    expect(got).toMatchObject({ key: "svc/payment/timeout", value: { ms: 300 }, modRevision: put.revision, version: 2 });

    const file = join(dir, "value.json");
    writeFileSync(file, '["a", "b"]');
    expect(ctl(["config", "put", "svc/list", "-f", file], env).code).toBe(0);
    expect(ctl(["config", "put", "svc/stdin", "-f", "-"], env, '"from stdin"').code).toBe(0);
    expect(ctl(["config", "put", "svc/neg", "-1"], env).code).toBe(0);

    const listed = ctl(["config", "list", "svc/"], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^KEY\s+REVISION\s+VERSION\s+VALUE$/);
    expect(listed.stdout).toMatch(/svc\/list\s+\d+\s+1\s+\["a","b"\]/);
    expect(listed.stdout).toMatch(/svc\/neg\s+\d+\s+1\s+-1/);
    expect(listed.stdout).toContain('"from stdin"');

    const history = JSON.parse(ctl(["config", "history", "svc/payment/timeout", "-o", "json"], env).stdout) as { history: { value: unknown }[] };
    expect(history.history.map((h) => h.value)).toEqual([{ ms: 250 }, { ms: 300 }]);

    const stale = ctl(["config", "del", "svc/payment/timeout", "--if-match", String(put.revision - 1)], env);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^nagentctl: .*\(412 precondition_failed\)\n$/);
    expect(ctl(["config", "del", "svc/payment/timeout", "--if-match", String(put.revision)], env)).toMatchObject({ code: 0 });
    expect(ctl(["config", "get", "svc/payment/timeout"], env)).toMatchObject({ code: 1, stdout: "", stderr: "nagentctl: no config key svc/payment/timeout (404 not_found)\n" });
  });

  test("exit codes: not found 1, usage errors 2, a dead endpoint 1; -o json always parses", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const cases: [string[], Record<string, string>, number][] = [
      [["config", "get", "absent/key"], env, 1],
      [["config", "get"], env, 2],
      [["config", "put", "k", "{not json"], env, 2],
      [["config", "put", "k", "-f", join(dir, "missing.json")], env, 2],
      [["config", "put", "k", "1", "--if-match", "x"], env, 2],
      [["config", "frob"], env, 2],
      [["config", "get", "k", "--nope"], env, 2],
      [["frobnicate"], env, 2],
      [["config", "get", "k"], { ...env, NAGENT_ENDPOINTS: dead }, 1],
      [["config", "get", "k"], { ...env, NAGENT_TOKEN: "wrong" }, 1],
      [["cluster", "status"], env, 0],
      [["check"], { ...env, NAGENT_ENDPOINTS: dead }, 1],
    ];
    for (const [args, vars, code] of cases) {
      const run = ctl([...args, "-o", "json"], vars);
      expect({ args, code: run.code }).toEqual({ args, code });
      expect(() => JSON.parse(run.stdout)).not.toThrow();
      if (code !== 0) {
        expect(run.stderr).toStartWith("nagentctl: ");
        expect(run.stderr.trimEnd()).not.toContain("\n");
      }
    }
    const unavailable = ctl(["config", "get", "k"], { ...env, NAGENT_ENDPOINTS: dead });
    expect(unavailable.stderr).toBe(`nagentctl: no control-plane endpoint answered (${dead}: connection refused)\n`);
    // Failover: the dead endpoint first, the live one second.
    expect(ctl(["config", "list"], { ...env, NAGENT_ENDPOINTS: `${dead},${cp.url}` }).code).toBe(0);
  });

  test("check: the cluster checks pass; routes this control plane lacks fail as checks, not crashes", () => {
    const run = ctl(["check", "-o", "json"], env);
    const report = JSON.parse(run.stdout) as CheckJson;
    expect(run.code).toBe(report.success ? 0 : 1);
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    for (const name of ["reachable", "ready", "API", "leader", "quorum", "leader agreement", "lag cp-1"]) expect(byName.get(name)).toMatchObject({ ok: true });
    expect(byName.get("quorum")!.detail).toBe("1 of 1 voters reachable");
    for (const name of ["signing keys", "node health"]) {
      const check = byName.get(name)!;
      expect(check).toBeDefined();
      if (!check.ok) expect(check.hint).toBeTruthy();
    }
    for (const check of report.checks.filter((c) => !c.ok)) expect(check.hint).toBeTruthy();
    const text = ctl(["check"], env).stdout;
    expect(text).toContain("√ quorum (1 of 1 voters reachable)");
    expect(text).toMatch(/Status check results are [√×]/);
  });

  test("config watch streams JSON lines, resumes across a control-plane restart, ends with 0 on Ctrl-C", async () => {
    const watcher = Bun.spawn([process.execPath, MAIN, "config", "watch", "w/", "-o", "json"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const lines: string[] = [];
    const reader = watcher.stdout.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const pump = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        const parts = buffer.split("\n");
        buffer = parts.pop() ?? "";
        lines.push(...parts.filter((line) => line !== ""));
      }
    })();
    const until = async (count: number) => {
      const deadline = Date.now() + 20_000;
      while (lines.length < count && Date.now() < deadline) await Bun.sleep(50);
    };

    // The watch starts after the store's current revision: give it a moment to connect.
    await Bun.sleep(1500);
    for (let i = 1; i <= 3; i++) expect(ctl(["config", "put", `w/k${i}`, String(i)], env).code).toBe(0);
    await until(3);
    await cp.stop();
    await cp.start();
    for (let i = 4; i <= 6; i++) expect(ctl(["config", "put", `w/k${i}`, String(i)], env).code).toBe(0);
    expect(ctl(["config", "del", "w/k1"], env).code).toBe(0);
    await until(7);

    process.kill(watcher.pid, "SIGINT");
    const code = await watcher.exited;
    await pump;
    const stderr = await new Response(watcher.stderr).text();
    expect(code).toBe(0);
    const events = lines.map((line) => JSON.parse(line) as { type: string; key: string; value?: unknown; revision: number });
    expect(events.map((e) => [e.type, e.key, e.value])).toEqual([
      ["put", "w/k1", 1],
      ["put", "w/k2", 2],
      ["put", "w/k3", 3],
      ["put", "w/k4", 4],
      ["put", "w/k5", 5],
      ["put", "w/k6", 6],
      ["delete", "w/k1", undefined],
    ]);
    const revisions = events.map((e) => e.revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(stderr).toContain("nagentctl: watch interrupted (");
    expect(stderr).toContain("nagentctl: watch resumed from");
  }, 60_000);
});

const POLICIES = `
kind: resilience
name: execution-calls
spec:
  target: { domain: execution }
  timeoutMs: 5000
  retry:
    maxAttempts: 3
    backoff: { type: exponential, initialMs: 100 }
---
kind: authz
name: execution-access
spec:
  action: allow
  target: { domains: [execution] }
  rules:
    - subjects: [svc-planner]
      methods: [GET, POST]
`;

describe("nagentctl against one control plane: registry, policies, tokens", () => {
  let cp: ControlPlaneProcess;
  let env: Record<string, string>;
  let sdk: ControlPlaneClient;
  let dir: string;

  beforeAll(async () => {
    cp = await startControlPlane();
    env = { NAGENT_ENDPOINTS: cp.url, NAGENT_TOKEN: cp.token };
    sdk = new ControlPlaneClient({ endpoints: [cp.url], token: cp.token });
    dir = mkdtempSync(join(tmpdir(), "nagentctl-policies-"));
  });
  afterAll(async () => {
    await cp.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("nodes and proxy-status show registered nodes and their sync state", async () => {
    await sdk.registerNode("node-a", { address: "http://127.0.0.1:15006", domains: ["execution", "core"] });
    await sdk.registerNode("node-b", { address: "http://127.0.0.1:15007", domains: ["state"] });
    const { revision } = await sdk.listNodes();
    await sdk.heartbeat("node-a", { configRevision: revision, configAppliedAt: new Date().toISOString() });

    const nodes = ctl(["nodes"], env);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout.split("\n")[0]).toMatch(/^ID\s+ADDRESS\s+DOMAINS\s+HEALTHY\s+CONFIG REVISION\s+LAST HEARTBEAT$/);
    expect(nodes.stdout).toMatch(new RegExp(`node-a\\s+http://127.0.0.1:15006\\s+execution,core\\s+yes\\s+${revision}\\s+\\d+s ago`));
    expect(nodes.stdout).toMatch(/node-b\s+http:\/\/127.0.0.1:15007\s+state\s+yes\s+-\s+(never|\d+s ago)/);
    const json = JSON.parse(ctl(["nodes", "--domain", "state", "-o", "json"], env).stdout) as { nodes: { id: string }[] };
    expect(json.nodes.map((n) => n.id)).toEqual(["node-b"]);

    const status = JSON.parse(ctl(["proxy-status", "-o", "json"], env).stdout) as { nodes: { id: string; sync: string }[] };
    expect(status.nodes.map((n) => [n.id, n.sync])).toEqual([
      ["node-a", "synced"],
      ["node-b", "unknown"],
    ]);
    expect(ctl(["proxy-status"], env).stdout).toMatch(/node-a\s+\S+\s+yes\s+\d+\s+\d+\s+SYNCED/);

    const check = JSON.parse(ctl(["check", "-o", "json"], env).stdout) as CheckJson;
    expect(check.checks.find((c) => c.name === "node health")).toMatchObject({ ok: true, detail: "2 nodes registered, all healthy" });
    expect(check.checks.find((c) => c.name === "signing keys")).toMatchObject({ ok: true });
  });

  test("policy apply: created, then unchanged, then changed field by field; refused fields named; get, list, delete", () => {
    const file = join(dir, "policies.yaml");
    writeFileSync(file, POLICIES);
    const created = ctl(["policy", "apply", "-f", file], env);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("resilience/execution-calls: new\n  + target.domain: \"execution\"\n");
    expect(created.stdout).toEndWith("2 created, 0 updated, 0 unchanged\n");
    expect(ctl(["policy", "apply", "-f", file], env).stdout).toEndWith("0 created, 0 updated, 2 unchanged\n");

    writeFileSync(file, POLICIES.replace("maxAttempts: 3", "maxAttempts: 5"));
    const dry = ctl(["policy", "apply", "-f", file, "--dry-run"], env);
    expect(dry.stdout).toContain("resilience/execution-calls: changed\n  ~ retry.maxAttempts: 3 → 5\n");
    expect(dry.stdout).toEndWith("dry run: 0 to create, 1 to update, 1 unchanged; nothing was applied\n");
    expect(ctl(["policy", "apply", "-f", file], env).stdout).toEndWith("0 created, 1 updated, 1 unchanged\n");

    writeFileSync(file, POLICIES.replace("maxAttempts: 3", "maxAttempts: 99"));
    const refused = ctl(["policy", "apply", "-f", file], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toStartWith("nagentctl: resilience/execution-calls: ");
    expect(refused.stderr).toContain("(400 invalid_policy at retry.maxAttempts)");

    const got = ctl(["policy", "get", "resilience", "execution-calls"], env);
    expect(got.code).toBe(0);
    writeFileSync(file, got.stdout);
    expect(ctl(["policy", "apply", "-f", file], env).stdout).toContain("resilience/execution-calls: unchanged");
    const listed = JSON.parse(ctl(["policy", "list", "-o", "json"], env).stdout) as { policies: { kind: string; name: string }[] };
    expect(listed.policies.map((p) => `${p.kind}/${p.name}`).sort()).toEqual(["authz/execution-access", "resilience/execution-calls"]);
    expect(ctl(["policy", "delete", "authz", "execution-access"], env).code).toBe(0);
    expect(ctl(["policy", "get", "authz", "execution-access"], env).code).toBe(1);
  });

  test("token issue prints a token the authority knows; token revoke ends it", async () => {
    const issued = ctl(["token", "issue", "--subject", "svc-planner", "--role", "node", "--ttl", "10m"], env);
    expect(issued).toMatchObject({ code: 0, stderr: "" });
    const token = issued.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const seen = await sdk.introspectToken(token);
    expect(seen).toMatchObject({ active: true, subject: "svc-planner", roles: ["node"] });

    const key = JSON.parse(ctl(["token", "issue", "--subject", "ci", "--role", "reader", "--api-key", "-o", "json"], env).stdout) as { token: string; kind: string; id: string };
    expect(key.kind).toBe("api-key");
    const revoked = ctl(["token", "revoke", key.token], env);
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked api-key ${key.id}\n` });
    expect(await sdk.introspectToken(key.token)).toEqual({ active: false });
  });
});

describe("nagentctl against a 3-member cluster", () => {
  let cluster: Cluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startCluster({ size: 3, logLevel: "warn" });
    await cluster.waitForLeader();
    env = { NAGENT_ENDPOINTS: cluster.members.map((m) => m.url).join(","), NAGENT_TOKEN: ADMIN_TOKEN };
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  test("cluster status, then leadership handed over with cluster transfer", async () => {
    const status = JSON.parse(ctl(["cluster", "status", "-o", "json"], env).stdout) as { leader: string; members: { id: string; role: string }[] };
    expect(status.members.map((m) => m.id)).toEqual(["cp-1", "cp-2", "cp-3"]);
    const text = ctl(["cluster", "status"], env).stdout;
    expect(text).toStartWith(`store raft, leader ${status.leader}, term `);
    expect(text).toMatch(/^ID\s+URL\s+ROLE\s+COMMIT\s+APPLIED\s+MATCH$/m);

    const target = status.members.find((m) => m.id !== status.leader)!.id;
    expect(ctl(["cluster", "transfer", target], env)).toMatchObject({ code: 0, stdout: `leadership moved to ${target}\n` });
    expect(await cluster.waitForLeader()).toBe(target);
    expect(ctl(["cluster", "remove", "cp-9"], env)).toMatchObject({ code: 1 });
    expect(ctl(["cluster", "add", "cp-4", "ftp://x"], env)).toMatchObject({ code: 2, stderr: 'nagentctl: "ftp://x" is not an http:// or https:// URL\n' });
  }, 30_000);

  test("check: quorum, one leader for all, each member's lag", () => {
    const report = JSON.parse(ctl(["check", "-o", "json"], env).stdout) as CheckJson;
    const cluster = report.checks.filter((c) => c.category === "cluster");
    expect(cluster.map((c) => c.name)).toEqual(["leader", "quorum", "leader agreement", "lag cp-1", "lag cp-2", "lag cp-3"]);
    expect(cluster.every((c) => c.ok)).toBe(true);
    expect(cluster[1]!.detail).toBe("3 of 3 voters reachable");
    expect(cluster[2]!.detail).toMatch(/^the 3 reachable members follow cp-\d$/);
    expect(report.checks.filter((c) => c.name === "API").every((c) => c.ok)).toBe(true);
  });

  test("check with a member down: quorum holds with a warning naming it; without quorum it fails with hints", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.id !== leader)!;
    await cluster.kill(follower);
    const degraded = JSON.parse(ctl(["check", "-o", "json"], env).stdout) as CheckJson;
    const quorum = degraded.checks.find((c) => c.name === "quorum")!;
    expect(quorum).toMatchObject({ ok: true, warning: true });
    expect(quorum.detail).toStartWith(`2 of 3 voters reachable (${follower.id}: `);
    expect(degraded.checks.find((c) => c.category === `control plane ${follower.url}` && c.name === "reachable")).toMatchObject({ ok: false });
    // A dead first endpoint: the other commands fail over.
    expect(ctl(["config", "put", "after/kill", "1"], { ...env, NAGENT_ENDPOINTS: [follower.url, ...cluster.members.filter((m) => m !== follower).map((m) => m.url)].join(",") }).code).toBe(0);

    const other = cluster.members.find((m) => m.id !== leader && m !== follower)!;
    await cluster.kill(other);
    const run = ctl(["check", "-o", "json"], env);
    expect(run.code).toBe(1);
    const broken = JSON.parse(run.stdout) as CheckJson;
    expect(broken.success).toBe(false);
    expect(broken.checks.find((c) => c.name === "quorum")).toMatchObject({ ok: false, detail: expect.stringMatching(/^1 of 3 voters reachable/) });
    for (const check of broken.checks.filter((c) => !c.ok)) expect(check.hint).toBeTruthy();
    const text = ctl(["check"], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("× quorum (1 of 3 voters reachable");
    expect(text.stdout).toContain("    hint: the cluster accepts writes only while a majority");
  }, 60_000);
});
