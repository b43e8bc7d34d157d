// `npm run build` yields four single-file executables that run from another directory with
// nothing beside them: no node_modules, no sources, no Bun on PATH.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, waitUntilReady } from "../internal/testing/index.ts";

const root = join(import.meta.dir, "..");
const BINARIES = ["control-plane", "sidecar", "aggregator", "nagentctl"];
let outDir = "";
let elsewhere = "";
// No Bun and no project on PATH: the executables must carry everything they need.
const bareEnv = { PATH: "/usr/bin:/bin", HOME: "/tmp" };

beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), "nagent-bin-"));
  elsewhere = mkdtempSync(join(tmpdir(), "nagent-cwd-"));
  const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts"), "--out", outDir], { cwd: root });
  if (build.exitCode !== 0) throw new Error(`build failed:\n${build.stderr.toString()}`);
}, 120_000);

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

describe("compiled executables", () => {
  test("exactly the four binaries, each a single file", () => {
    expect(readdirSync(outDir).sort()).toEqual([...BINARIES].sort());
  });

  test.each(BINARIES)("%s answers --version and --help from another directory", (name) => {
    const opts = { cwd: elsewhere, env: bareEnv };
    const version = Bun.spawnSync([join(outDir, name), "--version"], opts);
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString()).toStartWith(`${name} `);
    const help = Bun.spawnSync([join(outDir, name), "--help"], opts);
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain("env LOG_LEVEL");
    const bad = Bun.spawnSync([join(outDir, name), "--bogus"], opts);
    expect(bad.exitCode).toBe(2);
  });

  test("the compiled control-plane serves /healthz and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const service = spawnService({
      name: "control-plane (compiled)",
      command: [join(outDir, "control-plane"), "--listen", `127.0.0.1:${port}`, "--data-dir", join(elsewhere, "data")],
      env: bareEnv,
    });
    try {
      await waitUntilReady(service, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
      const nagentctl = Bun.spawnSync([join(outDir, "nagentctl"), "--endpoints", `http://127.0.0.1:${port}`, "check"], {
        cwd: elsewhere,
        env: bareEnv,
      });
      expect(nagentctl.exitCode).toBe(0);
    } finally {
      await service.stop();
    }
    expect(service.exitStatus()).toBe("exit code 0");
  });
});
