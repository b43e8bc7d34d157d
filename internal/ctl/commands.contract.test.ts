// nagentctl's registry, policy, token, check and proxy-status commands AGAINST A CONTRACT STUB
// (contract-stub.ts): an in-process server answering the API contract, because the control
// plane's side of those routes does not exist yet. Argument handling, rendering, the requests
// sent and exit codes are checked here; end-to-end tests against the real control plane follow
// once the server implements these routes.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import YAML from "yaml";
import type { NodeView } from "../../pkg/index.ts";
import { runCaptured, type CaptureOptions } from "./capture-io.ts";
import { startContractStub, type ContractStub } from "./contract-stub.ts";

let stub: ContractStub;
const NOW = Date.parse("2030-06-01T12:00:00Z");

beforeAll(() => {
  stub = startContractStub();
});
afterAll(() => stub.stop());
beforeEach(() => {
  stub.requests.length = 0;
});

function ctl(args: string[], options: CaptureOptions = {}) {
  return runCaptured(args, { ...options, env: { NAGENT_ENDPOINTS: stub.url, NAGENT_TOKEN: stub.token, ...options.env } });
}

function node(id: string, patch: Partial<NodeView> = {}): NodeView {
  return {
    id,
    address: `http://10.0.0.${id.length}:15006`,
    domains: ["communication", "execution"],
    metadata: {},
    ttlSeconds: 10,
    removeAfterSeconds: 300,
    healthy: true,
    registeredAt: new Date(NOW - 3_600_000).toISOString(),
    lastHeartbeat: new Date(NOW - 3_000).toISOString(),
    configRevision: 42,
    configAppliedAt: new Date(NOW - 3_000).toISOString(),
    sync: { state: "synced" },
    revision: 5,
    ...patch,
  };
}

describe("nagentctl against a contract stub: nodes and proxy-status", () => {
  beforeEach(() => {
    stub.state.revision = 42;
    stub.state.nodes.clear();
    stub.state.nodes.set("node-1", node("node-1"));
    stub.state.nodes.set("node-2", node("node-2", { domains: ["state"], configRevision: 39, sync: { state: "stale", behind: 3 }, lastHeartbeat: new Date(NOW - 125_000).toISOString(), healthy: false }));
    stub.state.nodes.set("node-3", node("node-3", { configRevision: null, configAppliedAt: null, sync: { state: "unknown" }, lastHeartbeat: null }));
  });

  test("nodes: a table of id, address, domains, healthy, config revision, last heartbeat", async () => {
    const run = await ctl(["nodes"], { now: NOW });
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toBe(
      [
        "ID      ADDRESS                DOMAINS                  HEALTHY  CONFIG REVISION  LAST HEARTBEAT",
        "node-1  http://10.0.0.6:15006  communication,execution  yes      42               3s ago",
        "node-2  http://10.0.0.6:15006  state                    no       39               2m ago",
        "node-3  http://10.0.0.6:15006  communication,execution  yes      -                never",
        "",
      ].join("\n"),
    );
  });

  test("nodes --domain filters on the server; -o json is the answer as is", async () => {
    const run = await ctl(["nodes", "--domain", "state", "-o", "json"]);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout) as { revision: number; nodes: NodeView[] };
    expect(body.revision).toBe(42);
    expect(body.nodes.map((n) => n.id)).toEqual(["node-2"]);
    expect(stub.requests.at(-1)?.query.get("domain")).toBe("state");
    expect((await ctl(["nodes", "--domain", "none"])).stdout).toBe("no nodes registered for domain none\n");
  });

  test("proxy-status: each node's revision against the control plane's, sync state and lag", async () => {
    const run = await ctl(["proxy-status"], { now: NOW });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        "NODE    ADDRESS                HEALTHY  CONFIG REVISION  CONTROL PLANE  SYNC     BEHIND  LAST HEARTBEAT",
        "node-1  http://10.0.0.6:15006  yes      42               42             SYNCED   -       3s ago",
        "node-2  http://10.0.0.6:15006  no       39               42             STALE    3       2m ago",
        "node-3  http://10.0.0.6:15006  yes      -                42             UNKNOWN  -       never",
        "",
      ].join("\n"),
    );
    const json = JSON.parse((await ctl(["proxy-status", "-o", "json"], { now: NOW })).stdout) as { revision: number; nodes: Record<string, unknown>[] };
    expect(json.revision).toBe(42);
    expect(json.nodes[1]).toMatchObject({ id: "node-2", sync: "stale", behind: 3, configRevision: 39, controlPlaneRevision: 42, lastHeartbeatAgeSeconds: 125 });
    expect(json.nodes[2]).toMatchObject({ id: "node-3", sync: "unknown", behind: null, lastHeartbeatAgeSeconds: null });
  });

  test("arguments: extras and unknown flags are usage errors (2)", async () => {
    expect(await ctl(["nodes", "extra"])).toMatchObject({ code: 2, stderr: 'nagentctl: unexpected argument "extra": usage: nodes [--domain D]\n' });
    expect((await ctl(["proxy-status", "--all"])).code).toBe(2);
    expect((await ctl(["nodes", "--domain"])).stderr).toBe("nagentctl: flag --domain needs a value\n");
  });
});

