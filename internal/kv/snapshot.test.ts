import { describe, expect, test } from "bun:test";
import { encodeSnapshot } from "./snapshot.ts";
import { KvStateMachine, SNAPSHOT_FORMAT, SnapshotFormatError, type Command } from "./index.ts";

/** Everything a reader can observe, for state equality. */
function observable(sm: KvStateMachine) {
  const keys = sm.range("").items.map((kv) => kv.key);
  const historyKeys = new Set([...keys, ...sm.eventsSince(sm.compactRevision).map((e) => e.key), "gone", "old"]);
  return {
    stats: sm.stats(),
    range: sm.range(""),
    leases: sm.leases(),
    events: sm.eventsSince(sm.compactRevision),
    histories: [...historyKeys].sort().map((key) => [key, sm.history(key)]),
  };
}

function populated(): KvStateMachine {
  const sm = new KvStateMachine();
  const commands: Command[] = [
    { op: "leaseGrant", id: "node-1", ttlSeconds: 10 },
    { op: "leaseGrant", id: "node-2", ttlSeconds: 20 },
    { op: "put", key: "old", value: "carried" },
    { op: "put", key: "gone", value: "soon" },
    { op: "put", key: "services/payment/timeout", value: '{"ms":500}' },
    { op: "put", key: "nodes/node-1", value: "{}", lease: "node-1" },
    { op: "put", key: "nodes/node-2", value: "{}", lease: "node-2" },
    { op: "delete", key: "gone" },
    { op: "put", key: "services/payment/timeout", value: '{"ms":750}' },
    { op: "compact", revision: 5 },
    { op: "leaseKeepAlive", id: "node-2" },
    { op: "put", key: "services/payment/timeout", value: "\uFEFF✓" },
    { op: "leaseRevoke", id: "node-1" },
    { op: "put", key: "nodes/node-2", value: '{"v":2}', lease: "node-2" },
  ];
  for (const command of commands) expect(sm.apply(command)).not.toHaveProperty("failed");
  return sm;
}

describe("snapshot and restore", () => {
  test("an empty store round-trips", () => {
    const sm = new KvStateMachine();
    const bytes = sm.snapshot();
    const other = new KvStateMachine();
    other.restore(bytes);
    expect(other.snapshot()).toEqual(bytes);
  });

  test("round-trips to byte-identical and equal state", () => {
    const sm = populated();
    const bytes = sm.snapshot();
    expect(bytes[4]).toBe(SNAPSHOT_FORMAT);
    const restored = new KvStateMachine();
    restored.restore(bytes);
    expect(restored.snapshot()).toEqual(bytes);
    expect(observable(restored)).toStrictEqual(observable(sm));
    expect(restored.history("old").map((e) => e.revision)).toEqual([1]);
    expect(restored.compactRevision).toBe(5);

    // The hidden state (lease key sets, histories) also matches: the same commands keep both equal.
    const more: Command[] = [
      { op: "leaseExpire", ids: ["node-2"] },
      { op: "put", key: "old", value: "new" },
      { op: "compact", revision: 9 },
      { op: "put", key: "gone", value: "back" },
    ];
    for (const command of more) expect(restored.apply(command)).toStrictEqual(sm.apply(command));
    expect(restored.snapshot()).toEqual(sm.snapshot());
    expect(observable(restored)).toStrictEqual(observable(sm));
  });

  test("restore replaces existing state", () => {
    const target = populated();
    target.apply({ op: "put", key: "extra", value: "x" });
    const source = new KvStateMachine();
    source.apply({ op: "put", key: "only", value: "1" });
    target.restore(source.snapshot());
    expect(target.range("").items.map((kv) => kv.key)).toEqual(["only"]);
    expect(target.leases()).toEqual([]);
    expect(target.history("extra")).toEqual([]);
  });

  const garbage: [string, (good: Uint8Array) => Uint8Array][] = [
    ["empty", () => new Uint8Array(0)],
    ["random bytes", () => Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) % 256)],
    ["wrong magic", (good) => Uint8Array.of(0, ...good.subarray(1))],
    ["unknown format version", (good) => Uint8Array.of(...good.subarray(0, 4), 9, ...good.subarray(5))],
    ["a flipped byte", (good) => good.map((b, i) => (i === 20 ? b ^ 1 : b))],
    ["truncated", (good) => good.subarray(0, good.length - 7)],
    ["extra byte", (good) => Uint8Array.of(...good, 0)],
  ];

  for (const [name, mangle] of garbage) {
    test(`restore of ${name} throws SnapshotFormatError and keeps the state`, () => {
      const sm = populated();
      const before = sm.snapshot();
      expect(() => sm.restore(mangle(before))).toThrow(SnapshotFormatError);
      expect(sm.snapshot()).toEqual(before);
    });
  }

  test("a snapshot with a valid checksum but inconsistent content is refused", () => {
    const base = { revision: 5, compactRevision: 0, leases: [], carried: [], events: [] };
    const bad = [
      { ...base, keys: [kv("b"), kv("a")] },
      { ...base, keys: [kv("/bad")] },
      { ...base, keys: [{ ...kv("a"), lease: "missing" }] },
      { ...base, keys: [{ ...kv("a"), modRevision: 6 }] },
      { ...base, compactRevision: 6, keys: [] },
      { ...base, keys: [], events: [{ type: "delete" as const, key: "a", revision: 3 }, { type: "delete" as const, key: "a", revision: 2 }] },
    ];
    for (const state of bad) {
      expect(() => new KvStateMachine().restore(encodeSnapshot(state))).toThrow(SnapshotFormatError);
    }
  });
});

function kv(key: string) {
  return { key, value: "v", createRevision: 1, modRevision: 2, version: 2 };
}
