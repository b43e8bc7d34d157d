// The definition of linearizability, executed literally, for cross-checking the search on tiny
// histories: try every order of every subset of unknown operations, with no memoization, no
// partitioning and no model hints. Exponential; meant for histories of a handful of operations.

import type { Model, Operation } from "./model.ts";

/** True iff some order of all completed operations and some subset of the unknown ones respects real time and is accepted by the model. */
export function bruteForceLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[]): boolean {
  const placed = new Array<boolean>(history.length).fill(false);
  let completedLeft = history.filter((op) => op.output !== undefined).length;

  const search = (state: S): boolean => {
    if (completedLeft === 0) return true;
    for (let i = 0; i < history.length; i++) {
      if (placed[i]) continue;
      const op = history[i] as Operation<I, O>;
      // Every completed operation that returned before this one was called must already be placed.
      const blocked = history.some((other, j) => !placed[j] && j !== i && other.output !== undefined && other.return < op.call);
      if (blocked) continue;
      const r = model.step(state, op.input, op.output);
      if (!r.ok) continue;
      placed[i] = true;
      if (op.output !== undefined) completedLeft--;
      const found = search(r.state);
      placed[i] = false;
      if (op.output !== undefined) completedLeft++;
      if (found) return true;
    }
    return false;
  };
  return search(model.init());
}

/**
 * Checks a claimed linearization of `history`: each operation at most once and from the history,
 * every completed one present, no operation placed before one that returned before it was
 * called, and every step accepted. Returns what is wrong, or undefined.
 */
export function verifyLinearization<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  order: readonly Operation<I, O>[],
): string | undefined {
  const problem = verifyPrefix(model, history, order);
  if (problem) return problem;
  const seen = new Set(order);
  for (const op of history) if (op.output !== undefined && !seen.has(op)) return `completed operation ${JSON.stringify(op)} is missing`;
  return undefined;
}

/**
 * Checks a claimed linearizable prefix: like verifyLinearization, except that operations may be
 * missing, as long as none of the missing completed ones returned before a placed one was called.
 */
export function verifyPrefix<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  order: readonly Operation<I, O>[],
): string | undefined {
  const members = new Set(history);
  const seen = new Set<Operation<I, O>>();
  let state = model.init();
  for (const [i, op] of order.entries()) {
    if (!members.has(op)) return `position ${i}: not an operation of the history`;
    if (seen.has(op)) return `position ${i}: placed twice`;
    seen.add(op);
    const r = model.step(state, op.input, op.output);
    if (!r.ok) return `position ${i}: the model rejects ${JSON.stringify(op)}`;
    state = r.state;
  }
  // Completed operations left out must not have returned before any placed one was called.
  let earliestMissingReturn = Infinity;
  for (const op of history) if (op.output !== undefined && !seen.has(op)) earliestMissingReturn = Math.min(earliestMissingReturn, op.return);
  for (const [i, op] of order.entries()) {
    if (earliestMissingReturn < op.call) return `position ${i}: placed although an operation left out returned (t=${earliestMissingReturn}) before its call`;
  }
  // Scanning backwards, the earliest return among completed operations placed later must not precede this call.
  let earliestLaterReturn = Infinity;
  for (let i = order.length - 1; i >= 0; i--) {
    const op = order[i] as Operation<I, O>;
    if (earliestLaterReturn < op.call) return `position ${i}: placed after an operation that returned (t=${earliestLaterReturn}) before its call`;
    if (op.output !== undefined) earliestLaterReturn = Math.min(earliestLaterReturn, op.return);
  }
  return undefined;
}
