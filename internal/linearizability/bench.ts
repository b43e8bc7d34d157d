// Checker timings on generated key-value histories: `bun internal/linearizability/bench.ts`.
// Each row is one seeded history (a real execution, so "ok"), then the same history with one
// read or swap output changed (usually "illegal", which needs the search to exhaust its options).
// Times are wall-clock milliseconds for checkOperations, including partitioning and reports.

import { checkOperations } from "./check.ts";
import { kvModel } from "./kv-model.ts";
import { mutateOutput, randomKvHistory, type HistoryShape } from "./random-history.ts";

const shapes: HistoryShape[] = [];
for (const operations of [1000, 3000, 5000, 10000]) {
  for (const keys of [1, 5]) {
    for (const clients of [10, 30]) {
      for (const unknownRate of [0, 0.05, 0.2]) shapes.push({ operations, keys, clients, unknownRate });
    }
  }
}
const timeoutMs = Number(process.argv[2] ?? 10_000);

console.log(`timeout ${timeoutMs} ms per check`);
console.log("ops    keys clients unknown  largest-part | ok: verdict     ms   explored | mutated: verdict     ms   explored");
for (const [i, shape] of shapes.entries()) {
  const seed = 1000 + i;
  const history = randomKvHistory(seed, shape);
  const ok = checkOperations(kvModel, history, { timeoutMs });
  const largest = Math.max(...ok.partitions.map((p) => p.operations.length));
  const explored = (r: typeof ok) => r.partitions.reduce((n, p) => n + p.explored, 0);
  const m = mutateOutput(seed, history);
  const bad = m ? checkOperations(kvModel, m.history, { timeoutMs }) : undefined;
  console.log(
    [
      String(shape.operations).padEnd(6),
      String(shape.keys).padStart(4),
      String(shape.clients).padStart(7),
      `${shape.unknownRate * 100}%`.padStart(7),
      String(largest).padStart(13),
      " |",
      ok.result.padStart(11),
      ok.elapsedMs.toFixed(0).padStart(6),
      String(explored(ok)).padStart(10),
      " |",
      (bad?.result ?? "-").padStart(16),
      (bad?.elapsedMs.toFixed(0) ?? "-").padStart(6),
      String(bad ? explored(bad) : "-").padStart(10),
    ].join(" "),
  );
}
