import { until } from "../testing/index.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { STORE_BACKENDS, type StoreUnderTest } from "../testing/stores.ts";
import { captureLogger } from "../telemetry/index.ts";
import type { Store, WatchEvent } from "../store/index.ts";
import { HEALTH_PREFIX, NODES_PREFIX, NodeNotRegisteredError, NodeRegistry } from "./registry.ts";
import { normalizeRegistration, registrationSchema } from "./schema.ts";
import { SyncTracker } from "./sync.ts";

/** The error a promise rejects with. (Bun's expect(...).rejects can stall a pending gRPC call, so await it here.) */
async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

const registration = (overrides: Record<string, unknown> = {}) =>
  normalizeRegistration(registrationSchema.parse({ address: "http://10.0.0.5:15006", domains: ["execution", "core"], ...overrides }));

describe.each(STORE_BACKENDS)("service registry on the $name store", (backend) => {
  let underTest: StoreUnderTest;
  let store: Store;
  let registry: NodeRegistry;
  const events: WatchEvent[] = [];
  let cancelWatch: () => Promise<void> = async () => {};

  beforeAll(async () => {
    underTest = await backend.open();
    store = underTest.store;
    registry = new NodeRegistry(store);
    const watch = await store.watch("registry/", undefined, { onEvents: (batch) => events.push(...batch), onError: () => {} });
    cancelWatch = () => watch.cancel();
  });
  afterAll(async () => {
    await cancelWatch();
    await underTest.cleanup();
  });

  const seen = (type: "put" | "delete", key: string) => events.some((event) => event.type === type && event.key === key);

  test("a registered node is listed healthy, by domain too; the watch sees the node before its health", async () => {
    const node = await registry.register("n1", registration({ metadata: { zone: "a" } }));
    expect(node).toMatchObject({ id: "n1", address: "http://10.0.0.5:15006", domains: ["execution", "core"], healthy: true, ttlSeconds: 10, removeAfterSeconds: 30 });
    await registry.register("n2", registration({ domains: ["state"] }));
    expect((await registry.list()).map((each) => each.id)).toEqual(["n1", "n2"]);
    expect((await registry.list({ domain: "state" })).map((each) => each.id)).toEqual(["n2"]);
    expect(await registry.get("n1")).toMatchObject({ healthy: true, metadata: { zone: "a" }, lastHeartbeat: expect.any(String) });
    await until(() => seen("put", HEALTH_PREFIX + "n2"));
    const order = events.filter((event) => event.key.endsWith("/n1")).map((event) => event.key);
    expect(order.slice(0, 2)).toEqual([NODES_PREFIX + "n1", HEALTH_PREFIX + "n1"]);
  });

  test("heartbeats keep a node healthy past its TTL and record the reported config revision", async () => {
    await registry.register("beat", registration({ ttlSeconds: 1, removeAfterSeconds: 1 }));
    const until3s = Date.now() + 3_000;
    while (Date.now() < until3s) {
      await registry.heartbeat("beat", { configRevision: 42, configAppliedAt: new Date().toISOString() });
      await Bun.sleep(300);
    }
    expect(await registry.get("beat")).toMatchObject({ healthy: true, configRevision: 42, configAppliedAt: expect.any(String) });
    // A heartbeat without a report keeps the last one.
    await registry.heartbeat("beat", {});
    expect((await registry.get("beat"))?.configRevision).toBe(42);
    await registry.deregister("beat");
  });

  test("a node that stops heartbeating turns unhealthy, then is removed, and the watch shows both", async () => {
    await registry.register("quiet", registration({ ttlSeconds: 1, removeAfterSeconds: 2 }));
    const unhealthy = await until(async () => {
      const node = await registry.get("quiet");
      return node && !node.healthy ? node : undefined;
    });
    expect(unhealthy.id).toBe("quiet");
    expect(seen("delete", HEALTH_PREFIX + "quiet")).toBe(true);
    expect((await registry.list()).find((node) => node.id === "quiet")?.healthy).toBe(false);
    await until(async () => (await registry.get("quiet")) === undefined);
    await until(() => seen("delete", NODES_PREFIX + "quiet"));
  });

  test("a heartbeat after the health lease expired makes the node healthy again with one lease in use", async () => {
    await registry.register("back", registration({ ttlSeconds: 1, removeAfterSeconds: 60 }));
    await until(async () => (await registry.get("back"))?.healthy === false);
    // Two heartbeats racing to bring it back.
    await Promise.all([registry.heartbeat("back", {}), registry.heartbeat("back", {})]);
    expect((await registry.get("back"))?.healthy).toBe(true);
    const record = JSON.parse((await store.get(NODES_PREFIX + "back"))!.value) as { leases: { health: string } };
    expect((await store.get(HEALTH_PREFIX + "back"))?.lease).toBe(record.leases.health);
    await registry.deregister("back");
  });

  test("a heartbeat after removal says the node is not registered; registering again is clean", async () => {
    await registry.register("gone", registration({ ttlSeconds: 1, removeAfterSeconds: 1 }));
    await until(async () => (await registry.get("gone")) === undefined);
    expect(await errorOf(registry.heartbeat("gone", {}))).toBeInstanceOf(NodeNotRegisteredError);
    const again = await registry.register("gone", registration({ ttlSeconds: 5 }));
    expect(again.healthy).toBe(true);
    expect((await registry.list()).filter((node) => node.id === "gone").length).toBe(1);
    await registry.deregister("gone");
  });

  test("registering again replaces the registration and releases the old leases", async () => {
    const first = await registry.register("re", registration());
    const firstLeases = JSON.parse((await store.get(NODES_PREFIX + "re"))!.value) as { leases: { health: string; registration: string } };
    const second = await registry.register("re", registration({ address: "http://10.0.0.6:15006" }));
    expect(second.revision).toBeGreaterThan(first.revision);
    expect((await registry.get("re"))?.address).toBe("http://10.0.0.6:15006");
    expect(await errorOf(store.keepAlive(firstLeases.leases.health))).toBeInstanceOf(Error);
    expect(await errorOf(store.keepAlive(firstLeases.leases.registration))).toBeInstanceOf(Error);
    expect((await registry.get("re"))?.healthy).toBe(true);
  });

  test("deregistering removes the node at once; the watch sees it leave", async () => {
    await registry.register("bye", registration());
    expect(await registry.deregister("bye")).toEqual({ revision: expect.any(Number) });
    expect(await registry.get("bye")).toBeUndefined();
    expect(await registry.deregister("bye")).toBeUndefined();
    await until(() => seen("delete", NODES_PREFIX + "bye") && seen("delete", HEALTH_PREFIX + "bye"));
    expect(await errorOf(registry.heartbeat("bye", {}))).toBeInstanceOf(NodeNotRegisteredError);
  });

  test("sync state: a sidecar that reports the latest visible revision is synced; one that missed a change is stale", async () => {
    const { logger } = captureLogger("silent");
    const before = (await store.put("config/sync-before", "1")).revision;
    const tracker = new SyncTracker(store, { logger, graceMs: 200 });
    await tracker.synced;
    const { revision } = await store.put("config/sync-test", "1");
    // Hidden writes (heartbeat reports) do not move the revision sidecars must reach.
    await store.put("system/registry/status/x", "{}");
    await until(() => tracker.latestRevision === revision);
    const now = new Date().toISOString();
    expect(tracker.stateOf(null, null)).toEqual({ state: "unknown" });
    expect(tracker.stateOf(revision, now)).toEqual({ state: "synced", behind: 0 });
    // Just behind, inside the grace period: still on its way.
    expect(tracker.stateOf(revision - 1, now).state).toBe("synced");
    await Bun.sleep(300);
    expect(tracker.stateOf(revision - 1, new Date().toISOString())).toEqual({ state: "stale", behind: 1 });
    // Missing a change made before this member started following counts as stale at once.
    expect(tracker.stateOf(before - 1, new Date().toISOString()).state).toBe("stale");
    await tracker.stop();
  });
});
