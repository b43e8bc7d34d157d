import { describe, expect, test } from "bun:test";
import { cas, del, get, put } from "./history-builders.ts";
import { kvModel, type KvState } from "./kv-model.ts";

const step = (state: KvState, op: ReturnType<typeof get>) => kvModel.step(state, op.input, op.output);

describe("kvModel.step", () => {
  test("get compares with the current value, null meaning absent", () => {
    expect(step({}, get(1, 0, 1, null)).ok).toBe(true);
    expect(step({ x: "a" }, get(1, 0, 1, "a")).ok).toBe(true);
    expect(step({ x: "a" }, get(1, 0, 1, null)).ok).toBe(false);
    // Names that Object.prototype carries are still just absent keys.
    expect(step({}, get(1, 0, 1, null, "constructor")).ok).toBe(true);
    expect(step({}, get(1, 0, 1, null, "__proto__")).ok).toBe(true);
  });

  test("cas writes iff the value matches, and its reported outcome must agree", () => {
    expect(step({ x: "a" }, cas(1, 0, 1, "a", "b", true))).toEqual({ ok: true, state: { x: "b" } });
    expect(step({ x: "a" }, cas(1, 0, 1, "z", "b", false))).toEqual({ ok: true, state: { x: "a" } });
    expect(step({ x: "a" }, cas(1, 0, 1, "a", "b", false)).ok).toBe(false);
    expect(step({}, cas(1, 0, 1, null, "b", true))).toEqual({ ok: true, state: { x: "b" } });
    // Unknown outcome: whatever the state dictates.
    expect(step({ x: "a" }, cas(1, 0, undefined, "a", "b", undefined))).toEqual({ ok: true, state: { x: "b" } });
    expect(step({ x: "c" }, cas(1, 0, undefined, "a", "b", undefined))).toEqual({ ok: true, state: { x: "c" } });
  });

  test("put and delete never mutate the state they are given", () => {
    const before: KvState = Object.freeze({ x: "a", y: "b" });
    expect(step(before, put(1, 0, 1, "c"))).toEqual({ ok: true, state: { x: "c", y: "b" } });
    expect(step(before, del(1, 0, 1))).toEqual({ ok: true, state: { y: "b" } });
    expect(before).toEqual({ x: "a", y: "b" });
  });
});

describe("kvModel helpers", () => {
  test("hash identifies states and agrees with equal", () => {
    const states: KvState[] = [{}, { x: "" }, { x: "a" }, { xa: "" }, { x: "a", y: "b" }, { y: "b", x: "a" }, { "1:x": "1:a" }];
    for (const a of states) {
      for (const b of states) expect(kvModel.hash?.(a) === kvModel.hash?.(b)).toBe(kvModel.equal?.(a, b) ?? false);
    }
  });

  test("partitions by key in first-seen order", () => {
    const history = [put(1, 0, 1, "a", "x"), put(1, 2, 3, "b", "y"), get(2, 4, 5, "a", "x")];
    expect(kvModel.partition?.(history)).toEqual([[history[0], history[2]], [history[1]]] as never);
  });

  test("canonicalize gives unobserved written values one placeholder and keeps everything else", () => {
    const history = [put(1, 0, 1, "seen"), put(1, 2, 3, "unseen1"), cas(2, 4, 5, "seen", "unseen2", true), get(3, 6, 7, "seen"), cas(4, 8, 9, "expected", "x", false)];
    const out = kvModel.canonicalize?.(history) ?? [];
    const values = out.map((op) => ("value" in op.input ? op.input.value : undefined));
    expect(values[0]).toBe("seen");
    expect(values[1]).toBe(values[2]);
    expect(values[1]).not.toBe("unseen1");
    expect(values[4]).toBe(values[1]);
    expect(out.map((op) => [op.clientId, op.call, op.return, op.output])).toEqual(history.map((op) => [op.clientId, op.call, op.return, op.output]));
    expect(out[3]).toBe(history[3] as never);
  });

  test("describes operations, unknown outcomes included", () => {
    const d = (op: ReturnType<typeof get>) => kvModel.describeOperation?.(op.input, op.output);
    expect(d(get(1, 0, 1, "a"))).toBe('get("x") → "a"');
    expect(d(get(1, 0, 1, null))).toBe('get("x") → absent');
    expect(d(put(1, 0, undefined, "a"))).toBe('put("x", "a") → ? (outcome unknown)');
    expect(d(cas(1, 0, 1, null, "b", true))).toBe('cas("x", absent → "b") → ok');
    expect(d(cas(1, 0, 1, "a", "b", false))).toBe('cas("x", "a" → "b") → failed');
    expect(d(del(1, 0, 1))).toBe('delete("x")');
    expect(kvModel.describeState?.({ y: "b", x: "a" })).toBe('{"x": "a", "y": "b"}');
  });
});
