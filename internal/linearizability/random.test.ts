// Property tests on seeded random histories. Every failure names its seed; to replay one:
//   LINEARIZABILITY_SEED=<seed> bun test internal/linearizability/random.test.ts

import { describe, expect, test } from "bun:test";
import { bruteForceLinearizable, verifyLinearization, verifyPrefix } from "./brute-force.ts";
import { checkOperations, type CheckResult } from "./check.ts";
import { describeIllegal } from "./describe.ts";
import { kvModel, type KvInput, type KvOutput, type KvState } from "./kv-model.ts";
import { Prng } from "./prng.ts";
import { mutateOutput, randomGarbageHistory, randomKvHistory, type HistoryShape } from "./random-history.ts";

const only = process.env.LINEARIZABILITY_SEED === undefined ? undefined : Number(process.env.LINEARIZABILITY_SEED);
const seeds = (count: number, base: number) => (only !== undefined ? [only] : Array.from({ length: count }, (_, i) => base + i));
const unpartitioned = { ...kvModel, partition: undefined };

function fail(failures: string[], what: string): void {
  if (failures.length === 0) return;
  throw new Error(
    `${failures.length} ${what} failed:\n${failures.slice(0, 10).join("\n")}\n` +
      `replay one with: LINEARIZABILITY_SEED=<seed> bun test internal/linearizability/random.test.ts`,
  );
}

/** What is wrong with the witnesses of the "ok" partitions, or the prefixes of the illegal ones, or undefined. */
function witnessProblem(result: CheckResult<KvState, KvInput, KvOutput>): string | undefined {
  for (const p of result.partitions) {
    if (p.result !== "ok") continue;
    const problem = verifyLinearization(kvModel, p.operations, p.linearization ?? []);
    if (problem) return `partition ${p.label}: invalid witness: ${problem}`;
  }
  for (const r of result.illegalPartitions) {
    const problem = verifyPrefix(kvModel, r.operations, r.longestLinearizablePrefix);
    if (problem) return `partition ${r.partitionLabel}: invalid prefix in the report: ${problem}`;
  }
  return undefined;
}

function smallShape(seed: number): HistoryShape {
  const rng = new Prng(seed * 7919);
  return {
    clients: 2 + rng.int(4),
    operations: 2 + rng.int(6), // 2..7
    keys: 1 + rng.int(2),
    unknownRate: rng.pick([0, 0.15, 0.35]),
    maxDuration: rng.pick([2, 5, 12]),
  };
}

describe("agreement with brute force on small histories", () => {
  test("2,000 executions and their mutations", () => {
    const failures: string[] = [];
    let mutated = 0;
    let illegal = 0;
    for (const seed of seeds(2000, 1)) {
      const history = randomKvHistory(seed, smallShape(seed));
      const original = checkOperations(kvModel, history);
      if (original.result !== "ok" || !bruteForceLinearizable(unpartitioned, history)) {
        failures.push(`seed ${seed}: a real execution judged ${original.result}: ${JSON.stringify(history)}`);
        continue;
      }
      const problem = witnessProblem(original);
      if (problem) failures.push(`seed ${seed}: ${problem}`);

      const m = mutateOutput(seed, history);
      if (!m) continue;
      mutated++;
      const fast = checkOperations(kvModel, m.history);
      const brute = bruteForceLinearizable(unpartitioned, m.history) ? "ok" : "illegal";
      if (fast.result === "illegal") illegal++;
      if (fast.result !== brute) {
        failures.push(`seed ${seed}: mutated operation ${m.index}: fast says ${fast.result}, brute force ${brute}: ${JSON.stringify(m.history)}`);
      }
      const mProblem = witnessProblem(fast);
      if (mProblem) failures.push(`seed ${seed} (mutated): ${mProblem}`);
    }
    fail(failures, "random histories");
    if (only === undefined) {
      expect(mutated).toBeGreaterThan(1500);
      // A mutated output is usually, not always, a violation (a concurrent write may explain it).
      expect(illegal / mutated).toBeGreaterThan(0.5);
    }
  });

  // Each hint of the key-value model enables a pruning rule; the variants without them exercise
  // the plain memoized search and each rule on its own.
  const variants = [
    ["kvModel", kvModel],
    ["unpartitioned", unpartitioned],
    ["without isReadOnly", { ...kvModel, isReadOnly: undefined }],
    ["without lookahead and canonicalize", { ...kvModel, lookahead: undefined, canonicalize: undefined }],
    ["init and step only", { init: kvModel.init, step: kvModel.step }],
  ] as const;

  test("10,000 histories with random outputs, five model variants", () => {
    const failures: string[] = [];
    let illegal = 0;
    for (const seed of seeds(10_000, 100_000)) {
      const rng = new Prng(seed);
      const history = randomGarbageHistory(seed, 1 + rng.int(8), 1 + rng.int(2));
      const brute = bruteForceLinearizable(unpartitioned, history) ? "ok" : "illegal";
      if (brute === "illegal") illegal++;
      for (const [name, model] of variants) {
        const fast = checkOperations(model, history);
        if (fast.result !== brute) failures.push(`seed ${seed}: ${name} says ${fast.result}, brute force ${brute}: ${JSON.stringify(history)}`);
        const problem = witnessProblem(fast);
        if (problem) failures.push(`seed ${seed}: ${name}: ${problem}`);
        if (fast.result === "illegal" && !describeIllegal(fast).includes("Not linearizable")) failures.push(`seed ${seed}: ${name}: no report`);
      }
    }
    fail(failures, "garbage histories");
    if (only === undefined) expect(illegal).toBeGreaterThan(2000);
  });
});

