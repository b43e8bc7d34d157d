import { describe, expect, test } from "bun:test";
import { bruteForceLinearizable, verifyLinearization } from "./brute-force.ts";
import { checkOperations } from "./check.ts";
import { InvalidHistoryError } from "./errors.ts";
import { cas, del, get, put } from "./history-builders.ts";
import { kvModel, type KvOperation } from "./kv-model.ts";
import type { Model, Operation } from "./model.ts";

/** The verdict, after checking that an "ok" comes with a valid witness and that small histories agree with brute force. */
function verdict(history: KvOperation[]): string {
  const result = checkOperations(kvModel, history);
  for (const p of result.partitions) {
    if (p.result === "ok") expect(verifyLinearization(kvModel, p.operations, p.linearization ?? [])).toBeUndefined();
  }
  if (history.length <= 9) {
    const expected = bruteForceLinearizable({ ...kvModel, partition: undefined }, history) ? "ok" : "illegal";
    expect(result.result).toBe(expected);
  }
  return result.result;
}

describe("registers", () => {
  test("an empty history and a sequential one are linearizable", () => {
    expect(verdict([])).toBe("ok");
    expect(verdict([put(1, 0, 10, "a"), get(1, 11, 20, "a"), put(2, 21, 30, "b"), get(1, 31, 40, "b")])).toBe("ok");
  });

  test("a read of the initial state sees the key absent", () => {
    expect(verdict([get(1, 0, 5, null)])).toBe("ok");
    expect(verdict([get(1, 0, 5, "a")])).toBe("illegal");
  });

  test("a stale read after a completed write is illegal", () => {
    expect(verdict([put(1, 0, 10, "a"), put(2, 20, 30, "b"), get(3, 40, 50, "a")])).toBe("illegal");
  });

  test("a read concurrent with a write may see the old or the new value", () => {
    expect(verdict([put(1, 0, 10, "a"), put(2, 20, 40, "b"), get(3, 25, 30, "a")])).toBe("ok");
    expect(verdict([put(1, 0, 10, "a"), put(2, 20, 40, "b"), get(3, 25, 30, "b")])).toBe("ok");
  });

  test("touching intervals count as concurrent", () => {
    // The read is called exactly when the write returns: the checker cannot tell which came first.
    expect(verdict([put(1, 0, 10, "a"), put(2, 10, 20, "b"), get(3, 0, 10, "b")])).toBe("ok");
  });

  test("once a read sees the new value, later reads must not see the old one", () => {
    const history = [put(1, 0, 10, "a"), put(2, 20, 100, "b"), get(3, 30, 40, "b"), get(4, 50, 60, "a")];
    expect(verdict(history)).toBe("illegal");
    expect(verdict([put(1, 0, 10, "a"), put(2, 20, 100, "b"), get(3, 30, 40, "a"), get(4, 50, 60, "b")])).toBe("ok");
  });

  test("concurrent writes: readers may not observe them in opposite orders", () => {
    const writes = [put(1, 0, 100, "a"), put(2, 0, 100, "b")];
    expect(verdict([...writes, get(3, 10, 20, "a"), get(3, 30, 40, "b"), get(4, 10, 20, "a"), get(4, 30, 40, "b")])).toBe("ok");
    expect(verdict([...writes, get(3, 10, 20, "a"), get(3, 30, 40, "b"), get(4, 10, 20, "b"), get(4, 30, 40, "a")])).toBe("illegal");
  });

  test("a read of a value never written is illegal", () => {
    expect(verdict([put(1, 0, 10, "a"), get(2, 0, 20, "zzz")])).toBe("illegal");
  });

  test("a read cannot see a write called after it returned", () => {
    expect(verdict([get(1, 0, 10, "a"), put(2, 11, 20, "a")])).toBe("illegal");
  });

  test("a lost write is illegal", () => {
    expect(verdict([put(1, 0, 10, "a"), get(2, 20, 30, null)])).toBe("illegal");
    expect(verdict([put(1, 0, 10, "a"), put(1, 15, 20, "b"), get(2, 30, 40, "a"), get(2, 50, 60, "a")])).toBe("illegal");
  });
});

