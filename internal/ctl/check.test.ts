import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { captureLogger, createDaemonMetrics } from "../telemetry/index.ts";
import { createDaemonApp, startDaemon, type Daemon } from "../server/index.ts";
import { registryHealth, signingKeyCheck } from "./check.ts";
import { renderCheck, runCheck } from "./index.ts";

let ready: Daemon;
let notReady: Daemon;

function serve(reason?: string): Daemon {
  const { logger } = captureLogger("silent");
  const app = createDaemonApp({
    logger,
    metrics: createDaemonMetrics("test"),
    maxBodyBytes: 1024,
    notReadyReason: () => reason,
  });
  return startDaemon({ logger, listeners: [{ name: "api", address: { host: "127.0.0.1", port: 0 }, daemon: app }], shutdownTimeoutMs: 1000 });
}

beforeAll(() => {
  ready = serve();
  notReady = serve("no leader");
});
afterAll(async () => {
  await ready.shutdown("test");
  await notReady.shutdown("test");
});

describe("nagentctl check", () => {
  test("every check passes against a ready member", async () => {
    const report = await runCheck({ endpoints: [ready.listeners[0]!.url], timeoutMs: 2000 });
    expect(report.success).toBe(true);
    expect(report.checks.map((check) => [check.name, check.ok])).toEqual([
      ["reachable", true],
      ["ready", true],
      ["credential", true],
    ]);
    expect(report.checks[2]).toMatchObject({ warning: true });
    expect(renderCheck(report, "text")).toContain("Status check results are √ (1 warning)");
  });

  test("a member that is up but not ready fails the ready check with its reason", async () => {
    const report = await runCheck({ endpoints: [notReady.listeners[0]!.url], timeoutMs: 2000 });
    expect(report.success).toBe(false);
    expect(report.checks[1]).toMatchObject({ name: "ready", ok: false, detail: "/readyz answered 503: no leader" });
    expect(report.checks[1]!.hint).toContain("not ready");
  });

  test("an unreachable member fails, and JSON output says so", async () => {
    const report = await runCheck({ endpoints: [ready.listeners[0]!.url, "http://127.0.0.1:1"], timeoutMs: 2000 });
    expect(report.success).toBe(false);
    const json = JSON.parse(renderCheck(report, "json")) as { success: boolean; checks: { ok: boolean }[] };
    expect(json.success).toBe(false);
    expect(json.checks.map((check) => check.ok)).toEqual([true, true, false, false, true]);
    expect(report.checks[2]).toMatchObject({ name: "reachable", detail: "/healthz: connection refused" });
    expect(report.checks[3]).toMatchObject({ name: "ready", detail: "not checked: the endpoint is unreachable" });
    const text = renderCheck(report, "text");
    expect(text).toContain("Status check results are × (2 failed, 1 warning)");
    expect(text).toContain("    hint: is a control plane running at this address?");
  });

  test("no endpoints is not a success", async () => {
    expect((await runCheck({ endpoints: [], timeoutMs: 100 })).success).toBe(false);
  });
});

describe("signing-key rotation clock", () => {
  const hour = 3_600_000;
  const now = Date.parse("2030-01-10T00:00:00Z");
  const keys = (createdAt: number) => ({
    current: "k2",
    rotationIntervalSeconds: 24 * 3600,
    nextRotationAt: new Date(createdAt + 24 * hour).toISOString(),
    maxTokenTtlSeconds: 3600,
    keys: [
      { kid: "k2", alg: "EdDSA", createdAt: new Date(createdAt).toISOString(), state: "current" as const },
      { kid: "k1", alg: "EdDSA", createdAt: new Date(createdAt - 24 * hour).toISOString(), state: "previous" as const },
    ],
  });

  test("a key younger than the interval passes and says when the next rotation is due", () => {
    const result = signingKeyCheck(keys(now - 3 * hour), now);
    expect(result).toMatchObject({ ok: true, detail: "current key k2 is 3h old; rotation every 24h, next in 21h" });
  });

  test("within the grace of a minute it still passes; beyond, it fails with a hint", () => {
    expect(signingKeyCheck(keys(now - 24 * hour - 30_000), now).ok).toBe(true);
    const overdue = signingKeyCheck(keys(now - 26 * hour), now);
    expect(overdue).toMatchObject({ ok: false, detail: "current key k2 is 26h old; rotation every 24h: overdue by 2h" });
    expect(overdue.hint).toContain("/v1/auth/keys/rotate");
  });

  test("a current key missing from the list fails", () => {
    expect(signingKeyCheck({ ...keys(now), current: "k9" }, now)).toMatchObject({ ok: false });
  });
});

describe("registry health", () => {
  const now = Date.parse("2030-01-10T00:00:00Z");
  const node = (id: string, healthy: boolean, sync: "synced" | "stale" | "unknown", behind?: number) => ({
    id,
    address: `http://${id}:15006`,
    domains: ["core"],
    metadata: {},
    ttlSeconds: 10,
    removeAfterSeconds: 300,
    healthy,
    registeredAt: new Date(now - 600_000).toISOString(),
    lastHeartbeat: new Date(now - 90_000).toISOString(),
    configRevision: sync === "unknown" ? null : 40 - (behind ?? 0),
    configAppliedAt: null,
    sync: { state: sync, ...(behind !== undefined ? { behind } : {}) },
    revision: 3,
  });

  test("all healthy and synced", () => {
    const [health, sync] = registryHealth({ revision: 40, nodes: [node("n1", true, "synced"), node("n2", true, "unknown")] }, now);
    expect(health).toMatchObject({ ok: true, detail: "2 nodes registered, all healthy" });
    expect(sync).toMatchObject({ ok: true, detail: "every healthy node has applied revision 40; 1 not reporting a revision yet (n2)" });
    expect(sync!.warning).toBeUndefined();
  });

  test("an unhealthy node fails; a stale one warns", () => {
    const [health, sync] = registryHealth({ revision: 40, nodes: [node("n1", false, "synced"), node("n2", true, "stale", 4)] }, now);
    expect(health).toMatchObject({ ok: false, detail: "1 of 2 nodes unhealthy: n1 (last heartbeat 90s ago)" });
    expect(health!.hint).toBeDefined();
    expect(sync).toMatchObject({ ok: true, warning: true, detail: "n2 is 4 revisions behind (at 36); the control plane is at 40" });
  });
});
