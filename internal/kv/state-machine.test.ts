import { describe, expect, test } from "bun:test";
import {
  CompactedError,
  FutureRevisionError,
  KvStateMachine,
  commandProblem,
  decodeCommand,
  encodeCommand,
  type KvEvent,
  type LeaseId,
} from "./index.ts";

function put(sm: KvStateMachine, key: string, value: string, extra: { lease?: LeaseId; ifModRevision?: number } = {}) {
  return sm.apply({ op: "put", key, value, ...extra });
}

describe("revisions and versions", () => {
  test("put, update, delete and recreate", () => {
    const sm = new KvStateMachine();
    expect(sm.currentRevision).toBe(0);
    expect(put(sm, "a", "1")).toEqual({ op: "put", revision: 1 });
    expect(sm.get("a")).toEqual({ key: "a", value: "1", createRevision: 1, modRevision: 1, version: 1 });
    expect(put(sm, "b", "x")).toEqual({ op: "put", revision: 2 });
    expect(put(sm, "a", "2")).toEqual({ op: "put", revision: 3 });
    expect(sm.get("a")).toEqual({ key: "a", value: "2", createRevision: 1, modRevision: 3, version: 2 });

    expect(sm.apply({ op: "delete", key: "a" })).toEqual({ op: "delete", revision: 4, deleted: true });
    expect(sm.get("a")).toBeUndefined();
    // Deleting an absent key changes nothing, so the revision stays.
    expect(sm.apply({ op: "delete", key: "a" })).toEqual({ op: "delete", revision: 4, deleted: false });
    expect(sm.currentRevision).toBe(4);

    expect(put(sm, "a", "3")).toEqual({ op: "put", revision: 5 });
    expect(sm.get("a")).toEqual({ key: "a", value: "3", createRevision: 5, modRevision: 5, version: 1 });
    expect(sm.get("b")).toEqual({ key: "b", value: "x", createRevision: 2, modRevision: 2, version: 1 });
  });

  test("lease grants, keep-alives and failures do not move the revision", () => {
    const sm = new KvStateMachine();
    put(sm, "a", "1");
    expect(sm.apply({ op: "leaseGrant", id: "l", ttlSeconds: 5 })).toEqual({ op: "leaseGrant", revision: 1, id: "l", ttlSeconds: 5 });
    expect(sm.apply({ op: "leaseKeepAlive", id: "l" })).toEqual({ op: "leaseKeepAlive", revision: 1, id: "l", ttlSeconds: 5 });
    expect(put(sm, "a", "2", { ifModRevision: 7 })).toEqual({ failed: "compare", currentModRevision: 1 });
    expect(sm.apply({ op: "leaseRevoke", id: "l" })).toEqual({ op: "leaseRevoke", revision: 1, deletedKeys: [] });
    expect(sm.currentRevision).toBe(1);
  });

  test("range answers sorted items under a prefix with the revision", () => {
    const sm = new KvStateMachine();
    for (const key of ["services/b/x", "services/a/y", "services/a/x", "servicesX", "other/a"]) put(sm, key, key);
    const result = sm.range("services/");
    expect(result.revision).toBe(5);
    expect(result.items.map((kv) => kv.key)).toEqual(["services/a/x", "services/a/y", "services/b/x"]);
    expect(sm.range("").items).toHaveLength(5);
    expect(sm.range("services/a/").items.map((kv) => kv.value)).toEqual(["services/a/x", "services/a/y"]);
    expect(sm.range("nothing").items).toEqual([]);
  });
});

