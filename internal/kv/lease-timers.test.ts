import { describe, expect, test } from "bun:test";
import { KvStateMachine, LeaseTimers, type Command } from "./index.ts";

function clock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
      return now;
    },
  };
}

describe("LeaseTimers", () => {
  test("a leader reports a lease once its TTL has passed without a keep-alive", () => {
    const c = clock();
    const timers = new LeaseTimers({ now: c.now });
    timers.promote([]);
    timers.grant("l1", 10);
    timers.grant("l2", 5);
    expect(timers.expired()).toEqual([]);
    expect(timers.nextDeadline()).toBe(1_000 + 5_000);
    expect(timers.expired(c.advance(4_999))).toEqual([]);
    expect(timers.expired(c.advance(1))).toEqual(["l2"]);
    expect(timers.remainingMs("l2")).toBe(0);
    expect(timers.remainingMs("l1")).toBe(5_000);
    timers.revoke("l2"); // its leaseExpire was applied
    expect(timers.expired(c.advance(10_000))).toEqual(["l1"]);
  });

  test("keep-alive extends the deadline by a full TTL from now", () => {
    const c = clock();
    const timers = new LeaseTimers({ now: c.now });
    timers.promote([]);
    timers.grant("l", 10);
    c.advance(8_000);
    timers.keepAlive("l");
    expect(timers.expired(c.advance(5_000))).toEqual([]);
    expect(timers.remainingMs("l")).toBe(5_000);
    expect(timers.nextDeadline()).toBe(1_000 + 18_000);
    expect(timers.expired(c.advance(5_000))).toEqual(["l"]);
  });

  test("promote resets every deadline to now + TTL, so a leader change never expires early", () => {
    const c = clock();
    const follower = new LeaseTimers({ now: c.now });
    follower.grant("l1", 10);
    follower.grant("l2", 30);
    // A follower never expires anything, however late it is.
    expect(follower.expired(c.advance(60_000))).toEqual([]);
    expect(follower.remainingMs("l1")).toBeUndefined();

    // Becoming leader long after the grants restarts the TTLs; the state machine's list wins.
    follower.promote([
      { id: "l1", ttlSeconds: 10 },
      { id: "l3", ttlSeconds: 20 },
    ]);
    expect(follower.size).toBe(2);
    expect(follower.remainingMs("l1")).toBe(10_000);
    expect(follower.expired(c.advance(9_999))).toEqual([]);
    expect(follower.expired(c.advance(1))).toEqual(["l1"]);
    follower.revoke("l1");
    expect(follower.expired(c.advance(10_000))).toEqual(["l3"]);

    follower.demote();
    expect(follower.expired(c.advance(100_000))).toEqual([]);
  });

  test("a reported lease is reported again after retryMs unless its expiry is applied", () => {
    const c = clock();
    const timers = new LeaseTimers({ now: c.now, retryMs: 3_000 });
    timers.promote([{ id: "a", ttlSeconds: 1 }, { id: "b", ttlSeconds: 1 }]);
    expect(timers.expired(c.advance(1_000))).toEqual(["a", "b"]);
    expect(timers.expired(c.advance(2_999))).toEqual([]);
    timers.revoke("b");
    expect(timers.expired(c.advance(1))).toEqual(["a"]);
    expect(timers.size).toBe(1);
  });

  test("a lease id granted again after a revoke gets a fresh deadline", () => {
    const c = clock(0);
    const timers = new LeaseTimers({ now: c.now });
    timers.promote([]);
    timers.grant("l", 1);
    timers.revoke("l");
    c.advance(500);
    timers.grant("l", 10);
    expect(timers.expired(c.advance(1_000))).toEqual([]);
    expect(timers.expired(c.advance(9_500))).toEqual(["l"]);
  });

  test("expired(now, limit) answers the earliest first, at most limit", () => {
    const c = clock(0);
    const timers = new LeaseTimers({ now: c.now });
    timers.promote([]);
    for (const [id, ttl] of [["c", 3], ["a", 1], ["b", 2], ["d", 2]] as const) timers.grant(id, ttl);
    expect(timers.expired(10_000, 3)).toEqual(["a", "b", "d"]);
    expect(timers.expired(10_000, 3)).toEqual(["c"]);
  });

  test("observe follows applied commands and ignores failures", () => {
    const c = clock();
    const sm = new KvStateMachine();
    const timers = new LeaseTimers({ now: c.now });
    timers.promote(sm.leases());
    const run = (command: Command) => timers.observe(command, sm.apply(command));
    run({ op: "leaseGrant", id: "l1", ttlSeconds: 5 });
    run({ op: "leaseGrant", id: "l2", ttlSeconds: 5 });
    run({ op: "leaseGrant", id: "l1", ttlSeconds: 500 }); // fails: exists, so the TTL stays 5
    run({ op: "put", key: "k", value: "v", lease: "l1" });
    c.advance(4_000);
    run({ op: "leaseKeepAlive", id: "l1" });
    run({ op: "leaseRevoke", id: "l2" });
    expect(timers.expired(c.advance(1_000))).toEqual([]);
    const ids = timers.expired(c.advance(4_000));
    expect(ids).toEqual(["l1"]);
    run({ op: "leaseExpire", ids });
    expect(timers.size).toBe(0);
    expect(sm.get("k")).toBeUndefined();
    expect(timers.nextDeadline()).toBeUndefined();
  });

  test("frequent keep-alives do not grow memory without bound", () => {
    const c = clock();
    const timers = new LeaseTimers({ now: c.now });
    timers.promote([]);
    timers.grant("l", 3600);
    for (let i = 0; i < 10_000; i++) {
      c.advance(1);
      timers.keepAlive("l");
    }
    expect((timers as unknown as { heap: unknown[] }).heap.length).toBeLessThan(100);
    expect(timers.nextDeadline()).toBe(c.now() + 3_600_000);
  });
});

test("an expiry that a renewal cancelled leaves the lease tracked with its new deadline", () => {
  let now = 0;
  const timers = new LeaseTimers({ now: () => now });
  const sm = new KvStateMachine();
  timers.promote();
  const grant = { op: "leaseGrant", id: "L", ttlSeconds: 1 } as const;
  timers.observe(grant, sm.apply(grant));
  now = 1500;
  expect(timers.expired(now)).toEqual(["L"]);
  const renewals = [sm.lease("L")!.renewals];
  const keepAlive = { op: "leaseKeepAlive", id: "L" } as const;
  timers.observe(keepAlive, sm.apply(keepAlive));
  const expire = { op: "leaseExpire", ids: ["L"], renewals } as const;
  timers.observe(expire, sm.apply(expire));
  expect(sm.lease("L")).toBeDefined();
  expect(timers.remainingMs("L", now)).toBe(1000);
});
