// What went wrong in an illegal partition, in terms a reader can check by hand: the longest order
// the search could build, the state it leaves, the completed operation that had to take effect
// next, and what the model says about each operation that could have gone next.

import type { Model, Operation } from "./model.ts";

export interface CandidateVerdict<I, O> {
  readonly operation: Operation<I, O>;
  /** The model accepts the operation in the state after the prefix. */
  readonly accepted: boolean;
  /** The state it would lead to, when accepted. */
  readonly stateAfter?: string;
}

export interface IllegalReport<S, I, O> {
  readonly partitionIndex: number;
  readonly partitionLabel: string;
  readonly partitionCount: number;
  /** Every operation of the partition. */
  readonly operations: readonly Operation<I, O>[];
  /** The longest order found that the model accepts (the one placing the most completed operations). */
  readonly longestLinearizablePrefix: readonly Operation<I, O>[];
  readonly stateAfterPrefix: S;
  readonly stateDescription: string;
  /**
   * The completed operation outside the prefix that returned first. It must take effect before
   * its return, so the next operation has to be one called no later than that.
   */
  readonly deadline: Operation<I, O>;
  /** The operations that could go next (called by the deadline's return, not in the prefix), by call time. */
  readonly candidates: readonly CandidateVerdict<I, O>[];
  /** Completed operations not in the prefix. */
  readonly completedLeft: number;
  readonly completedTotal: number;
  /** The model's wording for an operation. */
  describe(operation: Operation<I, O>): string;
}

/** Builds the report for a partition the search found illegal, from the longest prefix it found. */
export function analyzeIllegal<S, I, O>(
  model: Model<S, I, O>,
  partitionIndex: number,
  partitionLabel: string,
  partitionCount: number,
  operations: readonly Operation<I, O>[],
  prefix: readonly Operation<I, O>[],
): IllegalReport<S, I, O> {
  const describeState = (s: S) => (model.describeState ? model.describeState(s) : JSON.stringify(s) ?? String(s));
  let state = model.init();
  for (const op of prefix) state = model.step(state, op.input, op.output).state;

  const placed = new Set(prefix);
  const completed = operations.filter((op) => op.output !== undefined);
  const left = completed.filter((op) => !placed.has(op));
  let deadline = left[0];
  for (const op of left) if (deadline === undefined || op.return < deadline.return) deadline = op;
  if (deadline === undefined) throw new Error("analyzeIllegal: every completed operation is in the prefix; the partition is linearizable");
  const by = deadline.return;

  const candidates = operations
    .filter((op) => !placed.has(op) && op.call <= by)
    .filter((op) => op.output !== undefined || !model.isReadOnly?.(op.input, undefined))
    .sort((a, b) => a.call - b.call || a.clientId - b.clientId)
    .map((operation): CandidateVerdict<I, O> => {
      const r = model.step(state, operation.input, operation.output);
      return r.ok ? { operation, accepted: true, stateAfter: describeState(r.state) } : { operation, accepted: false };
    });

  return {
    partitionIndex,
    partitionLabel,
    partitionCount,
    operations,
    longestLinearizablePrefix: prefix,
    stateAfterPrefix: state,
    stateDescription: describeState(state),
    deadline,
    candidates,
    completedLeft: left.length,
    completedTotal: completed.length,
    describe: (op) =>
      model.describeOperation ? model.describeOperation(op.input, op.output) : `${JSON.stringify(op.input)} → ${op.output === undefined ? "?" : JSON.stringify(op.output)}`,
  };
}