describe("compare-and-set", () => {
  test("put succeeds on a matching modRevision and fails otherwise", () => {
    const sm = new KvStateMachine();
    put(sm, "k", "1");
    put(sm, "other", "x");
    expect(put(sm, "k", "2", { ifModRevision: 2 })).toEqual({ failed: "compare", currentModRevision: 1 });
    expect(sm.get("k")?.value).toBe("1");
    expect(put(sm, "k", "2", { ifModRevision: 1 })).toEqual({ op: "put", revision: 3 });
    expect(sm.get("k")).toMatchObject({ value: "2", modRevision: 3, version: 2 });
  });

  test("ifModRevision 0 creates only", () => {
    const sm = new KvStateMachine();
    expect(put(sm, "k", "1", { ifModRevision: 0 })).toEqual({ op: "put", revision: 1 });
    expect(put(sm, "k", "2", { ifModRevision: 0 })).toEqual({ failed: "compare", currentModRevision: 1 });
    expect(put(sm, "absent", "1", { ifModRevision: 5 })).toEqual({ failed: "compare", currentModRevision: 0 });
    expect(sm.get("absent")).toBeUndefined();
  });

  test("delete honours ifModRevision", () => {
    const sm = new KvStateMachine();
    put(sm, "k", "1");
    expect(sm.apply({ op: "delete", key: "k", ifModRevision: 9 })).toEqual({ failed: "compare", currentModRevision: 1 });
    expect(sm.get("k")).toBeDefined();
    expect(sm.apply({ op: "delete", key: "k", ifModRevision: 1 })).toEqual({ op: "delete", revision: 2, deleted: true });
    expect(sm.apply({ op: "delete", key: "k", ifModRevision: 1 })).toEqual({ failed: "compare", currentModRevision: 0 });
  });
});

describe("leases", () => {
  test("grant, attach, list, and detach by a put without lease", () => {
    const sm = new KvStateMachine();
    sm.apply({ op: "leaseGrant", id: "l1", ttlSeconds: 10 });
    expect(sm.apply({ op: "leaseGrant", id: "l1", ttlSeconds: 10 })).toEqual({ failed: "leaseExists", id: "l1" });
    expect(put(sm, "a", "1", { lease: "nope" })).toEqual({ failed: "leaseNotFound", id: "nope" });
    put(sm, "nodes/b", "1", { lease: "l1" });
    put(sm, "nodes/a", "1", { lease: "l1" });
    put(sm, "c", "1", { lease: "l1" });
    expect(sm.get("nodes/a")?.lease).toBe("l1");
    put(sm, "c", "2");
    expect(sm.get("c")?.lease).toBeUndefined();
    sm.apply({ op: "leaseKeepAlive", id: "l1" });
    expect(sm.leases()).toEqual([{ id: "l1", ttlSeconds: 10, keys: ["nodes/a", "nodes/b"], renewals: 1 }]);
    expect(sm.apply({ op: "leaseKeepAlive", id: "l2" })).toEqual({ failed: "leaseNotFound", id: "l2" });
  });

  test("moving a key to another lease detaches it from the first", () => {
    const sm = new KvStateMachine();
    sm.apply({ op: "leaseGrant", id: "l1", ttlSeconds: 10 });
    sm.apply({ op: "leaseGrant", id: "l2", ttlSeconds: 10 });
    put(sm, "k", "1", { lease: "l1" });
    put(sm, "k", "2", { lease: "l2" });
    expect(sm.lease("l1")?.keys).toEqual([]);
    expect(sm.lease("l2")?.keys).toEqual(["k"]);
    sm.apply({ op: "leaseRevoke", id: "l1" });
    expect(sm.get("k")?.value).toBe("2");
  });

  test("revoke deletes every attached key at one revision, in key order", () => {
    const sm = new KvStateMachine();
    sm.apply({ op: "leaseGrant", id: "l1", ttlSeconds: 10 });
    put(sm, "nodes/z", "z", { lease: "l1" });
    put(sm, "nodes/a", "a", { lease: "l1" });
    put(sm, "keep", "k");
    const seen: KvEvent[][] = [];
    sm.subscribe((events) => seen.push([...events]));
    expect(sm.apply({ op: "leaseRevoke", id: "l1" })).toEqual({ op: "leaseRevoke", revision: 4, deletedKeys: ["nodes/a", "nodes/z"] });
    expect(seen).toEqual([
      [
        { type: "delete", key: "nodes/a", revision: 4, prevValue: "a" },
        { type: "delete", key: "nodes/z", revision: 4, prevValue: "z" },
      ],
    ]);
    expect(sm.range("nodes/").items).toEqual([]);
    expect(sm.leases()).toEqual([]);
    expect(sm.apply({ op: "leaseRevoke", id: "l1" })).toEqual({ failed: "leaseNotFound", id: "l1" });
  });

  test("expire removes several leases and their keys at one revision, skipping unknown ids", () => {
    const sm = new KvStateMachine();
    sm.apply({ op: "leaseGrant", id: "l1", ttlSeconds: 10 });
    sm.apply({ op: "leaseGrant", id: "l2", ttlSeconds: 10 });
    sm.apply({ op: "leaseGrant", id: "l3", ttlSeconds: 10 });
    put(sm, "b", "1", { lease: "l2" });
    put(sm, "a", "1", { lease: "l1" });
    put(sm, "c", "1", { lease: "l3" });
    const result = sm.apply({ op: "leaseExpire", ids: ["l2", "gone", "l1", "l2"] });
    expect(result).toEqual({ op: "leaseExpire", revision: 4, expired: ["l2", "l1"], deletedKeys: ["a", "b"] });
    expect(sm.eventsSince(4)).toEqual([
      { type: "delete", key: "a", revision: 4, prevValue: "1" },
      { type: "delete", key: "b", revision: 4, prevValue: "1" },
    ]);
    expect(sm.leases().map((l) => l.id)).toEqual(["l3"]);
    // Expiring leases without keys removes them without a new revision.
    sm.apply({ op: "leaseGrant", id: "empty", ttlSeconds: 1 });
    expect(sm.apply({ op: "leaseExpire", ids: ["empty"] })).toEqual({ op: "leaseExpire", revision: 4, expired: ["empty"], deletedKeys: [] });
  });
});