const RESILIENCE = `
kind: resilience
name: payments
spec:
  target: { domain: execution }
  timeoutMs: 250
  retry: { maxAttempts: 3, backoffMs: 50 }
---
kind: authz
name: core-callers
spec:
  action: allow
  rules:
    - roles: [agent]
      domains: [core]
---
`;

describe("nagentctl against a contract stub: policy", () => {
  beforeEach(() => stub.state.policies.clear());

  test("apply: new policies are shown field by field and created with If-Match: 0", async () => {
    const run = await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": RESILIENCE } });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("resilience/payments: new\n  + target.domain: \"execution\"\n  + timeoutMs: 250\n  + retry.maxAttempts: 3\n");
    expect(run.stdout).toContain("authz/core-callers: new\n  + action: \"allow\"\n  + rules[0].roles[0]: \"agent\"\n  + rules[0].domains[0]: \"core\"\n");
    expect(run.stdout).toMatch(/resilience\/payments created \(revision \d+\)/);
    expect(run.stdout).toEndWith("2 created, 0 updated, 0 unchanged\n");
    const puts = stub.requests.filter((r) => r.method === "PUT");
    expect(puts.map((r) => [r.path, r.headers.get("if-match")])).toEqual([
      ["/v1/policies/resilience/payments", "0"],
      ["/v1/policies/authz/core-callers", "0"],
    ]);
    expect(puts[0]!.body).toEqual({ target: { domain: "execution" }, timeoutMs: 250, retry: { maxAttempts: 3, backoffMs: 50 } });
  });

  test("apply again: unchanged ones are not written; a changed one shows its fields and is compare-and-set", async () => {
    await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": RESILIENCE } });
    const stored = stub.state.policies.get("resilience/payments")!.modRevision;
    stub.requests.length = 0;
    const changed = RESILIENCE.replace("maxAttempts: 3", "maxAttempts: 5").replace("  timeoutMs: 250\n", "");
    const run = await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": changed } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("resilience/payments: changed\n  ~ retry.maxAttempts: 3 → 5\n  - timeoutMs: 250\n");
    expect(run.stdout).toContain("authz/core-callers: unchanged\n");
    expect(run.stdout).toEndWith("0 created, 1 updated, 1 unchanged\n");
    expect(stub.requests.filter((r) => r.method === "PUT").map((r) => [r.path, r.headers.get("if-match")])).toEqual([["/v1/policies/resilience/payments", String(stored)]]);
  });

  test("--dry-run shows the diff and writes nothing; -o json is one document", async () => {
    const run = await ctl(["policy", "apply", "--dry-run", "-f", "p.yaml"], { files: { "p.yaml": RESILIENCE } });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("resilience/payments: new");
    expect(run.stdout).toEndWith("dry run: 2 to create, 0 to update, 0 unchanged; nothing was applied\n");
    expect(stub.requests.some((r) => r.method === "PUT")).toBe(false);
    const json = JSON.parse((await ctl(["policy", "apply", "-f", "p.yaml", "--dry-run", "-o", "json"], { files: { "p.yaml": RESILIENCE } })).stdout) as {
      dryRun: boolean;
      policies: { kind: string; name: string; action: string; changes: unknown[] }[];
    };
    expect(json.dryRun).toBe(true);
    expect(json.policies.map((p) => [p.kind, p.name, p.action])).toEqual([
      ["resilience", "payments", "create"],
      ["authz", "core-callers", "create"],
    ]);
    expect(json.policies[0]!.changes[0]).toEqual({ path: "target.domain", op: "add", after: "execution" });
  });

  test("a policy the control plane refuses: exit 1, the field's path on stderr, the others still applied", async () => {
    const bad = RESILIENCE.replace("maxAttempts: 3", "maxAttempts: 99");
    const run = await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": bad } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("nagentctl: resilience/payments: invalid resilience policy: retry.maxAttempts: expected an integer from 1 to 10 (400 invalid_policy at retry.maxAttempts)\n");
    expect(run.stdout).toEndWith("1 created, 0 updated, 0 unchanged, 1 failed\n");
    expect(stub.state.policies.has("authz/core-callers")).toBe(true);
  });

  test("a policy changed by someone else between compare and write: exit 1, says to run again", async () => {
    await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": RESILIENCE } });
    const racing = RESILIENCE.replace("maxAttempts: 3", "maxAttempts: 4");
    const original = stub.state.policies.get("resilience/payments")!;
    // Someone writes between our GET and PUT: the stub's If-Match check then fails.
    const realGet = stub.state.policies.get.bind(stub.state.policies);
    let gets = 0;
    stub.state.policies.get = (key: string) => {
      if (key === "resilience/payments" && ++gets === 2) stub.state.policies.set(key, { ...original, modRevision: original.modRevision + 100 });
      return realGet(key);
    };
    const run = await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": racing } });
    stub.state.policies.get = realGet;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("resilience/payments: ");
    expect(run.stderr).toContain("(412 precondition_failed); it changed since it was compared: run apply again");
  });

  test("bad files are usage errors (2) naming the document", async () => {
    const cases: [string, string][] = [
      ["kind: resilience\nname: x\nspec: [1]\n", "p.yaml, document 1: spec must be a mapping"],
      ["kind: resilience\nname: x\nspec: {}\n---\nkind: mesh\nname: y\nspec: {}\n", 'p.yaml, document 2: unknown kind "mesh" (resilience or authz)'],
      ["kind: authz\nspec: {}\n", "p.yaml, document 1: missing name"],
      ["kind: authz\nname: a\nspec: {}\nmetadata: {}\n", 'p.yaml, document 1: unknown field "metadata" (a policy document has kind, name and spec)'],
      ["kind: authz\nname: a\nspec: {}\n---\nkind: authz\nname: a\nspec: {}\n", "p.yaml, document 2: authz/a appears twice in the file"],
      ["---\n", "p.yaml holds no policy documents"],
      ["kind: [unclosed\n", "p.yaml, document 1 is not valid YAML at line"],
    ];
    for (const [text, message] of cases) {
      const run = await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": text } });
      expect(run.code).toBe(2);
      expect(run.stderr).toStartWith(`nagentctl: ${message}`);
    }
    expect(await ctl(["policy", "apply"])).toMatchObject({ code: 2, stderr: "nagentctl: missing -f FILE: usage: policy apply -f FILE.yaml [--dry-run]\n" });
    const unreadable = await ctl(["policy", "apply", "-f", "/nonexistent/p.yaml"]);
    expect(unreadable).toMatchObject({ code: 2, stderr: "nagentctl: cannot read /nonexistent/p.yaml: ENOENT\n" });
    expect(stub.requests).toHaveLength(0);
  });

  test("get prints YAML that apply takes back; list; delete; not found is 1", async () => {
    await ctl(["policy", "apply", "-f", "p.yaml"], { files: { "p.yaml": RESILIENCE } });
    const got = await ctl(["policy", "get", "resilience", "payments"]);
    expect(got.code).toBe(0);
    expect(got.stdout).toStartWith("# revision ");
    expect(YAML.parse(got.stdout)).toEqual({ kind: "resilience", name: "payments", spec: { target: { domain: "execution" }, timeoutMs: 250, retry: { maxAttempts: 3, backoffMs: 50 } } });
    const again = await ctl(["policy", "apply", "-f", "back.yaml"], { files: { "back.yaml": got.stdout } });
    expect(again.stdout).toContain("resilience/payments: unchanged");

    const list = await ctl(["policy", "list"]);
    expect(list.stdout.split("\n")[0]).toBe("KIND        NAME          REVISION  VERSION");
    expect(list.stdout).toMatch(/authz\s+core-callers\s+\d+\s+1/);
    expect((JSON.parse((await ctl(["policy", "list", "authz", "-o", "json"])).stdout) as { policies: unknown[] }).policies).toHaveLength(1);
    expect(stub.requests.at(-1)?.query.get("kind")).toBe("authz");

    const deleted = await ctl(["policy", "delete", "authz", "core-callers"]);
    expect(deleted.stdout).toMatch(/^deleted policy authz\/core-callers at revision \d+\n$/);
    const missing = await ctl(["policy", "get", "authz", "core-callers"]);
    expect(missing).toMatchObject({ code: 1, stderr: "nagentctl: no policy authz/core-callers (404 not_found)\n" });
    expect((await ctl(["policy", "get", "mesh", "x"])).code).toBe(2);
    expect((await ctl(["policy", "get", "authz"])).code).toBe(2);
    expect((await ctl(["policy", "delete", "authz", "x", "--if-match", "abc"])).code).toBe(2);
  });
});

