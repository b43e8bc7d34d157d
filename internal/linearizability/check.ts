// The entry point: validate a history, split it by the model's partition, search each part, and
// explain the first part that has no linearization.

import { InvalidHistoryError } from "./errors.ts";
import type { Model, Operation } from "./model.ts";
import { analyzeIllegal, type IllegalReport } from "./report.ts";
import { searchPartition, type Verdict } from "./search.ts";

export type { Verdict } from "./search.ts";

export interface CheckOptions {
  /** Time budget for the whole history; past it the verdict is "unknown", never "ok". Default: none. */
  readonly timeoutMs?: number;
  /** Clock in milliseconds; tests inject one. Default: `performance.now`. */
  readonly now?: () => number;
}

export interface PartitionResult<I, O> {
  /** Position in the list returned by `model.partition` (0 when the model does not partition). */
  readonly index: number;
  /** `model.describePartition`, or `#index`. */
  readonly label: string;
  readonly operations: readonly Operation<I, O>[];
  readonly result: Verdict;
  /**
   * For "ok": a witness order that respects real time and that the model accepts, holding every
   * completed operation and the unknown ones that took effect.
   */
  readonly linearization?: readonly Operation<I, O>[];
  /** Search configurations visited. */
  readonly explored: number;
  readonly elapsedMs: number;
}

export interface CheckResult<S, I, O> {
  /** "illegal" if any partition is; otherwise "unknown" if any partition ran out of time; otherwise "ok". */
  readonly result: Verdict;
  readonly partitions: readonly PartitionResult<I, O>[];
  /** Why the first illegal partition is illegal. */
  readonly illegal?: IllegalReport<S, I, O>;
  /** Reports for every illegal partition, in partition order (`illegal` is the first). */
  readonly illegalPartitions: readonly IllegalReport<S, I, O>[];
  readonly elapsedMs: number;
}

/**
 * Checks whether `history` is linearizable with respect to `model`: whether every completed
 * operation, and any subset of the operations with unknown outcome, can be put in one order that
 * respects real time (an operation that returned before another was called comes first) and that
 * the model accepts with the recorded outputs. Each partition of `model.partition` is checked on
 * its own with Wing & Gong's search and Lowe's memoization; every partition is checked, so a
 * report names all illegal ones. When `timeoutMs` runs out the affected partitions, and the
 * result unless some partition is illegal, are "unknown". Each illegal partition then costs a
 * bounded extra search (about 100,000 configurations) to find the prefix its report shows.
 * Throws InvalidHistoryError for operations whose times cannot be interpreted.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<S, I, O> {
  validateTimes(history);
  const now = options.now ?? (() => performance.now());
  const started = now();
  const deadline = options.timeoutMs === undefined ? Infinity : started + options.timeoutMs;
  const parts = model.partition ? model.partition(history) : [history.slice()];

  const partitions: PartitionResult<I, O>[] = [];
  const illegalPartitions: IllegalReport<S, I, O>[] = [];
  parts.forEach((ops, index) => {
    const label = model.describePartition?.(ops) ?? `#${index}`;
    const partStarted = now();
    const searched = model.canonicalize ? model.canonicalize(ops) : ops;
    if (searched.length !== ops.length) throw new Error(`model.canonicalize returned ${searched.length} operations for ${ops.length}`);
    const outcome = searchPartition(model, searched, { deadline, now });
    const order = outcome.order.map((i) => ops[i] as Operation<I, O>);
    partitions.push({
      index,
      label,
      operations: ops,
      result: outcome.verdict,
      ...(outcome.verdict === "ok" ? { linearization: order } : {}),
      explored: outcome.explored,
      elapsedMs: now() - partStarted,
    });
    if (outcome.verdict === "illegal") {
      const prefix = model.lookahead ? reportPrefix(model, searched, ops, order, now) : order;
      illegalPartitions.push(analyzeIllegal(model, index, label, parts.length, ops, prefix));
    }
  });

  const result: Verdict = illegalPartitions.length > 0 ? "illegal" : partitions.some((p) => p.result === "unknown") ? "unknown" : "ok";
  const first = illegalPartitions[0];
  return {
    result,
    partitions,
    ...(first ? { illegal: first } : {}),
    illegalPartitions,
    elapsedMs: now() - started,
  };
}

/**
 * Configurations the search without lookahead may visit to find a prefix for the report. The
 * lookahead cuts a branch as soon as some later read becomes impossible, so the longest prefix it
 * leaves often stops well before the operation a reader would blame; a bounded search without it
 * usually runs on to where a read is actually rejected.
 */
const REPORT_SEARCH_LIMIT = 100_000;

function reportPrefix<S, I, O>(
  model: Model<S, I, O>,
  searched: readonly Operation<I, O>[],
  ops: readonly Operation<I, O>[],
  order: readonly Operation<I, O>[],
  now: () => number,
): readonly Operation<I, O>[] {
  const plain = searchPartition(model, searched, { deadline: Infinity, now, maxExplored: REPORT_SEARCH_LIMIT, lookahead: false });
  const longer = plain.order.map((i) => ops[i] as Operation<I, O>);
  const completed = (prefix: readonly Operation<I, O>[]) => prefix.filter((op) => op.output !== undefined).length;
  return completed(longer) > completed(order) ? longer : order;
}

function validateTimes(history: readonly Operation<unknown, unknown>[]): void {
  history.forEach((op, i) => {
    if (typeof op.call !== "number" || !Number.isFinite(op.call)) {
      throw new InvalidHistoryError(i, `call time ${String(op.call)} is not a finite number`);
    }
    if (op.output === undefined) return; // the return time of an unknown outcome bounds nothing
    if (typeof op.return !== "number" || Number.isNaN(op.return)) {
      throw new InvalidHistoryError(i, `return time ${String(op.return)} is not a number`);
    }
    if (op.return < op.call) throw new InvalidHistoryError(i, `returned at ${op.return}, before its call at ${op.call}`);
  });
}