describe("medium histories", () => {
  test("executions are linearizable; partitioned and unpartitioned checks agree on mutations", () => {
    const failures: string[] = [];
    for (const seed of seeds(150, 500_000)) {
      const rng = new Prng(seed);
      const shape: HistoryShape = { clients: 3 + rng.int(6), operations: 20 + rng.int(40), keys: 1 + rng.int(3), unknownRate: rng.pick([0, 0.1, 0.3]) };
      const history = randomKvHistory(seed, shape);
      const original = checkOperations(kvModel, history, { timeoutMs: 2_000 });
      if (original.result !== "ok") failures.push(`seed ${seed}: a real execution judged ${original.result}`);
      const problem = witnessProblem(original);
      if (problem) failures.push(`seed ${seed}: ${problem}`);

      const m = mutateOutput(seed, history);
      if (!m) continue;
      const split = checkOperations(kvModel, m.history, { timeoutMs: 2_000 });
      const whole = checkOperations(unpartitioned, m.history, { timeoutMs: 2_000 });
      if (split.result !== "unknown" && whole.result !== "unknown" && split.result !== whole.result) {
        failures.push(`seed ${seed}: partitioned ${split.result}, unpartitioned ${whole.result}`);
      }
      const mProblem = witnessProblem(split);
      if (mProblem) failures.push(`seed ${seed} (mutated): ${mProblem}`);
    }
    fail(failures, "medium histories");
  });
});

describe("large histories", () => {
  test("3,000 operations, 5 keys, 30 clients, 5% unknown: ok with a valid witness, and a mutation is found", () => {
    const failures: string[] = [];
    for (const seed of seeds(3, 900_000)) {
      const history = randomKvHistory(seed, { clients: 30, operations: 3000, keys: 5, unknownRate: 0.05 });
      const result = checkOperations(kvModel, history, { timeoutMs: 5_000 });
      if (result.result !== "ok") failures.push(`seed ${seed}: judged ${result.result}`);
      const problem = witnessProblem(result);
      if (problem) failures.push(`seed ${seed}: ${problem}`);

      const m = mutateOutput(seed, history);
      if (!m) continue;
      const mutated = checkOperations(kvModel, m.history, { timeoutMs: 5_000 });
      if (mutated.result === "unknown") failures.push(`seed ${seed}: the mutated history was not decided in time`);
      const mProblem = witnessProblem(mutated);
      if (mProblem) failures.push(`seed ${seed} (mutated): ${mProblem}`);
    }
    fail(failures, "large histories");
  });
});
