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
    prefix.length > 0
      ? `The longest linearizable prefix places ${report.completedTotal - report.completedLeft} of ${report.completedTotal} completed operations and leaves the state ${report.stateDescription}.`
      : `No operation can go first: the longest linearizable prefix is empty (initial state ${report.stateDescription}).`,
  );
  const tail = prefix.slice(-(options.prefixTail ?? 6));
  if (tail.length > 0) {
    out.push("It ends with, in linearization order:");
    for (const op of tail) out.push(`  #${position.get(op)}  ${line(op)}`);
  }
  if (report.stranded) {
    out.push(`${prefix.length > 0 ? "After it" : "Already then"}, ${line(report.stranded.operation)}`);
    out.push(`  can never take effect: ${report.stranded.reason}.`);
  } else {
    out.push(`Then ${line(report.deadline)}`);
    out.push(`  returned at t=${formatTime(report.deadline.return)}, so it or an operation called by then must take effect next, but:`);
  }
  const candidates = report.stranded ? [] : report.candidates;
  // Unknown operations stay pending forever, so a long history can offer dozens; list a few.
  const unknowns = candidates.filter((c) => c.operation.output === undefined);
  const listed = unknowns.length > 3 ? candidates.filter((c) => c.operation.output !== undefined) : candidates;
  for (const c of listed) {
    if (!c.accepted) out.push(`  ${line(c.operation)}  — rejected in state ${report.stateDescription}`);
    else if (c.unchanged && c.operation.output === undefined) out.push(`  ${line(c.operation)}  — would change nothing in this state`);
    else if (c.strands) {
      out.push(`  ${line(c.operation)}  — accepted (state becomes ${c.stateAfter}), but then`);
      out.push(`      ${line(c.strands.operation)} can never take effect: ${c.strands.reason}`);
    } else out.push(`  ${line(c.operation)}  — accepted (state becomes ${c.stateAfter}), yet no linearization continues from there`);
  }
  if (listed.length < candidates.length) {
    const calls = unknowns.map((c) => c.operation.call);
    const idle = unknowns.filter((c) => c.unchanged).length;
    out.push(
      `  and ${unknowns.length} operations with unknown outcome, called between t=${formatTime(Math.min(...calls))} and t=${formatTime(Math.max(...calls))}` +
        `: none of them leads anywhere either${idle > 0 ? ` (${idle} would change nothing)` : ""}.`,
    );
  }

  const { rows, from, to } = timelineWindow(report, tail, options.maxTimelineRows ?? 40);
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
      { from, to },
    )
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  return out.join("\n");
}

/**
 * The rows and time window of the timeline: the end of the prefix, the operation that is stuck
 * (the deadline, or the stranded operation), the completed candidates and the operations that
 * overlap that stretch of time. Unknown operations called long before only widen the window if
 * there are few of them.
 */
function timelineWindow<S, I, O>(
  report: IllegalReport<S, I, O>,
  tail: readonly Operation<I, O>[],
  maxRows: number,
): { rows: Operation<I, O>[]; from: number; to: number } {
  const stuck = report.stranded ? [report.stranded.operation] : [report.deadline];
  const fewUnknowns = unknownCount(report) <= 3;
  const candidates = report.stranded
    ? []
    : report.candidates
        .filter((c) => c.operation.output !== undefined || fewUnknowns)
        .flatMap((c) => (c.strands ? [c.operation, c.strands.operation] : [c.operation]));
  const core = new Set([...tail, ...stuck, ...candidates]);
  const known = [...core].filter((op) => op.output !== undefined);
  const from = Math.min(...(known.length > 0 ? known : [...core]).map((op) => op.call));
  const to = Math.max(...[...core].map((op) => (op.output === undefined ? op.call : op.return)));
  for (const op of report.operations) {
    if (op.output !== undefined && op.call <= to && op.return >= from) core.add(op);
  }
  let rows = [...core].sort((a, b) => a.call - b.call || a.clientId - b.clientId);
  if (rows.length > maxRows) {
    // Keep the rows nearest the stuck point: the last ones by call time, plus the stuck operation.
    rows = rows.slice(-maxRows);
    for (const op of stuck) if (!rows.includes(op)) rows.splice(0, 1, op);
    rows.sort((a, b) => a.call - b.call || a.clientId - b.clientId);
  }
  return { rows, from: Math.min(from, ...rows.filter((op) => op.output !== undefined).map((op) => op.call)), to };
}

function unknownCount<S, I, O>(report: IllegalReport<S, I, O>): number {
  return report.candidates.filter((c) => c.operation.output === undefined).length;
}