describe("history and compaction", () => {
  test("history lists a key's changes oldest first, across delete and recreate", () => {
    const sm = new KvStateMachine();
    put(sm, "k", "1");
    put(sm, "other", "x");
    put(sm, "k", "2");
    sm.apply({ op: "delete", key: "k" });
    put(sm, "k", "3");
    expect(sm.history("k")).toEqual([
      { type: "put", key: "k", value: "1", revision: 1, createRevision: 1, version: 1 },
      { type: "put", key: "k", value: "2", revision: 3, createRevision: 1, version: 2, prevValue: "1" },
      { type: "delete", key: "k", revision: 4, prevValue: "2" },
      { type: "put", key: "k", value: "3", revision: 5, createRevision: 5, version: 1 },
    ]);
    expect(sm.history("never")).toEqual([]);
  });

  test("compaction drops older history but keeps the value in effect at the compaction point", () => {
    const sm = new KvStateMachine();
    put(sm, "k", "1"); // 1
    put(sm, "k", "2"); // 2
    put(sm, "gone", "x"); // 3
    sm.apply({ op: "delete", key: "gone" }); // 4
    put(sm, "k", "3"); // 5
    put(sm, "still", "s"); // 6
    expect(sm.apply({ op: "compact", revision: 5 })).toEqual({ op: "compact", revision: 6, compactRevision: 5 });
    expect(sm.compactRevision).toBe(5);
    expect(sm.history("k").map((e) => e.revision)).toEqual([5]);
    expect(sm.history("gone")).toEqual([]);
    expect(sm.history("still").map((e) => e.revision)).toEqual([6]);
    expect(sm.get("k")?.value).toBe("3");

    put(sm, "k", "4"); // 7
    put(sm, "still", "t"); // 8
    sm.apply({ op: "compact", revision: 8 });
    // k's value at revision 8 was set at 7: kept, though older than the compaction point.
    expect(sm.history("k").map((e) => e.revision)).toEqual([7]);
    expect(sm.history("still").map((e) => e.revision)).toEqual([8]);
    // Current values are never dropped.
    expect(sm.range("").items.map((kv) => [kv.key, kv.value])).toEqual([
      ["k", "4"],
      ["still", "t"],
    ]);
  });

  test("a key untouched since an earlier compaction keeps its carried value", () => {
    const sm = new KvStateMachine();
    put(sm, "old", "1"); // 1
    put(sm, "x", "1"); // 2
    sm.apply({ op: "compact", revision: 2 });
    put(sm, "x", "2"); // 3
    put(sm, "x", "3"); // 4
    sm.apply({ op: "compact", revision: 4 });
    expect(sm.history("old").map((e) => e.revision)).toEqual([1]);
    expect(sm.history("x").map((e) => e.revision)).toEqual([4]);
  });

  test("compact refuses old and future revisions", () => {
    const sm = new KvStateMachine();
    put(sm, "a", "1");
    put(sm, "a", "2");
    expect(sm.apply({ op: "compact", revision: 3 })).toEqual({ failed: "futureRevision", currentRevision: 2 });
    expect(sm.apply({ op: "compact", revision: 0 })).toEqual({ failed: "compacted", compactRevision: 0 });
    expect(sm.apply({ op: "compact", revision: 2 })).toEqual({ op: "compact", revision: 2, compactRevision: 2 });
    expect(sm.apply({ op: "compact", revision: 2 })).toEqual({ failed: "compacted", compactRevision: 2 });
    expect(sm.apply({ op: "compact", revision: 1 })).toEqual({ failed: "compacted", compactRevision: 2 });
  });

  test("suggestCompaction keeps the last revisions and waits for a worthwhile step", () => {
    const sm = new KvStateMachine();
    for (let i = 0; i < 100; i++) put(sm, "k", String(i));
    expect(sm.suggestCompaction(1000)).toBeUndefined();
    expect(sm.suggestCompaction(10)).toBe(90);
    sm.apply({ op: "compact", revision: 90 });
    expect(sm.suggestCompaction(10)).toBeUndefined();
    put(sm, "k", "x");
    expect(sm.suggestCompaction(10)).toBe(91);
    expect(sm.suggestCompaction(10, 5)).toBeUndefined();
    expect(sm.stats()).toEqual({ keys: 1, leases: 0, retainedEvents: 12, currentRevision: 101, compactRevision: 90 });
  });
});

