// Checker timings on generated key-value histories:
//   bun internal/linearizability/bench.ts [timeoutMs]
// Each row is one seeded history from a real execution (so "ok"), then the same history with one
// read or swap output changed (usually "illegal", which makes the search exhaust its options).
// The peer is the same search given only what every model has (init, step, partition by key):
// none of kvModel's hints (isReadOnly, canonicalize, lookahead), on the "ok" history; the ratio
// is peer time / kvModel time. Times are wall-clock milliseconds for checkOperations.

import { checkOperations, type CheckResult } from "./check.ts";
import { kvModel, type KvInput, type KvOutput, type KvState } from "./kv-model.ts";
import type { Model } from "./model.ts";
import { mutateOutput, randomKvHistory, type HistoryShape } from "./random-history.ts";

const shapes: HistoryShape[] = [];
for (const operations of [1000, 3000, 10000]) {
  for (const keys of [1, 5]) {
    for (const clients of [10, 30]) {
      for (const unknownRate of [0, 0.05, 0.2]) shapes.push({ operations, keys, clients, unknownRate });
    }
  }
}
const timeoutMs = Number(process.argv[2] ?? 5_000);
const peer: Model<KvState, KvInput, KvOutput> = { init: kvModel.init, step: kvModel.step, partition: kvModel.partition };

const explored = (r: CheckResult<KvState, KvInput, KvOutput>) => r.partitions.reduce((n, p) => n + p.explored, 0);
const cell = (r: CheckResult<KvState, KvInput, KvOutput> | undefined) =>
  r ? `${r.result.padStart(7)} ${r.elapsedMs.toFixed(0).padStart(5)} ms ${String(explored(r)).padStart(8)}` : "-".padStart(25);

console.log(`timeout ${timeoutMs} ms per check; configurations visited after each time`);
console.log("ops    keys clients unknown largest |          kvModel, ok history |        kvModel, mutated |        peer, ok history | peer/kvModel");
for (const [i, shape] of shapes.entries()) {
  const seed = 1000 + i;
  const history = randomKvHistory(seed, shape);
  const ok = checkOperations(kvModel, history, { timeoutMs });
  const m = mutateOutput(seed, history);
  const bad = m ? checkOperations(kvModel, m.history, { timeoutMs }) : undefined;
  const plain = checkOperations(peer, history, { timeoutMs });
  const ratio = plain.result === "unknown" ? `> ${(plain.elapsedMs / ok.elapsedMs).toFixed(0)}` : (plain.elapsedMs / ok.elapsedMs).toFixed(1);
  console.log(
    [
      String(shape.operations).padEnd(6),
      String(shape.keys).padStart(4),
      String(shape.clients).padStart(7),
      `${shape.unknownRate * 100}%`.padStart(7),
      String(Math.max(...ok.partitions.map((p) => p.operations.length))).padStart(7),
      "|",
      cell(ok).padStart(28),
      "|",
      cell(bad),
      "|",
      cell(plain),
      "|",
      ratio.padStart(8),
    ].join(" "),
  );
}
