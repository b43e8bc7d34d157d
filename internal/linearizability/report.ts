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
  /** When accepted: whether the state stays the same. */
  readonly unchanged?: boolean;
  /** When accepted: a pending operation that the model's lookahead says can then never take effect, and why. */
  readonly strands?: { readonly operation: Operation<I, O>; readonly reason: string };
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
  /**
   * Set when the model's lookahead says the prefix itself is a dead end: a pending operation that
   * can never take effect whatever goes next, and why.
   */
  readonly stranded?: { readonly operation: Operation<I, O>; readonly reason: string };
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
  const hash = (s: S) => (model.hash ? model.hash(s) : JSON.stringify(s));
  let state = model.init();
  for (const op of prefix) state = model.step(state, op.input, op.output).state;

  const placed = new Set(prefix);
  const completed = operations.filter((op) => op.output !== undefined);
  const left = completed.filter((op) => !placed.has(op));
  let deadline = left[0];
  for (const op of left) if (deadline === undefined || op.return < deadline.return) deadline = op;
  if (deadline === undefined) throw new Error("analyzeIllegal: every completed operation is in the prefix; the partition is linearizable");
  const by = deadline.return;

  const lookahead = model.lookahead?.(operations);
  operations.forEach((op, i) => placed.has(op) && lookahead?.place(i));
  const stuck = lookahead && !lookahead.viable(state) ? lookahead.explain?.(state) : undefined;
  const stranded = stuck ? { operation: operations[stuck.index] as Operation<I, O>, reason: stuck.reason } : undefined;
  const candidates = operations
    .map((operation, index) => ({ operation, index }))
    .filter(({ operation: op }) => !placed.has(op) && op.call <= by)
    .filter(({ operation: op }) => op.output !== undefined || !model.isReadOnly?.(op.input, undefined))
    .sort((a, b) => a.operation.call - b.operation.call || a.operation.clientId - b.operation.clientId)
    .map(({ operation, index }): CandidateVerdict<I, O> => {
      const r = model.step(state, operation.input, operation.output);
      if (!r.ok) return { operation, accepted: false };
      let strands: CandidateVerdict<I, O>["strands"];
      if (lookahead) {
        lookahead.place(index);
        const why = lookahead.viable(r.state) ? undefined : lookahead.explain?.(r.state);
        if (why) strands = { operation: operations[why.index] as Operation<I, O>, reason: why.reason };
        lookahead.unplace(index);
      }
      const unchanged = hash(r.state) === hash(state);
      return { operation, accepted: true, stateAfter: describeState(r.state), unchanged, ...(strands ? { strands } : {}) };
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
    ...(stranded ? { stranded } : {}),
    candidates,
    completedLeft: left.length,
    completedTotal: completed.length,
    describe: (op) =>
      model.describeOperation ? model.describeOperation(op.input, op.output) : `${JSON.stringify(op.input)} → ${op.output === undefined ? "?" : JSON.stringify(op.output)}`,
  };
}
