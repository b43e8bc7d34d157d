import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Etcd3, type Watcher } from "etcd3";
import { existsSync } from "node:fs";
import { startEtcd, type EtcdServer } from "./etcd.ts";
import { isProcessAlive, livePidsInGroup, livePidsMentioning } from "./liveness.ts";

describe("startEtcd", () => {
  let etcd: EtcdServer;
  let client: Etcd3 | undefined;

  beforeAll(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.endpoint });
  }, 30_000);

  afterAll(async () => {
    closeClient();
    await etcd?.stop();
  });

  function closeClient(): void {
    client?.close();
    client = undefined;
  }

  test("serves on a loopback endpoint", () => {
    expect(etcd.endpoint).toBe(`http://127.0.0.1:${etcd.clientPort}`);
    expect(etcd.peerPort).not.toBe(etcd.clientPort);
  });

  test("a watcher sees a put, and a get reads the value back", async () => {
    const etcdClient = client!;
    const key = "nagent/testing/greeting";
    const watcher: Watcher = await etcdClient.watch().key(key).create();
    try {
      const seen = new Promise<string>((resolve) => watcher.on("put", (kv) => resolve(kv.value.toString())));
      await etcdClient.put(key).value("hello");
      expect(await seen).toBe("hello");
      expect(await etcdClient.get(key).string()).toBe("hello");
    } finally {
      await watcher.cancel();
    }
  });

  test("stop() leaves no etcd process and no data dir behind", async () => {
    closeClient();
    await etcd.stop();
    expect(isProcessAlive(etcd.pid)).toBe(false);
    expect(livePidsInGroup(etcd.pid)).toEqual([]);
    expect(livePidsMentioning(etcd.dataDir)).toEqual([]);
    expect(existsSync(etcd.dataDir)).toBe(false);
  });
});