describe("compare-and-set and delete", () => {
  test("a swap succeeds only on the expected value", () => {
    expect(verdict([put(1, 0, 10, "a"), cas(2, 20, 30, "a", "b", true), get(3, 40, 50, "b")])).toBe("ok");
    expect(verdict([put(1, 0, 10, "a"), cas(2, 20, 30, "z", "b", true)])).toBe("illegal");
    expect(verdict([put(1, 0, 10, "a"), cas(2, 20, 30, "a", "b", false)])).toBe("illegal");
    expect(verdict([cas(1, 0, 10, null, "a", true), get(2, 20, 30, "a")])).toBe("ok");
  });

  test("two concurrent creates cannot both succeed", () => {
    expect(verdict([cas(1, 0, 10, null, "a", true), cas(2, 0, 10, null, "b", true)])).toBe("illegal");
    expect(verdict([cas(1, 0, 10, null, "a", true), cas(2, 0, 10, null, "b", false), get(3, 20, 30, "a")])).toBe("ok");
  });

  test("a swap may fail because a concurrent write changed the value", () => {
    expect(verdict([put(1, 0, 10, "a"), put(2, 20, 40, "c"), cas(3, 20, 40, "a", "b", false), get(1, 50, 60, "c")])).toBe("ok");
    // ...but then the swap's own value must not be read.
    expect(verdict([put(1, 0, 10, "a"), put(2, 20, 40, "c"), cas(3, 20, 40, "a", "b", false), get(1, 50, 60, "b")])).toBe("illegal");
  });

  test("delete makes the key absent", () => {
    expect(verdict([put(1, 0, 10, "a"), del(2, 20, 30), get(3, 40, 50, null)])).toBe("ok");
    expect(verdict([put(1, 0, 10, "a"), del(2, 20, 30), get(3, 40, 50, "a")])).toBe("illegal");
    expect(verdict([put(1, 0, 10, "a"), del(2, 20, 30), cas(3, 40, 50, null, "b", true)])).toBe("ok");
    expect(verdict([put(1, 0, 10, "a"), del(2, 20, 50), get(3, 25, 30, "a"), get(4, 25, 30, null)])).toBe("ok");
  });
});

describe("unknown outcomes", () => {
  test("an unknown write may take effect or not", () => {
    expect(verdict([put(1, 0, undefined, "a"), get(2, 100, 110, "a")])).toBe("ok");
    expect(verdict([put(1, 0, undefined, "a"), get(2, 100, 110, null)])).toBe("ok");
  });

  test("an unknown write may take effect long after the client gave up", () => {
    expect(verdict([put(1, 0, undefined, "a"), get(2, 100, 110, null), get(2, 200, 210, null), get(3, 1000, 1010, "a")])).toBe("ok");
  });

  test("an unknown write takes effect once: seen, then unseen, is illegal", () => {
    expect(verdict([put(1, 0, undefined, "a"), get(2, 100, 110, "a"), get(2, 200, 210, null)])).toBe("illegal");
  });

  test("an unknown write cannot take effect before its call", () => {
    expect(verdict([get(1, 0, 10, "a"), put(2, 20, undefined, "a")])).toBe("illegal");
  });

  test("an unknown swap is the only explanation for a value", () => {
    const history = [put(1, 0, 10, "a"), cas(2, 20, undefined, "a", "b", undefined), get(3, 500, 510, "b")];
    expect(verdict(history)).toBe("ok");
    expect(verdict(history.filter((op) => op.input.kind !== "cas"))).toBe("illegal");
    // The swap can only succeed if it lands before the overwrite by c.
    expect(verdict([put(1, 0, 10, "a"), cas(2, 20, undefined, "a", "b", undefined), put(1, 30, 40, "c"), get(3, 50, 60, "b")])).toBe(
      "illegal",
    );
    expect(verdict([put(1, 0, 10, "a"), cas(2, 20, undefined, "a", "b", undefined), put(1, 30, 40, "a"), get(3, 50, 60, "b")])).toBe("ok");
  });

  test("an unknown delete may or may not have removed the key", () => {
    expect(verdict([put(1, 0, 10, "a"), del(2, 20, undefined), get(3, 30, 40, "a"), get(3, 50, 60, null)])).toBe("ok");
    expect(verdict([put(1, 0, 10, "a"), del(2, 20, undefined), get(3, 30, 40, null), get(3, 50, 60, "a")])).toBe("illegal");
  });

  test("an unknown read constrains nothing", () => {
    const unknownGet: KvOperation = { clientId: 9, input: { kind: "get", key: "x" }, call: 0, output: undefined, return: Infinity };
    expect(verdict([put(1, 0, 10, "a"), unknownGet])).toBe("ok");
  });

  test("many unknown writes that never took effect do not slow the check down", () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 60; i++) {
      history.push(put(100 + i, i * 10, undefined, `lost${i}`));
      history.push(put(1, i * 10, i * 10 + 5, `v${i}`), get(2, i * 10 + 6, i * 10 + 9, `v${i}`));
    }
    history.push(get(3, 1000, 1010, "never"));
    const result = checkOperations(kvModel, history, { timeoutMs: 5_000 });
    expect(result.result).toBe("illegal");
    expect(result.partitions[0]?.explored).toBeLessThan(50_000);
  });
});

