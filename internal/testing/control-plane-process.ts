// Test support: one real control-plane process (from source) with an admin token and its own data
// directory, which can be stopped with SIGTERM and started again on the same port and data, the
// way an operator restarts a member. Used by the SDK's and nagentctl's tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from "./index.ts";

const root = join(import.meta.dir, "..", "..");
export const TEST_ADMIN_TOKEN = "ctl-test-admin-token-0123456789abcdef";

export interface ControlPlaneProcess {
  readonly url: string;
  readonly token: string;
  readonly dataDir: string;
  /** Starts the member (again) and waits until /readyz answers 200. */
  start(): Promise<void>;
  /** SIGTERM: a graceful stop, as on a restart. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown at all, as in a crash. */
  kill(): Promise<void>;
  /** Stops the member and removes its data. */
  destroy(): Promise<void>;
  output(): string;
}

export interface ControlPlaneProcessOptions {
  readonly extraArgs?: readonly string[];
}

export async function startControlPlane(options: ControlPlaneProcessOptions = {}): Promise<ControlPlaneProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), "nagent-ctl-cp-"));
  let service: ServiceProcess | undefined;
  let lastOutput = "";

  async function start(): Promise<void> {
    service = spawnService({
      name: "control-plane",
      command: [
        process.execPath,
        join(root, "cmd", "control-plane", "main.ts"),
        ...["--node-id", "cp-1", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--admin-token", TEST_ADMIN_TOKEN],
        ...["--log-level", "warn", "--shutdown-timeout", "1s"],
        ...(options.extraArgs ?? []),
      ],
    });
    const running = service;
    await waitUntilReady(running, async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(500) })).ok);
  }

  async function stop(): Promise<void> {
    if (!service) return;
    await service.stop();
    lastOutput = service.output();
    service = undefined;
  }

  async function kill(): Promise<void> {
    if (!service) return;
    process.kill(service.pid, "SIGKILL");
    await service.exited;
    await stop();
  }

  await start();
  return {
    url,
    token: TEST_ADMIN_TOKEN,
    dataDir,
    start,
    stop,
    kill,
    async destroy() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    output: () => service?.output() ?? lastOutput,
  };
}
