// The aggregator as a real process for multi-process tests, pointed at a test control plane.
import { join } from "node:path";
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";

const root = join(import.meta.dir, "..", "..");

export interface AggregatorProcess {
  readonly url: string;
  readonly process: ServiceProcess;
  /** GET a JSON path of the aggregator. */
  json<T = any>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startAggregator(controlPlane: string, token: string, extraArgs: readonly string[] = []): Promise<AggregatorProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = spawnService({
    name: "aggregator",
    command: [
      process.execPath,
      join(root, "cmd", "aggregator", "main.ts"),
      ...["--listen", `127.0.0.1:${port}`, "--control-plane", controlPlane, "--token", token],
      ...["--log-level", "warn", "--shutdown-timeout", "2s"],
      ...extraArgs,
    ],
  });
  await waitUntilReady(service, async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(500) })).ok);
  return {
    url,
    process: service,
    async json<T>(path: string): Promise<T> {
      const response = await fetch(url + path, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    },
    stop: () => service.stop(),
  };
}
