import { describe, expect, test } from "bun:test";
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from "./errors.ts";
import { entryBytes, MemoryStorage } from "./storage.ts";
import type { Entry } from "./types.ts";

const ent = (index: number, term: number, size = 0): Entry => ({ index, term, type: "normal", data: new Uint8Array(size) });

function storageWith(...ents: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(ents);
  return s;
}

describe("MemoryStorage", () => {
  test("an empty storage knows term 0 at index 0", () => {
    const s = new MemoryStorage();
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(() => s.term(1)).toThrow(UnavailableError);
    expect(s.initialState().hardState).toEqual({ term: 0, vote: null, commit: 0 });
  });

  test("append truncates a conflicting suffix and rejects gaps", () => {
    const s = storageWith(ent(1, 1), ent(2, 1), ent(3, 2));
    s.append([ent(3, 3), ent(4, 3)]);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(3)).toBe(3);
    s.append([ent(2, 1)]);
    expect(s.lastIndex()).toBe(2);
    expect(() => s.append([ent(5, 3)])).toThrow();
  });

  test("entries honours [lo, hi), the size limit (at least one) and compaction", () => {
    const s = storageWith(ent(1, 1, 10), ent(2, 1, 10), ent(3, 1, 10), ent(4, 1, 10));
    expect(s.entries(2, 4, Infinity).map((e) => e.index)).toEqual([2, 3]);
    expect(s.entries(1, 5, entryBytes(ent(1, 1, 10)) * 2).map((e) => e.index)).toEqual([1, 2]);
    expect(s.entries(1, 5, 1).map((e) => e.index)).toEqual([1]);
    expect(() => s.entries(1, 6, Infinity)).toThrow(UnavailableError);
    s.createSnapshot(2, { voters: ["a"], learners: [] }, new Uint8Array([7]));
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1);
    expect(() => s.entries(2, 4, Infinity)).toThrow(CompactedError);
    expect(() => s.term(1)).toThrow(CompactedError);
  });

  test("compact refuses to go past the snapshot and is idempotent", () => {
    const s = storageWith(ent(1, 1), ent(2, 1), ent(3, 2));
    expect(() => s.compact(2)).toThrow();
    s.createSnapshot(3, { voters: ["a"], learners: [] }, new Uint8Array());
    s.compact(2);
    s.compact(1);
    expect(s.firstIndex()).toBe(3);
    expect(s.snapshot().metadata).toEqual({ index: 3, term: 2, confState: { voters: ["a"], learners: [] } });
  });

  test("applySnapshot replaces the log and refuses older snapshots", () => {
    const s = storageWith(ent(1, 1), ent(2, 1));
    const snap = { metadata: { index: 10, term: 3, confState: { voters: ["a", "b"], learners: [] } }, data: new Uint8Array() };
    s.applySnapshot(snap);
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(3);
    expect(s.initialState().confState.voters).toEqual(["a", "b"]);
    expect(() => s.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: 9 } })).toThrow(SnapshotOutOfDateError);
    s.append([ent(11, 3)]);
    expect(s.lastIndex()).toBe(11);
    // entries at or before the compaction point are ignored
    s.append([ent(9, 3), ent(10, 3), ent(11, 3), ent(12, 3)]);
    expect(s.lastIndex()).toBe(12);
  });

  test("entries on a long log copies only what the size limit lets through", () => {
    const s = new MemoryStorage();
    const many: Entry[] = [];
    for (let i = 1; i <= 200_000; i++) many.push(ent(i, 1, 8));
    s.append(many);
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) expect(s.entries(1, 200_001, 100).length).toBe(4);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