describe("events", () => {
  function fill(): KvStateMachine {
    const sm = new KvStateMachine();
    put(sm, "a/1", "x"); // 1
    put(sm, "b/1", "y"); // 2
    put(sm, "a/1", "z"); // 3
    sm.apply({ op: "delete", key: "a/1" }); // 4
    return sm;
  }

  test("eventsSince answers events from a revision, filtered by prefix", () => {
    const sm = fill();
    expect(sm.eventsSince(0).map((e) => e.revision)).toEqual([1, 2, 3, 4]);
    expect(sm.eventsSince(3)).toEqual([
      { type: "put", key: "a/1", value: "z", revision: 3, createRevision: 1, version: 2, prevValue: "x" },
      { type: "delete", key: "a/1", revision: 4, prevValue: "z" },
    ]);
    expect(sm.eventsSince(1, "b/").map((e) => e.key)).toEqual(["b/1"]);
    expect(sm.eventsSince(5)).toEqual([]);
  });

  test("eventsSince throws CompactedError and FutureRevisionError", () => {
    const sm = fill();
    sm.apply({ op: "compact", revision: 3 });
    expect(sm.eventsSince(3).map((e) => e.revision)).toEqual([3, 4]);
    try {
      sm.eventsSince(2);
      throw new Error("expected CompactedError");
    } catch (error) {
      expect(error).toBeInstanceOf(CompactedError);
      expect(error).toMatchObject({ name: "CompactedError", compactRevision: 3, requested: 2 });
    }
    expect(() => sm.eventsSince(6)).toThrow(FutureRevisionError);
    expect(() => sm.eventsSince(6)).toThrow(expect.objectContaining({ currentRevision: 4, requested: 6 }));
    expect(() => sm.eventsSince(1.5)).toThrow(RangeError);
  });

  test("subscribers receive exactly each apply's events, synchronously", () => {
    const sm = new KvStateMachine();
    const received: KvEvent[][] = [];
    const unsubscribe = sm.subscribe((events) => {
      // Called after the state changed: reads inside the listener see the new revision.
      expect(sm.currentRevision).toBe(events[0]!.revision);
      received.push([...events]);
    });
    sm.apply({ op: "leaseGrant", id: "l", ttlSeconds: 1 });
    put(sm, "a", "1", { lease: "l" });
    put(sm, "a", "2", { ifModRevision: 99 });
    sm.apply({ op: "delete", key: "missing" });
    sm.apply(encodeCommand({ op: "put", key: "b", value: "1", lease: "l" }));
    sm.apply(new Uint8Array([1, 2, 3]));
    sm.apply({ op: "leaseExpire", ids: ["l"] });
    expect(received).toEqual([
      [{ type: "put", key: "a", value: "1", revision: 1, createRevision: 1, version: 1, lease: "l" }],
      [{ type: "put", key: "b", value: "1", revision: 2, createRevision: 2, version: 1, lease: "l" }],
      [
        { type: "delete", key: "a", revision: 3, prevValue: "1" },
        { type: "delete", key: "b", revision: 3, prevValue: "1" },
      ],
    ]);
    expect(received.flat()).toEqual(sm.eventsSince(0));
    unsubscribe();
    put(sm, "c", "1");
    expect(received).toHaveLength(3);
  });

  test("a throwing listener does not break the apply or other listeners", () => {
    const errors: unknown[] = [];
    const sm = new KvStateMachine({ onListenerError: (error) => errors.push(error) });
    let calls = 0;
    sm.subscribe(() => {
      throw new Error("watcher bug");
    });
    sm.subscribe(() => calls++);
    expect(put(sm, "a", "1")).toEqual({ op: "put", revision: 1 });
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
  });

  test("apply from inside a listener is refused", () => {
    const errors: unknown[] = [];
    const sm = new KvStateMachine({ onListenerError: (error) => errors.push(error) });
    sm.subscribe(() => sm.apply({ op: "put", key: "x", value: "1" }));
    put(sm, "a", "1");
    expect(String(errors[0])).toContain("from an event listener");
    expect(sm.currentRevision).toBe(1);
  });

  test("watch replays the backlog by revision, then follows live without gap or repeat", () => {
    const sm = new KvStateMachine();
    sm.apply({ op: "leaseGrant", id: "l", ttlSeconds: 1 });
    put(sm, "w/a", "1", { lease: "l" }); // 1
    put(sm, "x", "1"); // 2
    put(sm, "w/b", "1", { lease: "l" }); // 3
    const batches: number[][] = [];
    const cancel = sm.watch("w/", 1, (events) => batches.push(events.map((e) => e.revision)));
    expect(batches).toEqual([[1], [3]]);
    put(sm, "x", "2"); // 4, not under w/
    sm.apply({ op: "leaseRevoke", id: "l" }); // 5: two deletes
    expect(batches).toEqual([[1], [3], [5, 5]]);
    cancel();
    put(sm, "w/c", "1");
    expect(batches).toHaveLength(3);

    const fromNow: number[] = [];
    sm.watch("", undefined, (events) => fromNow.push(events[0]!.revision));
    sm.watch("", sm.currentRevision + 1, (events) => fromNow.push(events[0]!.revision));
    put(sm, "y", "1");
    expect(fromNow).toEqual([7, 7]);
    expect(() => sm.watch("", 99, () => {})).toThrow(FutureRevisionError);
  });
});

