// Linearizability checking of recorded histories against a sequential model, in the manner of
// Porcupine: Wing & Gong's search with Lowe's memoization, partitioned by key.
//
//   const result = checkOperations(kvModel, history, { timeoutMs: 10_000 });
//   if (result.result !== "ok") throw new Error(describeIllegal(result));
//
// "unknown" means the time budget ran out: neither a pass nor a failure.
export { checkOperations, type CheckOptions, type CheckResult, type PartitionResult, type Verdict } from "./check.ts";
export { describeIllegal, type DescribeOptions } from "./describe.ts";
export { InvalidHistoryError } from "./errors.ts";
export {
  kvModel,
  type KvAckOutput,
  type KvCasOutput,
  type KvGetOutput,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type KvState,
} from "./kv-model.ts";
export type { Lookahead, Model, Operation, StepResult } from "./model.ts";
export type { CandidateVerdict, IllegalReport } from "./report.ts";
export { formatTime, renderTimeline, type TimelineOptions, type TimelineRow } from "./timeline.ts";
