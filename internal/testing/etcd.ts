import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { requireExecutable } from "./executable.ts";
import { freePorts, retryOnPortClash } from "./ports.ts";
import { spawnService, waitUntilReady } from "./process.ts";

export interface EtcdOptions {
  /** How long to wait for /health to report healthy. */
  startTimeoutMs?: number;
}

export interface EtcdServer {
  /** Client URL, e.g. http://127.0.0.1:23790. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** Pid of the server process (also its process group id), for leak checks. */
  readonly pid: number;
  /** Kills etcd and removes its data dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a private single-member etcd on free loopback ports with a fresh data dir, and resolves
 * once it serves requests. Tests run against the real server rather than a fake because watch,
 * lease and revision semantics are exactly what fakes get wrong. Throws `MissingExecutableError`
 * when etcd is not installed and `ServiceStartError` (with etcd's output) when it will not start.
 */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  const executable = requireExecutable("etcd", "etcd-server");
  return retryOnPortClash(() => startEtcdOnce(executable, options.startTimeoutMs ?? 20_000));
}

async function startEtcdOnce(executable: string, startTimeoutMs: number): Promise<EtcdServer> {
  const [clientPort, peerPort] = await freePorts(2);
  if (clientPort === undefined || peerPort === undefined) throw new Error("freePorts(2) returned too few ports");
  const dataDir = await mkdtemp(join(tmpdir(), "nagent-etcd-"));
  const name = basename(dataDir);
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;

  const service = spawnService({
    name: "etcd",
    ownedDir: dataDir,
    env: etcdEnvironment(),
    command: [
      executable,
      ...["--name", name, "--data-dir", dataDir],
      ...["--listen-client-urls", endpoint, "--advertise-client-urls", endpoint],
      ...["--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl],
      ...["--initial-cluster", `${name}=${peerUrl}`, "--initial-cluster-state", "new", "--initial-cluster-token", name],
      ...["--logger", "zap", "--log-outputs", "stderr"],
    ],
  });
  await waitUntilReady(service, () => isHealthy(endpoint), { timeoutMs: startTimeoutMs });
  return { endpoint, clientPort, peerPort, dataDir, pid: service.pid, stop: () => service.stop() };
}

async function isHealthy(endpoint: string): Promise<boolean> {
  const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
  if (!response.ok) return false;
  const body = (await response.json()) as { health?: unknown };
  return body.health === "true";
}

/**
 * etcd reads ETCD_* variables as flags, so a developer's own settings would leak into the test
 * server; drop them. Off amd64, etcd 3.4 refuses to run unless told the arch is acceptable.
 */
function etcdEnvironment(): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD_")));
  const goArch = GO_ARCH[process.arch];
  if (goArch !== undefined && goArch !== "amd64") env.ETCD_UNSUPPORTED_ARCH = goArch;
  return env;
}

const GO_ARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
};
