// Linearizability of the simulation's key-value histories, judged by the project's checker
// (internal/linearizability: Wing & Gong's search with Lowe's memoization, partitioned by key).

import { checkOperations, kvModel } from "../../linearizability/index.ts";
import type { HistoryOperation } from "./history.ts";

export type CheckResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly operations: number }
  | { readonly ok: "inconclusive"; readonly key: string };

/** Checks a whole history; `timeoutMs` bounds the search (then the answer is inconclusive, never ok). */
export function checkKvHistory(history: readonly HistoryOperation[], timeoutMs = 10_000): CheckResult {
  const verdict = checkOperations(kvModel, history as never, { timeoutMs });
  if (verdict.result === "ok") return { ok: true };
  const partition =
    verdict.partitions.find((p) => p.result === verdict.result) ?? verdict.partitions[0];
  const key = partition?.label ?? "";
  if (verdict.result === "unknown") return { ok: "inconclusive", key };
  return { ok: false, key, operations: partition?.operations.length ?? 0 };
}
