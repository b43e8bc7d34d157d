import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startEtcd, until, type EtcdServer } from "../testing/index.ts";
import { captureLogger } from "../telemetry/index.ts";
import { createEtcdStore } from "./etcd-store.ts";
import { StoreUnavailableError } from "./errors.ts";
import { PrefixMirror } from "./follow.ts";
import type { Store, WatchHandlers } from "./types.ts";

/** The real store, except that `breakWatches()` ends every open watch the way a snapshot install does. */
function breakable(store: Store): { store: Store; breakWatches(): void; lists: () => number } {
  const open = new Set<WatchHandlers>();
  let lists = 0;
  const wrapped: Store = Object.create(store) as Store;
  Object.assign(wrapped, {
    list: (...args: Parameters<Store["list"]>) => {
      lists++;
      return store.list(...args);
    },
    watch: async (prefix: string, from: number | undefined, handlers: WatchHandlers) => {
      const inner = await store.watch(prefix, from, handlers);
      open.add(handlers);
      return {
        cancel: async () => {
          open.delete(handlers);
          await inner.cancel();
        },
      };
    },
  });
  return {
    store: wrapped,
    breakWatches() {
      for (const handlers of [...open]) handlers.onError(new StoreUnavailableError("watch ended for the test"));
    },
    lists: () => lists,
  };
}

describe("PrefixMirror on a real etcd", () => {
  let etcd: EtcdServer;
  let store: Store;
  beforeAll(async () => {
    etcd = await startEtcd();
    store = createEtcdStore({ endpoints: [etcd.endpoint], prefix: "follow/" });
  });
  afterAll(async () => {
    await store.close();
    await etcd.stop();
  });

  test("holds what was there before it started, then follows puts and deletes", async () => {
    await store.put("m1/a", JSON.stringify({ n: 1 }));
    const { logger } = captureLogger("silent");
    const mirror = new PrefixMirror(store, "m1/", (value) => JSON.parse(value) as { n: number }, { logger });
    const changes: string[] = [];
    mirror.onChange((key, value) => changes.push(`${key}=${value?.n ?? "gone"}`));
    await mirror.synced;
    expect(mirror.get("m1/a")).toEqual({ n: 1 });
    await store.put("m1/b", JSON.stringify({ n: 2 }));
    await store.put("m1/a", JSON.stringify({ n: 3 }));
    await store.delete("m1/b");
    await store.put("m2/outside", "1");
    await until(() => changes.length >= 4);
    expect(changes).toEqual(["m1/a=1", "m1/b=2", "m1/a=3", "m1/b=gone"]);
    expect(mirror.values()).toEqual([{ n: 3 }]);
    await mirror.stop();
  });

  test("a value that does not parse is left out and logged; the rest is served", async () => {
    await store.put("m3/good", JSON.stringify(1));
    await store.put("m3/bad", "not json");
    const { logger, lines } = captureLogger("debug");
    const mirror = new PrefixMirror(store, "m3/", (value) => JSON.parse(value) as number, { logger });
    await mirror.synced;
    expect(mirror.size).toBe(1);
    expect(mirror.get("m3/good")).toBe(1);
    expect(lines().some((line) => line.key === "m3/bad" && line.level === "error")).toBe(true);
    await mirror.stop();
  });

  test("when the watch ends, it lists again and misses nothing written meanwhile", async () => {
    const fault = breakable(store);
    const { logger } = captureLogger("silent");
    const mirror = new PrefixMirror(fault.store, "m4/", (value) => value, { logger, retryMs: 10 });
    await mirror.synced;
    const listsBefore = fault.lists();
    fault.breakWatches();
    await store.put("m4/written-while-broken", "1");
    await store.put("m4/k", "2");
    await until(() => mirror.get("m4/k") === "2" && fault.lists() > listsBefore);
    expect(mirror.get("m4/written-while-broken")).toBe("1");
    await store.delete("m4/k");
    await until(() => mirror.get("m4/k") === undefined);
    await mirror.stop();
  });
});
