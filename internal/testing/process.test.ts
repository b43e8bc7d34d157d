import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MissingExecutableError, requireExecutable } from "./executable.ts";
import { isProcessAlive, livePidsInGroup } from "./liveness.ts";
import { ServiceStartError, spawnService, waitUntilReady, type ServiceProcess } from "./process.ts";

const GUARDED_SLEEP_FIXTURE = join(import.meta.dir, "fixtures", "guarded-sleep.ts");

describe("spawnService", () => {
  test("the service dies with the process that started it, even when that process is SIGKILLed", async () => {
    // The fixture is itself guarded, so a failing assertion here cannot leak it either.
    const fixture = spawnService({ name: "fixture", command: [process.execPath, GUARDED_SLEEP_FIXTURE] });
    try {
      const report = await waitFor(() => fixture.output().split("\n").find((line) => line.startsWith("{")), 10_000);
      const { pid, dir } = JSON.parse(report) as { pid: number; dir: string };
      expect(isProcessAlive(pid)).toBe(true);
      expect(existsSync(dir)).toBe(true);

      process.kill(fixture.pid, "SIGKILL");
      await fixture.exited;

      await waitFor(() => !isProcessAlive(pid) && !existsSync(dir), 3_000);
      expect(livePidsInGroup(pid)).toEqual([]);
    } finally {
      await fixture.stop();
    }
  }, 20_000);

  test("stop() ends the service with SIGTERM and removes its dir", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nagent-owned-"));
    const service = spawnService({ name: "sleep", command: ["sleep", "300"], ownedDir: dir });
    await service.stop();
    expect(service.exitStatus()).toBe("signal SIGTERM");
    expect(isProcessAlive(service.pid)).toBe(false);
    expect(livePidsInGroup(service.pid)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    await service.stop(); // idempotent
  });

  test("stop() escalates to SIGKILL when SIGTERM is ignored", async () => {
    const service = spawnService({
      name: "stubborn",
      command: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"],
    });
    await waitFor(() => service.output().includes("ready"), 5_000);
    const started = performance.now();
    await service.stop(300);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(service.exitStatus()).toBe("signal SIGKILL");
    expect(livePidsInGroup(service.pid)).toEqual([]);
  });

  test("output() keeps only the last lines", async () => {
    const service = spawnService({ name: "counter", command: ["seq", "1", "50"], outputLines: 3 });
    await service.exited;
    await service.stop();
    expect(service.output()).toBe("48\n49\n50");
  });
});

describe("waitUntilReady", () => {
  test("a service that exits at once fails the start with its output", async () => {
    const service = spawnService({
      name: "doomed",
      command: ["sh", "-c", "echo boom on stdout; echo boom on stderr >&2; exit 3"],
    });
    const error = await startError(service, async () => false, 5_000);
    expect(error.service).toBe("doomed");
    expect(error.message).toContain("exit code 3");
    expect(error.output).toContain("boom on stdout");
    expect(error.output).toContain("boom on stderr");
    expect(error.message).toContain("boom on stderr");
  });

  test("a service that never gets ready is stopped and reported after the timeout", async () => {
    const service = spawnService({ name: "mute", command: ["sh", "-c", "echo waiting forever; exec sleep 300"] });
    const error = await startError(service, async () => false, 300);
    expect(error.reason).toBe("not ready after 300 ms");
    expect(error.output).toContain("waiting forever");
    expect(isProcessAlive(service.pid)).toBe(false);
  });

  test("a probe that throws counts as not ready yet", async () => {
    const service = spawnService({ name: "sleep", command: ["sleep", "300"] });
    let calls = 0;
    await waitUntilReady(service, async () => {
      if (++calls < 3) throw new Error("connection refused");
      return true;
    });
    expect(calls).toBe(3);
    await service.stop();
  });
});

test("requireExecutable names the fix when a binary is missing", () => {
  expect(() => requireExecutable("nagent-no-such-binary", "nagent-pkg")).toThrow(MissingExecutableError);
  expect(() => requireExecutable("nagent-no-such-binary", "nagent-pkg")).toThrow(/npm test.*apt-get install nagent-pkg/s);
  expect(requireExecutable("sh", "dash")).toMatch(/\/sh$/);
});

async function startError(
  service: ServiceProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<ServiceStartError> {
  try {
    await waitUntilReady(service, probe, { timeoutMs });
  } catch (error) {
    if (error instanceof ServiceStartError) return error;
    throw error;
  }
  throw new Error("waitUntilReady unexpectedly succeeded");
}

/** Polls until `check` returns something truthy, which it then returns. */
async function waitFor<T>(check: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() >= deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
}
