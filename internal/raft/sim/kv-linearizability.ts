// A small linearizability check of the simulation's key-value histories (Wing & Gong search with
// memoization, one key at a time since keys are independent). It is a self-check for the
// simulator; the project's real checker lives in internal/linearizability.

import type { HistoryOperation } from "./history.ts";

export type CheckResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly operations: number }
  | { readonly ok: "inconclusive"; readonly key: string };

type State = string | null;

/** The model: applies op to state; undefined if op's recorded output is impossible from state. */
function stepModel(state: State, op: HistoryOperation): State | undefined {
  const i = op.input;
  const out = op.output as { value?: string | null; ok?: boolean } | undefined;
  switch (i.kind) {
    case "get":
      return out === undefined || out.value === state ? state : undefined;
    case "put":
      return i.value;
    case "delete":
      return null;
    case "cas": {
      const ok = state === i.expected;
      if (out !== undefined && out.ok !== ok) return undefined;
      return ok ? i.value : state;
    }
  }
}

function checkKey(ops: HistoryOperation[], budget: number): boolean | "inconclusive" {
  ops.sort((a, b) => a.call - b.call);
  const n = ops.length;
  const known = ops.filter((o) => o.return !== Infinity).length;
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  let steps = 0;
  let exhausted = false;

  const search = (state: State, doneKnown: number): boolean => {
    if (doneKnown === known) return true;
    if (++steps > budget) {
      exhausted = true;
      return false;
    }
    let minRet = Infinity;
    for (let i = 0; i < n; i++) if (done[i] === 0 && ops[i]!.return < minRet) minRet = ops[i]!.return;
    for (let i = 0; i < n; i++) {
      if (done[i] !== 0) continue;
      const op = ops[i]!;
      if (op.call > minRet) break; // sorted by call: no later op can go first
      const next = stepModel(state, op);
      if (next === undefined) continue;
      done[i] = 1;
      const key = `${next}\u0000${done.join("")}`;
      if (!seen.has(key)) {
        seen.add(key);
        if (search(next, doneKnown + (op.return === Infinity ? 0 : 1))) return true;
        if (exhausted) return false;
      }
      done[i] = 0;
    }
    return false;
  };
  const ok = search(null, 0);
  if (!ok && exhausted) return "inconclusive";
  return ok;
}

/** Checks a whole history; `budget` bounds the search steps per key. */
export function checkKvHistory(history: readonly HistoryOperation[], budget = 200_000): CheckResult {
  const byKey = new Map<string, HistoryOperation[]>();
  for (const op of history) {
    const list = byKey.get(op.input.key);
    if (list === undefined) byKey.set(op.input.key, [op]);
    else list.push(op);
  }
  for (const [key, ops] of byKey) {
    const r = checkKey(ops, budget);
    if (r === "inconclusive") return { ok: "inconclusive", key };
    if (!r) return { ok: false, key, operations: ops.length };
  }
  return { ok: true };
}
