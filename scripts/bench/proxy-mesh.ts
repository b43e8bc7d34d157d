// The Nagent side of scripts/bench/proxy.ts: a one-member control plane, an OTLP sink, and two
// sidecars with the full pipeline on, started the way test/support/mesh.ts starts them:
//   B  serves domain `bench`; its local app is the shared upstream. Its inbound port is what
//      another node's sidecar would call: auth (JWT, cached after the first call) → authz →
//      trace → metrics → forward.
//   A  serves another domain and has no app of its own here; its outbound port is what a local
//      app calls, /v1/invoke/bench/..., and the resilience policy (deadline, retry, breaker) of
//      domain `bench` applies there before the call goes on to B.
// Metrics are always on; tracing samples 1% and exports OTLP/HTTP to the sink.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlaneClient } from "../../pkg/index.ts";
import { startControlPlane, type ControlPlaneProcess } from "../../internal/testing/control-plane-process.ts";
import { freePorts, spawnService, until, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";

const root = join(import.meta.dir, "..", "..");
export const BENCH_DOMAIN = "bench";
const CALLER_DOMAIN = "bench-caller";
export const TRACE_SAMPLE_RATIO = "0.01";

/** The policies in force for the whole run. */
export const AUTHZ_POLICY = {
  action: "allow",
  target: { domains: [BENCH_DOMAIN] },
  rules: [{ roles: ["agent"], methods: ["GET", "POST"], paths: ["/"] }],
};
export const RESILIENCE_POLICY = {
  target: { domain: BENCH_DOMAIN },
  timeoutMs: 5_000,
  retry: { maxAttempts: 3, backoff: { type: "constant", initialMs: 10 }, retryOn: { statusCodes: [502, 503, 504] } },
  circuitBreaker: { trip: "consecutiveFailures >= 5", openMs: 5_000, halfOpenRequests: 1 },
};

export interface BenchSidecar {
  readonly id: string;
  readonly inbound: string;
  readonly outbound: string;
  readonly process: ServiceProcess;
  /** The pid of the bun process itself (not a guardian shell or a taskset wrapper). */
  readonly pid: number;
  status(): Promise<SidecarStatus>;
}

/** The part of GET /v1/status this benchmark reads. */
export interface SidecarStatus {
  readonly revision: number;
  readonly held: { readonly healthyNodes: number; readonly resiliencePolicies: string[]; readonly authzPolicies: string[] };
  readonly credentials: { readonly lookups: Record<string, Record<string, number>> };
  readonly resilience: unknown[];
}

export interface BenchMesh {
  readonly a: BenchSidecar;
  readonly b: BenchSidecar;
  /** The caller's JWT (role agent, audience nagent), as a local app would send it. */
  readonly callerToken: string;
  /** Export requests (and bytes) the OTLP sink received. */
  readonly sink: { readonly url: string; requests: number; bytes: number };
  readonly controlPlane: ControlPlaneProcess;
  stop(): Promise<void>;
}

export interface BenchMeshOptions {
  /** The app behind sidecar B. */
  readonly upstream: string;
  /** Wraps the sidecar's argv, e.g. in taskset. */
  readonly command: (argv: string[]) => string[];
  /** Extra bun runtime flags for the sidecars, e.g. --cpu-prof. */
  readonly bunFlags?: (id: string) => readonly string[];
}

/**
 * The pid of the bun process of a service: spawnService's guardian execs the command, and taskset
 * execs too, so this is normally the spawned pid itself; a shell left in between is looked past.
 */
export function bunPidOf(pid: number): number {
  const command = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
    } catch {
      return [];
    }
  };
  if ((command(pid)[0] ?? "").endsWith("bun")) return pid;
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).map(Number)) {
      if ((command(child)[0] ?? "").endsWith("bun")) return child;
    }
  } catch {}
  return pid;
}

