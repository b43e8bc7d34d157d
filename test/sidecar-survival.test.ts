// What keeps working when parts of the mesh are gone: the control plane killed under traffic, a
// sidecar restarted while it is down, a shared Redis that dies, and an instance ejected by its
// caller's outlier detection that comes back after its ejection time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedis, until, type RedisServer } from "../internal/testing/index.ts";
import { startMesh, type Mesh } from "./support/mesh.ts";

describe("with the control plane gone", () => {
  let mesh: Mesh;
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis();
    mesh = await startMesh({
      nodes: [
        { id: "node-a", domains: ["communication"] },
        { id: "node-b", domains: ["execution"] },
      ],
      sidecarArgs: ["--redis-url", redis.url],
    });
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
    await redis?.stop();
  }, 60_000);

  test("traffic with cached credentials goes on with zero failures while the control plane is killed", async () => {
    const a = mesh.node("node-a");
    const jwt = await mesh.token("agent-1", ["agent"]);
    const apiKey = await mesh.token("agent-2", ["agent"], { kind: "api-key", ttlSeconds: 3600 });
    // Warm the callee's credential cache.
    for (const token of [jwt, apiKey]) expect((await a.invoke("execution", "/warm", { token })).status).toBe(200);

    let stop = false;
    let sent = 0;
    const failures: string[] = [];
    const traffic = (async () => {
      while (!stop) {
        for (const token of [jwt, apiKey]) {
          sent++;
          const response = await a.invoke("execution", "/work", { token }).catch((error: Error) => error);
          if (response instanceof Error) failures.push(response.message);
          else if (response.status !== 200) failures.push(`${response.status} ${await response.text()}`);
        }
        await Bun.sleep(5);
      }
    })();
    await Bun.sleep(300);
    await mesh.cp.kill();
    await until(async () => !(await a.status()).controlPlane.connected, { what: "node-a noticing the control plane is gone" });
    await Bun.sleep(2_000);
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(50);
  }, 60_000);

  test("a sidecar restarted while the control plane is down serves from its cache dir", async () => {
    const a = mesh.node("node-a");
    const b = mesh.node("node-b");
    const jwt = await (async () => {
      await mesh.cp.start();
      await until(async () => (await b.status()).controlPlane.connected, { what: "node-b reconnecting" });
      const token = await mesh.token("agent-5", ["agent"], { kind: "api-key", ttlSeconds: 3600 });
      expect((await a.invoke("execution", "/warm", { token })).status).toBe(200);
      await Bun.sleep(1_500); // the cache dir is written within a second of a change
      await mesh.cp.kill();
      return token;
    })();
    await b.stopSidecar();
    await b.startSidecar();
    const status = await b.status();
    expect(status.source).toBe("cache");
    expect(status.held.nodes).toBe(2);
    expect(status.controlPlane.connected).toBe(false);
    // node-b's sidecar knows the API key from its cache: no control plane needed.
    expect((await a.invoke("execution", "/after-restart", { token: jwt })).status).toBe(200);
    await mesh.cp.start();
    await until(async () => (await b.status()).source === "control-plane", { what: "node-b syncing again" });
  }, 60_000);

  test("a Redis that dies fails no request", async () => {
    const a = mesh.node("node-a");
    const key = await mesh.token("agent-3", ["agent"], { kind: "api-key", ttlSeconds: 3600 });
    expect((await a.invoke("execution", "/r", { token: key })).status).toBe(200);
    await redis.stop();
    const newKey = await mesh.token("agent-4", ["agent"], { kind: "api-key", ttlSeconds: 3600 });
    for (let i = 0; i < 20; i++) {
      for (const token of [key, newKey]) expect((await a.invoke("execution", "/r", { token })).status).toBe(200);
    }
    const status = await mesh.node("node-b").status();
    expect(status.credentials.redis).toBeDefined();
  }, 30_000);
});

describe("outlier ejection", () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({
      nodes: [
        { id: "caller", domains: ["communication"] },
        { id: "exec-1", domains: ["execution"] },
        { id: "exec-2", domains: ["execution"] },
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
  }, 60_000);

  test("a failing instance is ejected, traffic goes to the other, and it returns after its ejection time", async () => {
    const caller = mesh.node("caller");
    const token = await mesh.token("agent-1", ["agent"]);
    const { revision } = await mesh.admin.putPolicy("resilience", "exec", {
      target: { domain: "execution" },
      retry: { maxAttempts: 2, backoff: { type: "constant", initialMs: 5 } },
      outlierDetection: { consecutiveFailures: 3, ejectionMs: 2_000, maxEjectionPercent: 50 },
    });
    await until(async () => (await caller.status()).revision >= revision);
    await mesh.node("exec-2").behave({ status: 503 });
    for (let i = 0; i < 30; i++) expect((await caller.invoke("execution", "/job", { token })).status).toBe(200);
    const snapshot = (await caller.status()).resilience.find((entry: { domain: string }) => entry.domain === "execution");
    expect(snapshot.ejected).toEqual(["exec-2"]);
    const before = (await mesh.node("exec-2").appCalls()).length;
    for (let i = 0; i < 10; i++) await caller.invoke("execution", "/job", { token });
    expect((await mesh.node("exec-2").appCalls()).length).toBe(before); // ejected: not called

    await mesh.node("exec-2").behave({});
    await Bun.sleep(2_200);
    const calledAgain = async () => {
      const start = (await mesh.node("exec-2").appCalls()).length;
      for (let i = 0; i < 20; i++) await caller.invoke("execution", "/job", { token });
      return (await mesh.node("exec-2").appCalls()).length > start;
    };
    expect(await calledAgain()).toBe(true);
    expect((await caller.status()).resilience.find((entry: { domain: string }) => entry.domain === "execution").ejected).toEqual([]);
  }, 60_000);
});
