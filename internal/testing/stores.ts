// Both Store backends, really started, for suites that must pass on each: the integrated Raft
// store as a one-member cluster in this process, and a real etcd server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { Registry } from "prom-client";
import { openRaftStore } from "../raftstore/index.ts";
import { createEtcdStore, type Store } from "../store/index.ts";
import { captureLogger } from "../telemetry/index.ts";
import { startEtcd } from "./etcd.ts";
import { until } from "./until.ts";

export interface StoreUnderTest {
  readonly store: Store;
  cleanup(): Promise<void>;
}

export interface StoreBackend {
  readonly name: string;
  open(): Promise<StoreUnderTest>;
}

/** A one-member integrated store on a free loopback port, with its data in a temporary directory. */
export async function openTestRaftStore(): Promise<StoreUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), "nagent-raftstore-"));
  const app = new Hono();
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  const { logger } = captureLogger("silent");
  const store = await openRaftStore({
    id: "m1",
    peers: [{ id: "m1", url: `http://127.0.0.1:${server.port}` }],
    dataDir: dir,
    logger,
    registry: new Registry(),
    tickMs: 20,
  });
  store.mount(app);
  // A one-member cluster elects itself within a few ticks; callers get it ready to write.
  await until(() => store.notReadyReason() === undefined, { timeoutMs: 10_000, what: "the one-member store's leader" });
  return {
    store,
    async cleanup() {
      await store.close();
      void server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A store on a private etcd started for the caller; cleanup stops etcd. */
export async function openTestEtcdStore(prefix = "test/"): Promise<StoreUnderTest> {
  const etcd = await startEtcd();
  const store = createEtcdStore({ endpoints: [etcd.endpoint], prefix });
  return {
    store,
    async cleanup() {
      await store.close();
      await etcd.stop();
    },
  };
}

export const STORE_BACKENDS: readonly StoreBackend[] = [
  { name: "raft", open: openTestRaftStore },
  { name: "etcd", open: () => openTestEtcdStore() },
];
