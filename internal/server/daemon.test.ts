import { describe, expect, test } from "bun:test";
import { captureLogger, createDaemonMetrics } from "../telemetry/index.ts";
import { ListenError, createDaemonApp, startDaemon, type Daemon } from "./index.ts";

function start(shutdownTimeoutMs: number, port = 0) {
  const { logger, lines } = captureLogger();
  const app = createDaemonApp({ logger, metrics: createDaemonMetrics("test"), maxBodyBytes: 1024 });
  app.app.get("/slow/:ms", async (c) => {
    await Bun.sleep(Number(c.req.param("ms")));
    return c.json({ slept: Number(c.req.param("ms")) });
  });
  const daemon = startDaemon({
    logger,
    listeners: [{ name: "api", address: { host: "127.0.0.1", port }, daemon: app }],
    shutdownTimeoutMs,
  });
  const url = daemon.listeners[0]!.url;
  return { daemon, app, url, lines };
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "ConnectionRefused" || /refused/i.test(String(error));
  }
}

describe("graceful shutdown", () => {
  test("in-flight requests finish, new connections are refused, readiness turns off first", async () => {
    const { daemon, app, url, lines } = start(5_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const inFlight = fetch(`${url}/slow/400`).then(async (response) => ({
      status: response.status,
      body: await response.json(),
    }));
    await Bun.sleep(100);
    const stopped = daemon.shutdown("test");
    expect(app.draining).toBe(true);
    expect(daemon.stopping.aborted).toBe(true);
    await Bun.sleep(50);
    expect(await refused(`${url}/healthz`)).toBe(true);
    expect(await inFlight).toEqual({ status: 200, body: { slept: 400 } });
    await stopped;
    const last = lines().at(-1);
    expect(last).toMatchObject({ msg: "stopped", clean: true, drainedRequests: 1 });
  });

  test("while onDrain runs (a sidecar's drain delay), the port still accepts and answers new requests; it closes after", async () => {
    const { logger } = captureLogger();
    const app = createDaemonApp({ logger, metrics: createDaemonMetrics("test"), maxBodyBytes: 1024 });
    app.app.get("/work", (c) => c.json({ ok: true }));
    let releaseDrain!: () => void;
    const order: string[] = [];
    const daemon = startDaemon({
      logger,
      listeners: [{ name: "api", address: { host: "127.0.0.1", port: 0 }, daemon: app }],
      shutdownTimeoutMs: 2_000,
      onDrain: async () => {
        order.push("drain");
        await new Promise<void>((resolve) => (releaseDrain = resolve));
        order.push("drained");
      },
      onStop: () => void order.push("stop"),
    });
    const url = daemon.listeners[0]!.url;
    const stopped = daemon.shutdown("test");
    await Bun.sleep(50);
    expect(order).toEqual(["drain"]);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/work`, { headers: { connection: "close" } })).status).toBe(200);
    releaseDrain();
    await stopped;
    expect(order).toEqual(["drain", "drained", "stop"]);
    expect(await refused(`${url}/work`)).toBe(true);
  });

  test("a request longer than the deadline is cut so the process can exit", async () => {
    const { daemon, url, lines } = start(200);
    const inFlight = fetch(`${url}/slow/5000`).then(
      (response) => response.status,
      () => "cut",
    );
    await Bun.sleep(50);
    const started = performance.now();
    await daemon.shutdown("test");
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(3_000);
    expect(await inFlight).toBe("cut");
    expect(lines().some((line) => line.msg === "shutdown deadline reached; closing the remaining connections")).toBe(
      true,
    );
  });

  test("shutdown is idempotent", async () => {
    const { daemon } = start(1_000);
    const first = daemon.shutdown("a");
    expect(daemon.shutdown("b")).toBe(first);
    await first;
  });
});

describe("listening", () => {
  test("a port in use is a ListenError naming the address", async () => {
    const first = start(1_000);
    let second: Daemon | undefined;
    try {
      expect(() => {
        second = start(1_000, first.daemon.listeners[0]!.port).daemon;
      }).toThrow(ListenError);
      try {
        start(1_000, first.daemon.listeners[0]!.port);
      } catch (error) {
        expect((error as Error).message).toBe(
          `cannot listen on 127.0.0.1:${first.daemon.listeners[0]!.port} (api): address already in use`,
        );
      }
    } finally {
      await second?.shutdown("test");
      await first.daemon.shutdown("test");
    }
  });
});
