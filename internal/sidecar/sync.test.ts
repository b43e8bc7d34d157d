import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ControlPlaneClient } from "../../pkg/index.ts";
import { startControlPlane, type ControlPlaneProcess } from "../testing/control-plane-process.ts";
import { until } from "../testing/index.ts";
import { captureLogger } from "../telemetry/index.ts";
import { MeshState } from "./mesh-state.ts";
import { NodeRegistration } from "./registration.ts";
import { ControlPlaneSync } from "./sync.ts";

let cp: ControlPlaneProcess;
let admin: ControlPlaneClient;

beforeAll(async () => {
  cp = await startControlPlane();
  admin = new ControlPlaneClient({ endpoints: [cp.url], token: cp.token, timeoutMs: 2000 });
});
afterAll(async () => {
  await cp.destroy();
});

describe("following the control plane", () => {
  test("config, registry, policies, keys and revocations arrive, across a control-plane restart", async () => {
    await admin.putConfig("sync/before", 1);
    const { logger } = captureLogger("silent");
    const state = new MeshState(logger);
    const changes: string[] = [];
    state.onChange((kinds) => changes.push(...kinds));
    const sync = new ControlPlaneSync({ client: new ControlPlaneClient({ endpoints: [cp.url], token: cp.token, timeoutMs: 1000 }), state, logger, retry: { initialMs: 20, maxMs: 200 } });
    sync.start();
    await sync.synced;
    expect(state.config("sync/before")).toBe(1);
    expect(state.publicKeys.length).toBe(1);

    await admin.putConfig("sync/after", { ms: 5 });
    await admin.registerNode("peer-1", { address: "http://10.0.0.1:15006", domains: ["execution"], ttlSeconds: 30 });
    await admin.putPolicy("resilience", "exec", { target: { domain: "execution" }, timeoutMs: 1000 });
    const issued = await admin.issueToken({ subject: "x", roles: ["agent"] });
    await admin.revokeToken(issued.token);
    await until(() => state.config("sync/after") !== undefined && state.instancesOf("execution").length === 1 && state.resilienceFor("execution") && state.isRevoked(issued.id));
    expect(state.resilienceFor("execution")?.policy.timeoutMs).toBe(1000);
    expect(changes).toEqual(expect.arrayContaining(["config", "nodes", "policies", "revocations"]));
    expect(sync.status.connected).toBe(true);

    await cp.stop();
    await until(() => !sync.status.connected, { what: "the sidecar noticing the control plane is gone" });
    expect(state.config("sync/after")).toEqual({ ms: 5 }); // nothing forgotten meanwhile
    await cp.start();
    await admin.putConfig("sync/after-restart", true);
    await until(() => state.config("sync/after-restart") === true, { what: "a change made after the restart" });
    expect(sync.status.connected).toBe(true);
    await sync.stop();
  });

  test("a node registers, heartbeats the revision it applied, re-registers when dropped, deregisters on stop", async () => {
    const { logger } = captureLogger("silent");
    const state = new MeshState(logger);
    const client = new ControlPlaneClient({ endpoints: [cp.url], token: cp.token, timeoutMs: 1000 });
    const sync = new ControlPlaneSync({ client, state, logger });
    sync.start();
    await sync.synced;
    const registration = new NodeRegistration({ client, state, logger, nodeId: "self-1", address: "http://127.0.0.1:15999", domains: ["core"], ttlSeconds: 3 });
    registration.start();
    await until(async () => ((await admin.getNode("self-1").catch(() => undefined))?.configRevision ?? null) !== null);
    const node = await admin.getNode("self-1");
    expect(node).toMatchObject({ healthy: true, domains: ["core"] });
    expect(node.configRevision).toBeGreaterThan(0);

    await admin.deregisterNode("self-1");
    await until(async () => (await admin.getNode("self-1").catch(() => undefined))?.healthy === true, { what: "the node registering again" });
    await registration.stop();
    expect(await admin.getNode("self-1").catch((error: Error) => error.name)).toBe("NotFoundError");
    await sync.stop();
  });
});
