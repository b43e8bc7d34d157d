import { describe, expect, test } from "bun:test";
import { Inflights } from "./inflights.ts";
import { Progress } from "./progress.ts";
import { committedIndex, voteResult } from "./quorum.ts";

describe("quorum", () => {
  test("committedIndex is the majority-th largest match", () => {
    const voters = new Set(["a", "b", "c", "d", "e"]);
    const m: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 3 };
    expect(committedIndex(voters, (id) => m[id])).toBe(3);
    expect(committedIndex(new Set(["a", "b"]), (id) => m[id])).toBe(3);
    expect(committedIndex(new Set(), () => 1)).toBe(0);
  });

  test("voteResult: won, lost, pending", () => {
    const v = new Set(["a", "b", "c"]);
    expect(voteResult(v, new Map([["a", true]]))).toBe("pending");
    expect(voteResult(v, new Map([["a", true], ["b", true]]))).toBe("won");
    expect(voteResult(v, new Map([["a", true], ["b", false], ["c", false]]))).toBe("lost");
    expect(voteResult(v, new Map([["x", true], ["y", true]]))).toBe("pending"); // non-voters do not count
  });
});

describe("Inflights", () => {
  test("fills by count or bytes and frees acknowledged messages", () => {
    const f = new Inflights(3, 100);
    f.add(10, 10);
    f.add(20, 10);
    expect(f.full()).toBe(false);
    f.add(30, 10);
    expect(f.full()).toBe(true);
    f.freeLE(20);
    expect(f.length).toBe(1);
    f.add(40, 95);
    expect(f.full()).toBe(true); // bytes
    f.freeLE(40);
    expect(f.length).toBe(0);
    for (let i = 0; i < 10; i++) {
      f.add(100 + i, 1);
      f.freeLE(100 + i);
    }
    expect(f.bytes).toBe(0);
  });
});

describe("Progress", () => {
  test("probe sends one message at a time; replicate pipelines within the window", () => {
    const p = new Progress(5, false, 2, 0);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(1, 5, 10);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(5)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(6);
    p.sentEntries(2, 7, 10);
    expect(p.next).toBe(8);
    p.sentEntries(1, 8, 10);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(7);
    p.inflights.freeLE(7);
    p.msgAppFlowPaused = p.inflights.full();
    expect(p.isPaused()).toBe(false);
  });

  test("maybeDecrTo ignores stale rejections and uses the hint", () => {
    const p = new Progress(10, false, 4, 0);
    expect(p.maybeDecrTo(5, 3)).toBe(false); // not the probe we sent (next-1 = 9)
    expect(p.maybeDecrTo(9, 3)).toBe(true);
    expect(p.next).toBe(4);
    p.maybeUpdate(3);
    p.becomeReplicate();
    expect(p.maybeDecrTo(2, 1)).toBe(false); // below match: stale
    expect(p.maybeDecrTo(6, 1)).toBe(true);
    expect(p.next).toBe(4);
  });

  test("snapshot state pauses until the outcome, then probes after the snapshot", () => {
    const p = new Progress(3, false, 4, 0);
    p.becomeSnapshot(50);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(51);
  });
});
