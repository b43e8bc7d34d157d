import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { existsSync } from "node:fs";
import { isProcessAlive, livePidsInGroup, livePidsMentioning } from "./liveness.ts";
import { startRedis, type RedisServer } from "./redis.ts";

describe("startRedis", () => {
  let redis: RedisServer;
  let client: Redis | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  }, 30_000);

  afterAll(async () => {
    await quitClient();
    await redis?.stop();
  });

  async function quitClient(): Promise<void> {
    await client?.quit();
    client = undefined;
  }

  test("keys expire on time", async () => {
    const redisClient = client!;
    const setAt = performance.now();
    expect(await redisClient.set("nagent:short", "v", "PX", 200)).toBe("OK");
    expect(await redisClient.get("nagent:short")).toBe("v");
    const pttl = await redisClient.pttl("nagent:short");
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(200);

    expect(await redisClient.set("nagent:long", "v", "EX", 60)).toBe("OK");
    const ttl = await redisClient.ttl("nagent:long");
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);

    while ((await redisClient.get("nagent:short")) !== null) {
      if (performance.now() - setAt > 2_000) throw new Error("nagent:short did not expire within 2 s");
      await Bun.sleep(25);
    }
    expect(performance.now() - setAt).toBeGreaterThanOrEqual(150);
    expect(await redisClient.get("nagent:long")).toBe("v");
  });

  test("stop() leaves no redis-server process and no dir behind", async () => {
    await quitClient();
    await redis.stop();
    // redis-server rewrites its process title, so check its pid and group, not just command lines.
    expect(isProcessAlive(redis.pid)).toBe(false);
    expect(livePidsInGroup(redis.pid)).toEqual([]);
    expect(livePidsMentioning(redis.dir)).toEqual([]);
    expect(existsSync(redis.dir)).toBe(false);
  });
});
