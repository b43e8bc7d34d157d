// Command line for the seeded simulation:
//   bun internal/raft/sim/cli.ts --seeds N --start S --members 3|5 [--verbose] [--history]
// Prints one line per failing seed with a replay command, then a summary; exit 1 on any failure.

import { checkKvHistory } from "./kv-linearizability.ts";
import { runSimulation } from "./simulation.ts";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v)) {
    console.error(`${name} expects an integer`);
    process.exit(2);
  }
  return v;
}

const seeds = arg("--seeds", 100);
const start = arg("--start", 1);
const members = arg("--members", 3);
if (members !== 3 && members !== 5) {
  console.error("--members must be 3 or 5");
  process.exit(2);
}
const verbose = process.argv.includes("--verbose");
const printHistory = process.argv.includes("--history");

const t0 = performance.now();
let failures = 0;
let messages = 0;
let writes = 0;
let inconclusive = 0;
for (let seed = start; seed < start + seeds; seed++) {
  const r = runSimulation({ seed, members, ...(verbose ? { log: (l: string) => console.log(l) } : {}) });
  messages += r.stats.messages;
  writes += r.stats.acknowledgedWrites;
  if (verbose) console.log(`seed ${seed}: ${r.ok ? "ok" : "FAILED"} trace ${r.traceHash} ${JSON.stringify(r.stats)}`);
  if (printHistory) console.log(JSON.stringify(r.history, (_k, v) => (v === Infinity ? "Infinity" : v)));
  const lin = r.ok ? checkKvHistory(r.history) : { ok: true as const };
  if (lin.ok === "inconclusive") inconclusive++;
  const error = r.ok ? (lin.ok === false ? `history not linearizable for key ${lin.key}` : undefined) : r.error;
  if (error !== undefined) {
    failures++;
    console.log(`FAIL seed ${seed} members ${members}: ${error}`);
    console.log(`  replay: bun internal/raft/sim/cli.ts --seeds 1 --start ${seed} --members ${members} --verbose`);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(
  `${seeds} seeds (${start}..${start + seeds - 1}, ${members} members): ${failures} failed, ${messages} messages, ${writes} acknowledged writes, ${inconclusive} linearizability checks inconclusive, ${secs.toFixed(1)}s`,
);
process.exit(failures > 0 ? 1 : 0);
