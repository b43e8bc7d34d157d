// Turns what scripts/bench/watch.ts recorded into figures: delivery latencies from each write's
// acknowledgement, missing and duplicate deliveries, and the comparison table.
import type { ClientRecord } from "./watch-protocol.ts";

/** One write as the writer saw it. */
export interface AckedWrite {
  readonly revision: number;
  readonly sentAt: number;
  readonly ackedAt: number;
}

/** One write's fate: when it was sent and acknowledged, when its last watcher got it. */
export interface WriteFate extends AckedWrite {
  readonly reached: number;
  readonly lastArrival: number;
}

export interface Deliveries {
  readonly expected: number;
  readonly received: number;
  /** arrival - ack, every first delivery to every client, sorted. */
  readonly latencies: readonly number[];
  /** arrival at the last client - ack, for each write that reached every client, sorted. */
  readonly toLastClient: readonly number[];
  readonly writesReachingAll: number;
  /** In the order the writes were sent. */
  readonly writes: readonly WriteFate[];
  readonly missing: number;
  readonly duplicates: number;
  /** Events for a revision that no acknowledged write of the run produced. */
  readonly unexpected: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function analyseDeliveries(writes: readonly AckedWrite[], clients: readonly ClientRecord[]): Deliveries {
  const ackedAt = new Map(writes.map((w) => [w.revision, w.ackedAt]));
  const lastArrival = new Map<number, number>();
  const reached = new Map<number, number>();
  const latencies: number[] = [];
  let received = 0;
  let missing = 0;
  let duplicates = 0;
  let unexpected = 0;
  for (const client of clients) {
    const seen = new Set<number>();
    for (const [i, revision] of client.revisions.entries()) {
      received++;
      const ack = ackedAt.get(revision);
      if (ack === undefined) {
        unexpected++;
      } else if (seen.has(revision)) {
        duplicates++;
      } else {
        seen.add(revision);
        const at = client.arrivals[i]!;
        latencies.push(at - ack);
        lastArrival.set(revision, Math.max(lastArrival.get(revision) ?? -Infinity, at));
        reached.set(revision, (reached.get(revision) ?? 0) + 1);
      }
    }
    missing += ackedAt.size - seen.size;
  }
  const fates = [...writes]
    .sort((a, b) => a.sentAt - b.sentAt)
    .map((w) => ({ ...w, reached: reached.get(w.revision) ?? 0, lastArrival: lastArrival.get(w.revision) ?? Number.NaN }));
  const toLastClient = fates.filter((w) => w.reached === clients.length).map((w) => w.lastArrival - w.ackedAt);
  const ascending = (a: number, b: number) => a - b;
  return {
    expected: ackedAt.size * clients.length,
    received,
    latencies: latencies.sort(ascending),
    toLastClient: toLastClient.sort(ascending),
    writesReachingAll: toLastClient.length,
    writes: fates,
    missing,
    duplicates,
    unexpected,
  };
}

export function fmt(n: number): string {
  if (Number.isNaN(n)) return "-";
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2);
}

/** `a / b` as "1.23x"; "-" when it means nothing (no peer, a missing, zero or negative figure). */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || a < 0 || b <= 0) return "-";
  return `${(a / b).toFixed(2)}x`;
}

/** A plain text table, columns padded to their widest cell, first column left-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
