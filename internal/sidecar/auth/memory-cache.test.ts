import { describe, expect, test } from "bun:test";
import type { TokenClaims } from "../../auth/index.ts";
import { MemoryCache } from "./memory-cache.ts";

const NOW = 1_700_000_000_000;

function claims(id: string, expiresInS = 3_600): TokenClaims {
  const seconds = Math.floor(NOW / 1000);
  return { kind: "api-key", id, subject: id, roles: [], audience: ["nagent"], issuedAt: seconds, expiresAt: seconds + expiresInS };
}

describe("MemoryCache", () => {
  test("never holds more than maxEntries positive decisions", () => {
    const cache = new MemoryCache({ maxEntries: 3, maxNegativeEntries: 2 });
    for (let i = 0; i < 10; i++) cache.putPositive(`t${i}`, claims(`id${i}`), NOW + 1_000, NOW);
    expect(cache.positives.size).toBe(3);
    expect([...cache.positives.keys()]).toEqual(["t7", "t8", "t9"]);
  });

  test("a decision used since the hand last passed gets a second chance (CLOCK, close to LRU)", () => {
    const cache = new MemoryCache({ maxEntries: 3, maxNegativeEntries: 2 });
    for (const token of ["a", "b", "c"]) cache.putPositive(token, claims(token), NOW + 1_000, NOW);
    cache.positives.get("a")!.used = true; // what a hit does
    cache.putPositive("d", claims("d"), NOW + 1_000, NOW);
    expect(cache.positives.has("a")).toBe(true);
    expect(cache.positives.has("b")).toBe(false);
    cache.putPositive("e", claims("e"), NOW + 1_000, NOW);
    expect([...cache.positives.keys()].sort()).toEqual(["a", "d", "e"]);
  });

  test("an expired decision is evicted before a used one, and an expired token is never cached", () => {
    const cache = new MemoryCache({ maxEntries: 2, maxNegativeEntries: 2 });
    cache.putPositive("old", claims("old", 10), NOW + 1_000, NOW);
    cache.putPositive("hot", claims("hot"), NOW + 1_000, NOW);
    cache.positives.get("old")!.used = true;
    cache.positives.get("hot")!.used = true;
    const later = NOW + 20_000;
    cache.putPositive("new", claims("new"), later + 1_000, later);
    expect([...cache.positives.keys()].sort()).toEqual(["hot", "new"]);
    expect(cache.putPositive("gone", claims("gone", 10), later + 1_000, later)).toBeUndefined();
    expect(cache.positives.has("gone")).toBe(false);
  });

  test("fresh until min(token expiry, the given deadline)", () => {
    const cache = new MemoryCache({ maxEntries: 2, maxNegativeEntries: 2 });
    expect(cache.putPositive("short", claims("short", 30), NOW + 300_000, NOW)!.freshUntil).toBe((Math.floor(NOW / 1000) + 30) * 1000);
    expect(cache.putPositive("long", claims("long"), NOW + 300_000, NOW)!.freshUntil).toBe(NOW + 300_000);
  });

  test("refusals are bounded on their own, expire, and replace an acceptance", () => {
    const cache = new MemoryCache({ maxEntries: 2, maxNegativeEntries: 2 });
    cache.putPositive("p", claims("p"), NOW + 1_000, NOW);
    cache.putNegative("p", "revoked", NOW + 100);
    expect(cache.positives.has("p")).toBe(false);
    cache.putNegative("x", "bad_signature", NOW + 100);
    cache.putNegative("y", "expired", NOW + 100);
    expect(cache.negativeSize).toBe(2);
    expect(cache.negative("p", NOW)).toBeUndefined(); // the oldest went
    expect(cache.negative("x", NOW)).toEqual({ ok: false, reason: "bad_signature" });
    expect(cache.negative("x", NOW + 100)).toBeUndefined();
    expect(cache.negativeSize).toBe(1);
  });

  test("dropId forgets every decision of a credential, restored ones too, and answers the latest expiry", () => {
    const cache = new MemoryCache({ maxEntries: 5, maxNegativeEntries: 2 });
    cache.putPositive("t1", claims("same", 100), NOW + 1_000, NOW);
    cache.putPositive("t2", claims("same", 200), NOW + 1_000, NOW);
    cache.putPositive("t3", claims("other"), NOW + 1_000, NOW);
    cache.putRestored("f".repeat(64), { claims: claims("same", 300), expiresAtMs: (Math.floor(NOW / 1000) + 300) * 1000 });
    expect(cache.dropId("same")).toBe((Math.floor(NOW / 1000) + 300) * 1000);
    expect([...cache.positives.keys()]).toEqual(["t3"]);
    expect(cache.restored.size).toBe(0);
    expect(cache.dropId("nobody")).toBeUndefined();
  });
});
