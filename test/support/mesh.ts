// A small mesh of real processes on loopback for multi-process tests: one control-plane member
// (or a control-plane cluster the test started itself, see startMeshOn), and per node a test app
// (test/fixtures/agent-app.ts) behind a sidecar with its own node token and cache dir. Sidecars
// and the control plane can be stopped, killed and started again.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlaneClient } from "../../pkg/index.ts";
import { startControlPlane, type ControlPlaneProcess } from "../../internal/testing/control-plane-process.ts";
import { freePorts, spawnService, until, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";

const root = join(import.meta.dir, "..", "..");

export interface NodeSpec {
  readonly id: string;
  readonly domains: readonly string[];
  readonly sidecarArgs?: readonly string[];
}

export interface MeshNode {
  readonly id: string;
  readonly domains: readonly string[];
  readonly appUrl: string;
  readonly inbound: string;
  readonly outbound: string;
  readonly cacheDir: string;
  sidecar: ServiceProcess | undefined;
  /** Starts (or restarts) the sidecar and waits until it is ready. */
  startSidecar(extraArgs?: readonly string[]): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); answers how the sidecar ended ("exit code 0" for a clean stop). */
  stopSidecar(graceMs?: number): Promise<string | null>;
  killSidecar(): Promise<void>;
  /** A call from this node's app through its sidecar: /v1/invoke/{domain}{path}. */
  invoke(domain: string, path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  behave(behaviour: { status?: number; delayMs?: number; resetMidResponse?: boolean; failNext?: number }): Promise<void>;
  appCalls(): Promise<{ method: string; path: string }[]>;
  status(): Promise<any>;
}

export interface MeshOnControlPlane {
  readonly admin: ControlPlaneClient;
  readonly nodes: ReadonlyMap<string, MeshNode>;
  node(id: string): MeshNode;
  /** A JWT for a caller (audience nagent unless given). */
  token(subject: string, roles: readonly string[], extra?: { audience?: string[]; ttlSeconds?: number; kind?: "jwt" | "api-key" }): Promise<string>;
  /** Until every sidecar holds every node and the same revision as the control plane. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export interface Mesh extends MeshOnControlPlane {
  readonly cp: ControlPlaneProcess;
}

export interface MeshOptions {
  readonly nodes: readonly NodeSpec[];
  readonly sidecarArgs?: readonly string[];
  readonly controlPlaneArgs?: readonly string[];
}

export async function startMesh(options: MeshOptions): Promise<Mesh> {
  const cp = await startControlPlane({ extraArgs: options.controlPlaneArgs ?? [] });
  try {
    const mesh = await startMeshOn({ ...options, endpoints: [cp.url], adminToken: cp.token });
    return { ...mesh, cp, stop: () => mesh.stop().finally(() => cp.destroy()) };
  } catch (error) {
    await cp.destroy();
    throw error;
  }
}

/**
 * The nodes of a mesh on control-plane members the caller runs (and stops): each sidecar is given
 * every endpoint, in the order given.
 */
export async function startMeshOn(options: MeshOptions & { readonly endpoints: readonly string[]; readonly adminToken: string }): Promise<MeshOnControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), "nagent-mesh-"));
  const admin = new ControlPlaneClient({ endpoints: options.endpoints, token: options.adminToken, timeoutMs: 5000 });
  const apps: ServiceProcess[] = [];
  const nodes = new Map<string, MeshNode>();

  for (const spec of options.nodes) {
    const [appPort, inPort, outPort] = await freePorts(3);
    const appUrl = `http://127.0.0.1:${appPort}`;
    const app = spawnService({ name: `app-${spec.id}`, command: [process.execPath, join(root, "test", "fixtures", "agent-app.ts"), "--port", String(appPort), "--name", spec.id] });
    apps.push(app);
    await waitUntilReady(app, async () => (await fetch(`${appUrl}/__stats`, { signal: AbortSignal.timeout(500) })).ok);
    const nodeToken = (await admin.issueToken({ subject: spec.id, roles: ["node"], ttlSeconds: 3600 })).token;
    const inbound = `http://127.0.0.1:${inPort}`;
    const outbound = `http://127.0.0.1:${outPort}`;
    const cacheDir = join(dir, `${spec.id}-cache`);
    const node: MeshNode = {
      id: spec.id,
      domains: spec.domains,
      appUrl,
      inbound,
      outbound,
      cacheDir,
      sidecar: undefined,
      async startSidecar(extraArgs = []) {
        node.sidecar = spawnService({
          name: `sidecar-${spec.id}`,
          command: [
            process.execPath,
            join(root, "cmd", "sidecar", "main.ts"),
            ...["--node-id", spec.id, "--domains", spec.domains.join(",")],
            ...["--inbound-listen", `127.0.0.1:${inPort}`, "--outbound-listen", `127.0.0.1:${outPort}`, "--advertise", inbound],
            ...["--app", appUrl, "--control-plane", options.endpoints.join(","), "--token", nodeToken, "--cache-dir", cacheDir],
            ...["--log-level", "warn", "--shutdown-timeout", "2s", "--registration-ttl", "3s", "--trace-exporter", "none"],
            // Tests that stop sidecars do not test draining: no drain delay unless a test asks for one.
            ...["--drain-delay", "0s"],
            ...(options.sidecarArgs ?? []),
            ...(spec.sidecarArgs ?? []),
            ...extraArgs,
          ],
        });
        const running = node.sidecar;
        await waitUntilReady(running, async () => (await fetch(`${outbound}/readyz`, { signal: AbortSignal.timeout(500) })).ok);
      },
      async stopSidecar(graceMs) {
        const running = node.sidecar;
        if (!running) return null;
        await running.stop(graceMs);
        node.sidecar = undefined;
        return running.exitStatus();
      },
      async killSidecar() {
        if (!node.sidecar) return;
        process.kill(node.sidecar.pid, "SIGKILL");
        await node.sidecar.exited;
        await node.sidecar.stop();
        node.sidecar = undefined;
      },
      invoke(domain, path, init = {}) {
        const { token, ...rest } = init;
        const headers = new Headers(rest.headers);
        if (token) headers.set("authorization", `Bearer ${token}`);
        return fetch(`${outbound}/v1/invoke/${domain}${path}`, { ...rest, headers, signal: rest.signal ?? AbortSignal.timeout(10_000) });
      },
      async behave(behaviour) {
        await fetch(`${appUrl}/__behaviour`, { method: "POST", body: JSON.stringify(behaviour) });
      },
      async appCalls() {
        return ((await (await fetch(`${appUrl}/__stats`)).json()) as { calls: { method: string; path: string }[] }).calls;
      },
      async status() {
        return (await fetch(`${outbound}/v1/status`)).json();
      },
    };
    nodes.set(spec.id, node);
  }
  await Promise.all([...nodes.values()].map((node) => node.startSidecar()));

  const mesh: MeshOnControlPlane = {
    admin,
    nodes,
    node(id) {
      const found = nodes.get(id);
      if (!found) throw new Error(`no node ${id}`);
      return found;
    },
    async token(subject, roles, extra = {}) {
      return (await admin.issueToken({ subject, roles: [...roles], ...extra })).token;
    },
    async settle() {
      await until(
        async () => {
          const revision = (await admin.listNodes()).revision;
          const statuses = await Promise.all([...nodes.values()].filter((n) => n.sidecar).map((n) => n.status()));
          return statuses.every((s) => s.held.healthyNodes === nodes.size && s.revision >= revision);
        },
        { what: "every sidecar holding every node", timeoutMs: 20_000 },
      );
    },
    async stop() {
      await Promise.all([...nodes.values()].map((n) => n.stopSidecar()));
      await Promise.all(apps.map((app) => app.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await mesh.settle();
  return mesh;
}
