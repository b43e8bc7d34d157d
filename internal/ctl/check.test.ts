import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { captureLogger, createDaemonMetrics } from "../telemetry/index.ts";
import { createDaemonApp, startDaemon, type Daemon } from "../server/index.ts";
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
    expect(report.checks.map((check) => [check.check, check.ok])).toEqual([
      ["reachable", true],
      ["ready", true],
    ]);
    expect(renderCheck(report, "text")).toContain("Status check results are √");
  });

  test("a member that is up but not ready fails the ready check with its reason", async () => {
    const report = await runCheck({ endpoints: [notReady.listeners[0]!.url], timeoutMs: 2000 });
    expect(report.success).toBe(false);
    expect(report.checks[1]).toMatchObject({ check: "ready", ok: false, detail: "/readyz answered 503: no leader" });
  });

  test("an unreachable member fails, and JSON output says so", async () => {
    const report = await runCheck({ endpoints: [ready.listeners[0]!.url, "http://127.0.0.1:1"], timeoutMs: 2000 });
    expect(report.success).toBe(false);
    const json = JSON.parse(renderCheck(report, "json")) as { success: boolean; checks: { ok: boolean }[] };
    expect(json.success).toBe(false);
    expect(json.checks.map((check) => check.ok)).toEqual([true, true, false, false]);
    expect(renderCheck(report, "text")).toContain("Status check results are × (2 failed)");
  });

  test("no endpoints is not a success", async () => {
    expect((await runCheck({ endpoints: [], timeoutMs: 100 })).success).toBe(false);
  });
});