describe("a keep-alive that races an expiry", () => {
  test("an expiry proposed before a renewal that is applied first does not expire the lease", () => {
    const sm = new KvStateMachine();
    sm.apply({ op: "leaseGrant", id: "L1", ttlSeconds: 5 });
    sm.apply({ op: "put", key: "nodes/n1", value: "{}", lease: "L1" });
    const seen = sm.lease("L1")!.renewals;
    // The leader decides L1 ran out and proposes its expiry; a keep-alive lands in the log first.
    sm.apply({ op: "leaseKeepAlive", id: "L1" });
    const result = sm.apply({ op: "leaseExpire", ids: ["L1"], renewals: [seen] });
    expect(result).toMatchObject({ op: "leaseExpire", expired: [], deletedKeys: [] });
    expect(sm.get("nodes/n1")).toBeDefined();
    // Proposed with the current count, it does expire.
    const now = sm.apply({ op: "leaseExpire", ids: ["L1"], renewals: [sm.lease("L1")!.renewals] });
    expect(now).toMatchObject({ expired: ["L1"], deletedKeys: ["nodes/n1"] });
  });

  test("the renewal counts survive encoding, and a mismatched count is refused as malformed", () => {
    const command = { op: "leaseExpire", ids: ["a", "b"], renewals: [3, 0] } as const;
    expect(decodeCommand(encodeCommand(command))).toEqual(command);
    expect(decodeCommand(encodeCommand({ op: "leaseExpire", ids: ["a"] }))).toEqual({ op: "leaseExpire", ids: ["a"] });
    expect(commandProblem({ op: "leaseExpire", ids: ["a"], renewals: [1, 2] })).toContain("renewals");
  });
});