describe("nagentctl against a contract stub: token", () => {
  test("issue sends subject, roles, audience, ttl and kind; prints only the token", async () => {
    const run = await ctl(["token", "issue", "--subject", "node-1", "--role", "node", "--role", "reader,writer", "--audience", "mesh", "--ttl", "1h"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^eyJ[^\s]+\n$/);
    expect(stub.requests.at(-1)?.body).toEqual({ subject: "node-1", roles: ["node", "reader", "writer"], audience: "mesh", ttlSeconds: 3600 });

    const key = await ctl(["token", "issue", "--subject", "ci", "--role", "admin", "--api-key", "--audience", "a", "--audience", "b", "--ttl", "90", "-o", "json"]);
    const issued = JSON.parse(key.stdout) as { token: string; kind: string; id: string; expiresAt: string };
    expect(issued.kind).toBe("api-key");
    expect(issued.token).toStartWith("nk_");
    expect(stub.requests.at(-1)?.body).toEqual({ subject: "ci", roles: ["admin"], audience: ["a", "b"], ttlSeconds: 90, kind: "api-key" });

    const revoked = await ctl(["token", "revoke", issued.token]);
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked api-key ${issued.id}\n` });
    expect((await ctl(["token", "revoke", "nk_unknown"])).code).toBe(1);
  });

  test("usage errors: missing subject or role, bad ttl, extra arguments", async () => {
    const usage = "token issue --subject S --role R [--role R2 ...] [--audience A ...] [--ttl DURATION] [--api-key]";
    expect(await ctl(["token", "issue", "--role", "x"])).toMatchObject({ code: 2, stderr: `nagentctl: missing --subject: usage: ${usage}\n` });
    expect(await ctl(["token", "issue", "--subject", "x"])).toMatchObject({ code: 2, stderr: `nagentctl: missing --role: usage: ${usage}\n` });
    expect((await ctl(["token", "issue", "--subject", "x", "--role", "r", "--ttl", "soon"])).stderr).toStartWith("nagentctl: --ttl expects a duration");
    expect((await ctl(["token", "issue", "--subject", "x", "--role", "r", "--ttl", "500ms"])).code).toBe(2);
    expect((await ctl(["token", "revoke"])).code).toBe(2);
    expect((await ctl(["token"])).code).toBe(2);
    expect(stub.requests.filter((r) => r.path.startsWith("/v1/auth"))).toHaveLength(0);
  });

  test("a refusal by the authority is exit 1 with its message", async () => {
    const run = await ctl(["token", "issue", "--subject", "x", "--role", "r", "--ttl", "30d"]);
    expect(run).toMatchObject({ code: 1, stderr: "nagentctl: field ttlSeconds: at most 86400 (400 invalid_body at ttlSeconds)\n" });
  });
});

describe("nagentctl against a contract stub: check", () => {
  beforeEach(() => {
    stub.state.nodes.clear();
    stub.state.nodes.set("node-1", node("node-1"));
  });

  test("everything answers as the contract says: every check passes, exit 0", async () => {
    const run = await ctl(["check"], { now: Date.now() });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("√ signing keys (current key key-2 is 60m old; rotation every 24h, next in 23h)");
    expect(run.stdout).toContain("√ node health (1 nodes registered, all healthy)");
    expect(run.stdout).toContain("√ quorum (1 of 1 voters reachable)");
    expect(run.stdout).toEndWith("Status check results are √\n");
  });

  test("an overdue signing key and an unhealthy node fail, each with a hint; -o json says the same", async () => {
    const keys = stub.state.keys;
    const created = Date.now() - 3 * 86_400_000;
    stub.state.keys = {
      ...keys,
      nextRotationAt: new Date(created + 86_400_000).toISOString(),
      keys: keys.keys.map((k) => (k.kid === "key-2" ? { ...k, createdAt: new Date(created).toISOString() } : k)),
    };
    stub.state.nodes.set("node-2", node("node-2", { healthy: false }));
    try {
      const run = await ctl(["check"]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/× signing keys \(current key key-2 is 3d old; rotation every 24h: overdue by 2d\)\n {4}hint: the leader rotates signing keys/);
      expect(run.stdout).toMatch(/× node health \(1 of 2 nodes unhealthy: node-2 \(last heartbeat \d+s ago\)\)\n {4}hint: an unhealthy node/);
      expect(run.stdout).toEndWith("Status check results are × (2 failed)\n");
      const json = JSON.parse((await ctl(["check", "-o", "json"])).stdout) as { success: boolean; checks: { name: string; ok: boolean; detail: string; hint?: string }[] };
      expect(json.success).toBe(false);
      for (const check of json.checks.filter((c) => !c.ok)) expect(check.hint).toBeTruthy();
      expect(json.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["signing keys", "node health"]);
    } finally {
      stub.state.keys = keys;
    }
  });

  test("a control plane without the auth and registry routes: failed checks saying so, not a crash", async () => {
    const old = startContractStub({ without: ["auth", "registry"] });
    try {
      const run = await runCaptured(["check", "-o", "json"], { env: { NAGENT_ENDPOINTS: old.url, NAGENT_TOKEN: old.token } });
      expect(run.code).toBe(1);
      const json = JSON.parse(run.stdout) as { success: boolean; checks: { name: string; ok: boolean; detail: string; hint?: string }[] };
      const failed = json.checks.filter((c) => !c.ok);
      expect(failed.map((c) => c.name)).toEqual(["signing keys", "node health"]);
      expect(failed[0]!.detail).toBe(`GET /v1/auth/keys: the control plane at ${old.url} does not serve GET /v1/auth/keys (it predates this API; upgrade it)`);
      expect(failed[0]!.hint).toContain("upgrade");
    } finally {
      old.stop();
    }
  });

  test("a wrong credential fails the API check with a hint about the token", async () => {
    const run = await ctl(["check", "-o", "json"], { env: { NAGENT_TOKEN: "wrong" } });
    expect(run.code).toBe(1);
    const api = (JSON.parse(run.stdout) as { checks: { name: string; ok: boolean; hint?: string }[] }).checks.find((c) => c.name === "API");
    expect(api).toMatchObject({ ok: false });
    expect(api!.hint).toContain("--token");
    expect((await ctl(["check", "--max-lag", "lots"])).code).toBe(2);
  });
});

describe("nagentctl against a contract stub: exit codes and JSON", () => {
  test("every -o json answer parses, successes and failures alike", async () => {
    stub.state.nodes.set("node-1", node("node-1"));
    const lines: [string[], number][] = [
      [["nodes"], 0],
      [["proxy-status"], 0],
      [["policy", "list"], 0],
      [["policy", "get", "authz", "absent"], 1],
      [["token", "revoke", "nope"], 1],
      [["cluster", "status"], 0],
      [["check"], 0],
      [["config", "get"], 2],
      [["frobnicate"], 2],
    ];
    for (const [args, code] of lines) {
      const run = await ctl([...args, "-o", "json"]);
      expect({ args, code: run.code }).toEqual({ args, code });
      expect(() => JSON.parse(run.stdout)).not.toThrow();
      if (code !== 0) expect((JSON.parse(run.stdout) as { error: { code: string } }).error.code).toBeTruthy();
    }
  });

  test("global flags anywhere: before the command, after it, --flag=value, -ojson", async () => {
    for (const args of [["-o", "json", "nodes"], ["nodes", "-o", "json"], ["nodes", "--output=json"], ["nodes", "-ojson"]]) {
      const run = await runCaptured([...args, "--endpoints", stub.url, `--token=${stub.token}`]);
      expect(run.code).toBe(0);
      expect(() => JSON.parse(run.stdout)).not.toThrow();
    }
    expect((await ctl(["nodes", "-o", "yaml"])).stderr).toBe('nagentctl: invalid --output "yaml" from --output: expected one of text, json\n');
  });

  test("--help and version", async () => {
    const help = await ctl(["--help"]);
    expect(help.code).toBe(0);
    for (const word of ["config watch [PREFIX] [--from-revision N]", "policy apply -f FILE.yaml [--dry-run]", "token issue --subject S --role R", "proxy-status", "snapshot save FILE", "snapshot status FILE", "snapshot restore FILE --data-dir DIR --node-id ID [--peers ID=URL,...]", "Exit status:", "one JSON object per line"]) {
      expect(help.stdout).toContain(word);
    }
    expect((await ctl(["config", "get", "--help"])).stdout).toBe(help.stdout);
    expect((await ctl(["version"])).stdout).toStartWith("nagentctl 0.");
  });
});