/** A sink for OTLP/HTTP exports that reads each body and answers 200, nothing more. */
function startSink(): { url: string; requests: number; bytes: number; stop(): Promise<void> } {
  const state = { url: "", requests: 0, bytes: 0, stop: async () => {} };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      state.requests++;
      state.bytes += (await request.arrayBuffer()).byteLength;
      return Response.json({ partialSuccess: {} });
    },
  });
  state.url = `http://127.0.0.1:${server.port}/v1/traces`;
  state.stop = () => server.stop(true);
  return state;
}

export async function startBenchMesh(options: BenchMeshOptions): Promise<BenchMesh> {
  const dir = mkdtempSync(join(tmpdir(), "nagent-bench-proxy-"));
  const sink = startSink();
  const started: ServiceProcess[] = [];
  let controlPlane: ControlPlaneProcess | undefined;
  const stop = async () => {
    await Promise.all(started.map((service) => service.stop()));
    await controlPlane?.destroy();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    controlPlane = await startControlPlane();
    const admin = new ControlPlaneClient({ endpoints: [controlPlane.url], token: controlPlane.token, timeoutMs: 5_000 });
    await admin.putPolicy("authz", "bench-allow-agents", AUTHZ_POLICY);
    const { revision } = await admin.putPolicy("resilience", "bench-resilience", RESILIENCE_POLICY);
    const callerToken = (await admin.issueToken({ subject: "bench-agent", roles: ["agent"], ttlSeconds: 3_600 })).token;
    const cpUrl = controlPlane.url;

    const startSidecar = async (id: string, domain: string, app: string | undefined): Promise<BenchSidecar> => {
      const [inPort, outPort] = await freePorts(2);
      const inbound = `http://127.0.0.1:${inPort}`;
      const outbound = `http://127.0.0.1:${outPort}`;
      const nodeToken = (await admin.issueToken({ subject: id, roles: ["node"], ttlSeconds: 3_600 })).token;
      const service = spawnService({
        name: `sidecar-${id}`,
        command: options.command([
          process.execPath,
          ...(options.bunFlags?.(id) ?? []),
          join(root, "cmd", "sidecar", "main.ts"),
          ...["--node-id", id, "--domains", domain],
          ...["--inbound-listen", `127.0.0.1:${inPort}`, "--outbound-listen", `127.0.0.1:${outPort}`, "--advertise", inbound],
          ...(app ? ["--app", app] : []),
          ...["--control-plane", cpUrl, "--token", nodeToken, "--cache-dir", join(dir, `${id}-cache`)],
          ...["--log-level", "warn", "--shutdown-timeout", "2s"],
          ...["--trace-sample-ratio", TRACE_SAMPLE_RATIO, "--trace-exporter", "otlp", "--otlp-endpoint", sink.url],
          // Nothing routes to these nodes when the run ends: stop at once (and write any profile).
          ...["--drain-delay", "0s"],
        ]),
      });
      started.push(service);
      await waitUntilReady(service, async () => (await fetch(`${outbound}/readyz`, { signal: AbortSignal.timeout(500) })).ok, { timeoutMs: 30_000 });
      return {
        id,
        inbound,
        outbound,
        process: service,
        pid: bunPidOf(service.pid),
        status: async () => (await (await fetch(`${outbound}/v1/status`, { signal: AbortSignal.timeout(5_000) })).json()) as SidecarStatus,
      };
    };
    const [b, a] = await Promise.all([startSidecar("bench-b", BENCH_DOMAIN, options.upstream), startSidecar("bench-a", CALLER_DOMAIN, undefined)]);
    await until(
      async () => {
        const statuses = await Promise.all([a.status(), b.status()]);
        return statuses.every(
          (s) =>
            s.revision >= revision &&
            s.held.healthyNodes >= 2 &&
            s.held.authzPolicies.includes("bench-allow-agents") &&
            s.held.resiliencePolicies.includes("bench-resilience"),
        );
      },
      { what: "both sidecars holding both nodes and both policies", timeoutMs: 30_000 },
    );
    return { a, b, callerToken, sink, controlPlane, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