describe("partitions", () => {
  test("keys are checked independently and the illegal one is named", () => {
    const history = [
      put(1, 0, 10, "a", "x"),
      put(2, 0, 10, "b", "y"),
      get(1, 20, 30, "a", "x"),
      get(2, 20, 30, "a", "y"), // y never held "a"
    ];
    const result = checkOperations(kvModel, history);
    expect(result.result).toBe("illegal");
    expect(result.partitions.map((p) => [p.label, p.result])).toEqual([
      ['key "x"', "ok"],
      ['key "y"', "illegal"],
    ]);
    expect(result.illegal?.partitionIndex).toBe(1);
    expect(result.illegal?.partitionLabel).toBe('key "y"');
    expect(result.illegal?.longestLinearizablePrefix).toEqual([history[1] as KvOperation]);
  });

  test("without partitioning the verdicts agree", () => {
    const history = [put(1, 0, 10, "a", "x"), put(2, 5, 15, "b", "y"), get(3, 12, 20, "a", "x"), get(4, 12, 20, null, "y")];
    expect(checkOperations(kvModel, history).result).toBe("ok");
    expect(checkOperations({ ...kvModel, partition: undefined }, history).result).toBe("ok");
  });
});

describe("generic models", () => {
  // A counter with no hints at all: no partition, hash, equal or read-only flag.
  const counter: Model<number, "inc" | "read", number | null> = {
    init: () => 0,
    step: (state, input, output) =>
      input === "inc" ? { ok: true, state: state + 1 } : { ok: output === undefined || output === state, state },
  };
  const op = (call: number, ret: number, input: "inc" | "read", output: number | null | undefined): Operation<"inc" | "read", number | null> => ({
    clientId: call,
    input,
    call,
    output,
    return: output === undefined ? Infinity : ret,
  });

  test("a model without hints is checked", () => {
    expect(checkOperations(counter, [op(0, 10, "inc", null), op(0, 10, "inc", null), op(20, 30, "read", 2)]).result).toBe("ok");
    expect(checkOperations(counter, [op(0, 10, "inc", null), op(20, 30, "read", 0)]).result).toBe("illegal");
    expect(checkOperations(counter, [op(0, 0, "inc", undefined), op(20, 30, "read", 1), op(40, 50, "read", 1)]).result).toBe("ok");
  });
});

describe("time budget", () => {
  // Thirty concurrent writes and then a read of a value none of them wrote: without the lookahead,
  // which sees at once that nothing writes that value, the search has to try every subset of
  // writes before it can say "illegal".
  const hard = [...Array.from({ length: 30 }, (_, i) => put(i, 0, 100, `w${i}`)), get(99, 200, 210, "nobody-wrote-this")];
  const noLookahead = { ...kvModel, lookahead: undefined };

  test("the lookahead decides it at once", () => {
    expect(checkOperations(kvModel, hard, { timeoutMs: 1_000 }).result).toBe("illegal");
  });

  test("running out of time gives unknown, never ok", () => {
    const result = checkOperations(noLookahead, hard, { timeoutMs: 50 });
    expect(result.result).toBe("unknown");
    expect(result.partitions[0]?.result).toBe("unknown");
    expect(result.illegal).toBeUndefined();
  });

  test("an injected clock that is already past the budget stops the search", () => {
    let t = 0;
    const result = checkOperations(noLookahead, hard, { timeoutMs: 10, now: () => (t += 100) });
    expect(result.result).toBe("unknown");
  });

  test("an illegal partition still makes the result illegal when another runs out of time", () => {
    const history = [...hard, put(1, 0, 10, "a", "other"), get(2, 20, 30, null, "other")];
    const result = checkOperations(noLookahead, history, { timeoutMs: 50 });
    expect(result.result).toBe("illegal");
    expect(result.partitions.map((p) => p.result)).toEqual(["unknown", "illegal"]);
  });
});

describe("invalid histories", () => {
  test("times that cannot be interpreted are rejected", () => {
    expect(() => checkOperations(kvModel, [get(1, 10, 5, null)])).toThrow(InvalidHistoryError);
    expect(() => checkOperations(kvModel, [get(1, Number.NaN, 5, null)])).toThrow(InvalidHistoryError);
  });

  test("outputs of the wrong shape are rejected by the key-value model", () => {
    const bad = { clientId: 1, input: { kind: "get", key: "x" }, call: 0, output: {}, return: 1 } as KvOperation;
    expect(() => checkOperations(kvModel, [bad])).toThrow(/expected \{ value: string \| null \}/);
    const badCas = { clientId: 1, input: { kind: "cas", key: "x", expected: null, value: "a" }, call: 0, output: {}, return: 1 } as KvOperation;
    expect(() => checkOperations(kvModel, [badCas])).toThrow(InvalidHistoryError);
  });
});
