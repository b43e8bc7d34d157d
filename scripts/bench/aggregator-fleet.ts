// The simulated sidecars (aggregator-sidecars.ts, one process) seen from scripts/bench/aggregator.ts:
// start it as a service bound to this process's lifetime, ask it over its control port, stop it.
import { join } from "node:path";
import { freePort, retryOnPortClash, spawnService, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";
import type { FleetNode, FleetStats } from "./aggregator-protocol.ts";

const SIDECARS_SCRIPT = join(import.meta.dir, "aggregator-sidecars.ts");

export interface FleetOptions {
  readonly nodes: number;
  /** Inbound requests per second per node. */
  readonly rate: number;
  readonly seed: number;
}

export class SimulatedFleet {
  private constructor(
    readonly service: ServiceProcess,
    private readonly control: string,
    /** The nodes listening (fewer than asked if the OS refused listeners: see `limit`). */
    readonly nodes: readonly FleetNode[],
    readonly limit: string | undefined,
  ) {}

  static start(options: FleetOptions): Promise<SimulatedFleet> {
    return retryOnPortClash(async () => {
      const port = await freePort();
      const control = `http://127.0.0.1:${port}`;
      const service = spawnService({
        name: "simulated-sidecars",
        command: [
          process.execPath,
          SIDECARS_SCRIPT,
          ...["--nodes", String(options.nodes), "--rate", String(options.rate), "--seed", String(options.seed), "--control-port", String(port)],
        ],
      });
      await waitUntilReady(service, async () => (await fetch(`${control}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok, { timeoutMs: 120_000 });
      try {
        const { nodes, limit } = await getJson<{ nodes: FleetNode[]; limit?: string }>(`${control}/nodes`);
        return new SimulatedFleet(service, control, nodes, limit);
      } catch (error) {
        await service.stop();
        throw error;
      }
    });
  }

  get pid(): number {
    return this.service.pid;
  }

  stats(): Promise<FleetStats> {
    return getJson<FleetStats>(`${this.control}/stats`);
  }

  /** Every node holds configuration `revision` from now on (its nagent_sidecar_config_revision). */
  async setConfigRevision(revision: number): Promise<void> {
    const response = await fetch(`${this.control}/config-revision`, {
      method: "POST",
      body: JSON.stringify({ revision }),
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`simulated sidecars: POST /config-revision answered ${response.status}`);
  }

  stop(): Promise<void> {
    return this.service.stop();
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}
