import { describe, expect, test } from "bun:test";
import { CompactedError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { MemoryStorage } from "./storage.ts";
import type { Entry } from "./types.ts";

const ent = (index: number, term: number): Entry => ({ index, term, type: "normal", data: new Uint8Array(4) });
const ents = (...terms: number[]): Entry[] => terms.map((t, i) => ent(i + 1, t));

function logWith(stored: Entry[], unstable: Entry[] = []): RaftLog {
  const s = new MemoryStorage();
  s.append(stored);
  const l = new RaftLog(s, Infinity);
  if (unstable.length > 0) l.append(unstable);
  return l;
}

describe("RaftLog", () => {
  test("term, lastIndex and firstIndex span storage and the unstable part", () => {
    const l = logWith(ents(1, 1, 2), [ent(4, 3), ent(5, 3)]);
    expect(l.firstIndex()).toBe(1);
    expect(l.lastIndex()).toBe(5);
    expect(l.term(3)).toBe(2);
    expect(l.term(5)).toBe(3);
    expect(l.term(6)).toBeUndefined();
    expect(l.slice(2, 6, Infinity).map((e) => e.index)).toEqual([2, 3, 4, 5]);
  });

  test("maybeAppend: consistency check and conflict truncation; the caller moves the commit index", () => {
    const l = logWith(ents(1, 1, 2, 2));
    expect(l.maybeAppend(4, 3, [ent(5, 3)])).toBeUndefined(); // term mismatch at 4
    expect(l.maybeAppend(5, 2, [])).toBeUndefined(); // index beyond the log
    const r = l.maybeAppend(2, 1, [ent(3, 3)]); // conflict at 3 replaces 3 and 4
    expect(r).toEqual({ lastNew: 3, appended: [ent(3, 3)] });
    expect(l.lastIndex()).toBe(3);
    expect(l.committed).toBe(0);
    l.commitTo(3);
    expect(l.maybeAppend(1, 1, [ent(2, 1)])).toEqual({ lastNew: 2, appended: [] }); // already present
    expect(l.lastIndex()).toBe(3);
    expect(l.maybeAppend(1, 1, [ent(2, 9)])).toBe("conflict"); // would overwrite committed entries
  });

  test("findConflictByTerm skips whole terms", () => {
    const l = logWith(ents(1, 3, 3, 3, 5, 5, 5, 5, 5));
    expect(l.findConflictByTerm(9, 2)).toEqual({ index: 1, term: 1 });
    expect(l.findConflictByTerm(9, 4)).toEqual({ index: 4, term: 3 });
    expect(l.findConflictByTerm(9, 5)).toEqual({ index: 9, term: 5 });
    expect(l.findConflictByTerm(20, 5)).toEqual({ index: 9, term: 5 });
  });

  test("isUpToDate compares last term, then last index (§5.4.1)", () => {
    const l = logWith(ents(1, 2, 2));
    expect(l.isUpToDate(3, 2)).toBe(true);
    expect(l.isUpToDate(2, 2)).toBe(false);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(10, 1)).toBe(false);
  });

  test("maybeCommit only commits entries of the given term (Figure 8)", () => {
    const l = logWith(ents(1, 2, 2));
    expect(l.maybeCommit(3, 3)).toBe(false);
    expect(l.committed).toBe(0);
    expect(l.maybeCommit(3, 2)).toBe(true);
    expect(l.committed).toBe(3);
  });

  test("commitTo never goes backwards nor beyond the log", () => {
    const l = logWith(ents(1, 1));
    expect(l.commitTo(2)).toBe(true);
    expect(l.commitTo(1)).toBe(true);
    expect(l.committed).toBe(2);
    expect(l.commitTo(5)).toBe(false);
    expect(l.committed).toBe(2);
  });

  test("committed entries come out once, from applying on", () => {
    const l = logWith(ents(1, 1, 1, 1));
    l.commitTo(3);
    expect(l.nextCommittedEntries().map((e) => e.index)).toEqual([1, 2, 3]);
    l.applying = 3;
    expect(l.hasNextCommittedEntries()).toBe(false);
    l.commitTo(4);
    expect(l.nextCommittedEntries().map((e) => e.index)).toEqual([4]);
  });

  test("slice below the first index throws CompactedError", () => {
    const s = new MemoryStorage();
    s.append(ents(1, 1, 1));
    s.createSnapshot(2, { voters: ["a"], learners: [] }, new Uint8Array());
    s.compact(2);
    const l = new RaftLog(s, Infinity);
    expect(() => l.slice(1, 3, Infinity)).toThrow(CompactedError);
    expect(l.term(1)).toBeUndefined();
    expect(l.term(2)).toBe(1);
  });

  test("stableTo ignores entries replaced since they were handed out", () => {
    const l = logWith([], ents(1, 1, 1));
    l.append([ent(3, 2)]);
    l.unstable.stableTo(3, 1); // the handed-out entry 3 had term 1: replaced, so still unstable
    expect(l.unstable.entries.map((e) => e.term)).toEqual([1, 1, 2]);
    l.unstable.stableTo(2, 1);
    expect(l.unstable.offset).toBe(3);
  });
});
