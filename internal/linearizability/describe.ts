// Turns a CheckResult into text for a test failure or a CI log.

import type { CheckResult } from "./check.ts";
import type { Operation } from "./model.ts";
import type { IllegalReport } from "./report.ts";
import { formatTime, renderTimeline } from "./timeline.ts";

export interface DescribeOptions {
  /** How many illegal partitions to describe in full. Default 3. */
  readonly maxPartitions?: number;
  /** How many operations of the prefix to list before the stuck point. Default 6. */
  readonly prefixTail?: number;
  /** Most rows in a timeline. Default 40. */
  readonly maxTimelineRows?: number;
}

/**
 * Explains a check result: for each illegal partition (key), the end of the longest linearizable
 * prefix and the state it leaves, the completed operation that had to take effect next, what the
 * model says about every operation that could have gone next, and a text timeline of the
 * operations around that point with their clients, call and return times, inputs and outputs. For
 * "ok" and "unknown" results it returns a one-paragraph summary.
 */
export function describeIllegal<S, I, O>(result: CheckResult<S, I, O>, options: DescribeOptions = {}): string {
  const total = result.partitions.reduce((n, p) => n + p.operations.length, 0);
  if (result.result === "ok") {
    return `Linearizable: ${total} operations in ${result.partitions.length} partition(s), checked in ${Math.round(result.elapsedMs)} ms.`;
  }
  if (result.result === "unknown") {
    const open = result.partitions.filter((p) => p.result === "unknown").map((p) => p.label);
    return `Unknown: the time budget ran out after ${Math.round(result.elapsedMs)} ms before ${open.join(", ")} could be decided; no violation was found in the rest.`;
  }
  const max = options.maxPartitions ?? 3;
  const shown = result.illegalPartitions.slice(0, max).map((r) => describeReport(r, options));
  const more = result.illegalPartitions.length - shown.length;
  if (more > 0) shown.push(`... and ${more} more illegal partition(s): ${result.illegalPartitions.slice(max).map((r) => r.partitionLabel).join(", ")}`);
  return shown.join("\n\n");
}

function describeReport<S, I, O>(report: IllegalReport<S, I, O>, options: DescribeOptions): string {
  const prefix = report.longestLinearizablePrefix;
  const position = new Map(prefix.map((op, i) => [op, i + 1]));
  const line = (op: Operation<I, O>) =>
    `client ${op.clientId}  [${formatTime(op.call)}, ${formatTime(op.output === undefined ? Infinity : op.return)}]  ${report.describe(op)}`;

  const out: string[] = [];
  out.push(
    `Not linearizable: ${report.partitionLabel} (partition ${report.partitionIndex + 1} of ${report.partitionCount}, ${report.operations.length} operations).`,
  );
  out.push(
    `The longest linearizable prefix places ${report.completedTotal - report.completedLeft} of ${report.completedTotal} completed operations` +
      (prefix.length > 0 ? ` and leaves the state ${report.stateDescription}.` : `; none fits, from the initial state ${report.stateDescription}.`),
  );
  const tail = prefix.slice(-(options.prefixTail ?? 6));
  if (tail.length > 0) {
    out.push("It ends with, in linearization order:");
    for (const op of tail) out.push(`  #${position.get(op)}  ${line(op)}`);
  }
  out.push(`Then ${line(report.deadline)}`);
  out.push(`  returned at t=${formatTime(report.deadline.return)}, so it or an operation called by then must take effect next, but:`);
  for (const c of report.candidates) {
    const verdict = c.accepted ? `accepted (state becomes ${c.stateAfter}), yet no linearization continues from there` : `rejected in state ${report.stateDescription}`;
    out.push(`  ${line(c.operation)}  — ${verdict}`);
  }

  const rows = timelineOperations(report, tail, options.maxTimelineRows ?? 40);
  out.push("Timeline (#n = position in the prefix; ~ = unknown outcome):");
  out.push(
    renderTimeline(
      rows.map((op) => ({
        label: `c${op.clientId}${position.has(op) ? ` #${position.get(op)}` : ""}`,
        call: op.call,
        return: op.output === undefined ? Infinity : op.return,
        unknown: op.output === undefined,
        text: report.describe(op),
      })),
    )
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  return out.join("\n");
}

/** The end of the prefix, the candidates, and every completed operation overlapping that stretch of time. */
function timelineOperations<S, I, O>(
  report: IllegalReport<S, I, O>,
  tail: readonly Operation<I, O>[],
  maxRows: number,
): Operation<I, O>[] {
  const core = new Set([...tail, ...report.candidates.map((c) => c.operation), report.deadline]);
  const from = Math.min(...[...core].map((op) => op.call));
  const to = report.deadline.return;
  for (const op of report.operations) {
    if (op.output !== undefined && op.call <= to && op.return >= from) core.add(op);
  }
  const rows = [...core].sort((a, b) => a.call - b.call || a.clientId - b.clientId);
  if (rows.length <= maxRows) return rows;
  // Keep the rows nearest the stuck point: the last ones by call time, plus the deadline.
  const kept = rows.slice(-maxRows);
  if (!kept.includes(report.deadline)) kept.splice(0, 1, report.deadline);
  return kept.sort((a, b) => a.call - b.call || a.clientId - b.clientId);
}
