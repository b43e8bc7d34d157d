// The order of a sidecar's graceful stop, in-process against a real control-plane member: on
// shutdown the node leaves the registry first, keeps serving calls for the drain delay, and only
// then do its ports stop accepting.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlaneClient } from "../../pkg/index.ts";
import { parseCommandLine, sidecarCommand } from "../config/index.ts";
import { startDaemon } from "../server/index.ts";
import { captureLogger, createDaemonMetrics } from "../telemetry/index.ts";
import { startControlPlane, type ControlPlaneProcess } from "../testing/control-plane-process.ts";
import { freePorts, until } from "../testing/index.ts";
import { Sidecar } from "./sidecar.ts";

let cp: ControlPlaneProcess;
let admin: ControlPlaneClient;
const cacheDir = mkdtempSync(join(tmpdir(), "nagent-drain-"));

beforeAll(async () => {
  cp = await startControlPlane();
  admin = new ControlPlaneClient({ endpoints: [cp.url], token: cp.token, timeoutMs: 2000 });
});
afterAll(async () => {
  await cp.destroy();
  rmSync(cacheDir, { recursive: true, force: true });
});

test("on shutdown: deregistered first, calls still served for the drain delay, then the ports close", async () => {
  const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => Response.json({ method: request.method }) });
  const [inbound, outbound] = await freePorts(2);
  const parsed = parseCommandLine(
    sidecarCommand,
    [
      ...["--node-id", "drainer", "--domains", "execution", "--app", `http://127.0.0.1:${app.port}`, "--control-plane", cp.url, "--token", cp.token],
      ...["--inbound-listen", `127.0.0.1:${inbound}`, "--outbound-listen", `127.0.0.1:${outbound}`, "--cache-dir", cacheDir],
      ...["--drain-delay", "700ms", "--trace-exporter", "none", "--registration-ttl", "3s"],
    ],
    {},
  );
  if (parsed.kind !== "run") throw new Error("expected a configuration");
  const { logger } = captureLogger("silent");
  const metrics = createDaemonMetrics("sidecar");
  const sidecar = new Sidecar({ config: parsed.config, logger, metrics, advertise: `http://127.0.0.1:${inbound}` });
  sidecar.start();
  const events: string[] = [];
  const daemon = startDaemon({
    logger,
    listeners: sidecar.listeners(),
    shutdownTimeoutMs: 2_000,
    onDrain: () => sidecar.drain(),
    onStop: async () => {
      events.push("ports closed");
      await sidecar.stop();
    },
  });
  sidecar.announce();
  const caller = (await admin.issueToken({ subject: "drain-test", roles: ["agent"] })).token;
  // As another node's sidecar calls this one's inbound port.
  const call = () =>
    fetch(`http://127.0.0.1:${inbound}/x`, { method: "POST", body: "{}", headers: { authorization: `Bearer ${caller}`, "x-nagent-domain": "execution", "x-nagent-from": "peer" } });
  try {
    await until(async () => (await admin.listNodes()).nodes.some((node) => node.id === "drainer"), { what: "the node registered" });
    await until(async () => (await call()).status === 200, { what: "a call served" });

    const started = performance.now();
    const stopped = daemon.shutdown("test").then(() => events.push("stopped"));
    await until(async () => !(await admin.listNodes()).nodes.some((node) => node.id === "drainer"), { what: "the node gone from the registry", intervalMs: 20 });
    const left = performance.now() - started;
    // Gone from the registry, and still serving: a caller that has not heard yet is answered.
    expect((await call()).status).toBe(200);
    // The node's own app still reaches the domain it serves, though no healthy instance is listed.
    const own = await fetch(`http://127.0.0.1:${outbound}/v1/invoke/execution/y`, { method: "POST", body: "{}", headers: { authorization: `Bearer ${caller}` } });
    expect(own.status).toBe(200);
    expect(own.headers.get("x-nagent-fallback")).toBeNull();
    expect(await own.json()).toEqual({ method: "POST" });
    expect(events).toEqual([]);
    await stopped;
    expect(events).toEqual(["ports closed", "stopped"]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(700);
    expect(left).toBeLessThan(700);
    expect(await call().then(() => "answered", () => "refused")).toBe("refused");
  } finally {
    await daemon.shutdown("test");
    await app.stop(true);
  }
});
