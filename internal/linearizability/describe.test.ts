import { describe, expect, test } from "bun:test";
import { checkOperations } from "./check.ts";
import { describeIllegal } from "./describe.ts";
import { cas, get, put } from "./history-builders.ts";
import { kvModel } from "./kv-model.ts";
import { renderTimeline } from "./timeline.ts";

describe("describeIllegal", () => {
  test("a stale read is explained with the key, clients, times and the state", () => {
    const history = [
      put(1, 0, 10, "a", "other"),
      put(1, 0, 10, "v1"),
      put(2, 20, 30, "v2"),
      cas(4, 25, undefined, "v2", "v3", undefined),
      get(3, 40, 50, "v1"),
    ];
    const result = checkOperations(kvModel, history);
    expect(result.result).toBe("illegal");
    const text = describeIllegal(result);
    expect(text).toContain('Not linearizable: key "x" (partition 2 of 2, 4 operations).');
    expect(text).toContain('places 2 of 3 completed operations and leaves the state {"x": "v2"}');
    expect(text).toContain('#1  client 1  [0, 10]  put("x", "v1")');
    expect(text).toContain('#2  client 2  [20, 30]  put("x", "v2")');
    expect(text).toContain('After it, client 3  [40, 50]  get("x") → "v1"\n  can never take effect: it needs "v1" in "x", which is not current, and nothing left writes it.');
    // The timeline has a row per operation around the stuck point, the prefix numbered.
    const timeline = text.slice(text.indexOf("Timeline"));
    expect(timeline).toMatch(/c1 #1 \|\[=+\] +\| put\("x", "v1"\)/);
    expect(timeline).toMatch(/c3 +\| +\[=+\]\| get\("x"\) → "v1"/);
    expect(timeline).not.toContain("other");
  });

  test("candidates are listed with what the model says about each", () => {
    const history = [put(1, 0, 10, "v1"), cas(4, 5, undefined, "v0", "v3", undefined), cas(2, 20, 30, "v1", "v9", false), get(5, 25, 40, "v1")];
    const text = describeIllegal(checkOperations(kvModel, history));
    expect(text).toContain('places 2 of 3 completed operations and leaves the state {"x": "v1"}');
    expect(text).toContain('#2  client 5  [25, 40]  get("x") → "v1"');
    expect(text).toContain('Then client 2  [20, 30]  cas("x", "v1" → "v9") → failed');
    expect(text).toContain("returned at t=30, so it or an operation called by then must take effect next, but:");
    expect(text).toContain('client 4  [5, ?]  cas("x", "v0" → "v3") → ? (outcome unknown)  — would change nothing in this state');
    expect(text).toContain('client 2  [20, 30]  cas("x", "v1" → "v9") → failed  — rejected in state {"x": "v1"}');
    expect(text).toMatch(/c4 +\| *[<\[]~+>\| cas/);
  });

  test("a read of a value written only later is blamed directly", () => {
    const text = describeIllegal(checkOperations(kvModel, [get(1, 0, 10, "v1"), put(2, 20, 30, "v1")]));
    expect(text).toContain('it needs "v1" in "x", which is not current, and nothing that writes it is left that was called before t=10.');
  });

  test("a read of a value nothing writes is blamed directly", () => {
    const history = [put(1, 0, 10, "v1"), get(2, 20, 30, "v9")];
    const text = describeIllegal(checkOperations(kvModel, history));
    expect(text).toContain('client 2  [20, 30]  get("x") → "v9"\n  can never take effect: it needs "v9" in "x", which is not current, and no operation writes it.');
  });

  test("without a lookahead the report shows the rejected read itself", () => {
    const history = [put(1, 0, 10, "v1"), put(2, 20, 30, "v2"), get(3, 40, 50, "v1")];
    const text = describeIllegal(checkOperations({ ...kvModel, lookahead: undefined }, history));
    expect(text).toContain('places 2 of 3 completed operations and leaves the state {"x": "v2"}');
    expect(text).toContain('client 3  [40, 50]  get("x") → "v1"  — rejected in state {"x": "v2"}');
  });

  test("the report points at the partition and prefix the search found", () => {
    const history = [put(1, 0, 10, "a"), get(2, 20, 30, "b")];
    const result = checkOperations({ ...kvModel, lookahead: undefined }, history);
    expect(result.illegal?.partitionLabel).toBe('key "x"');
    expect(result.illegal?.longestLinearizablePrefix).toEqual([history[0] as never]);
    expect(result.illegal?.deadline).toBe(history[1] as never);
    expect(result.illegal?.candidates.map((c) => c.accepted)).toEqual([false]);
  });

  test("ok and unknown results get one-line summaries", () => {
    expect(describeIllegal(checkOperations(kvModel, [put(1, 0, 1, "a")]))).toMatch(/^Linearizable: 1 operations in 1 partition/);
    const hard = [...Array.from({ length: 24 }, (_, i) => put(i, 0, 100, `w${i}`)), get(99, 200, 210, "nobody")];
    const text = describeIllegal(checkOperations({ ...kvModel, lookahead: undefined }, hard, { timeoutMs: 20 }));
    expect(text).toMatch(/^Unknown: the time budget ran out .* before key "x" could be decided/);
  });

  test("at most maxPartitions illegal partitions are described in full", () => {
    const history = ["a", "b", "c"].flatMap((key) => [put(1, 0, 1, "v", key), get(1, 2, 3, null, key)]);
    const text = describeIllegal(checkOperations(kvModel, history), { maxPartitions: 2 });
    expect(text.match(/Not linearizable/g)?.length).toBe(2);
    expect(text).toContain('... and 1 more illegal partition(s): key "c"');
  });
});

describe("renderTimeline", () => {
  test("draws intervals to scale", () => {
    const text = renderTimeline(
      [
        { label: "c1", call: 0, return: 10, text: "first" },
        { label: "c22", call: 5, return: 5, text: "instant" },
        { label: "c3", call: 5, return: Infinity, unknown: true, text: "open" },
      ],
      { width: 11 },
    );
    expect(text.split("\n")).toEqual([
      "     t=0        t=10",
      "c1  |[=========]| first",
      "c22 |     |     | instant",
      "c3  |     [~~~~>| open",
    ]);
  });
});
