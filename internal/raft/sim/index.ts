// The simulator's surface: run a seed, check its history, and the history's shape for the
// linearizability checker in internal/linearizability.

export type { HistoryOperation, KvInput, KvOutput } from "./history.ts";
export { type CheckResult, checkKvHistory } from "./kv-linearizability.ts";
export { runSimulation, type SimOptions, type SimResult, type SimStats } from "./simulation.ts";
