// How nagentctl prints: aligned tables for people, one JSON document for scripts.
import type { CtlContext } from "./context.ts";

/** Columns padded to their widest cell, two spaces apart, headers in capitals. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

/** Prints one JSON document. */
export function printJson(ctx: CtlContext, value: unknown): void {
  ctx.io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints `value` as JSON with -o json, else the text. */
export function emit(ctx: CtlContext, value: unknown, text: () => string): void {
  if (ctx.json) printJson(ctx, value);
  else ctx.io.out(text());
}

/** A JSON value on one line, cut to `max` characters. */
export function compactJson(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** "4s ago", "3m ago", "2h ago", "5d ago"; "never" for null. */
export function formatAge(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

/** A duration in seconds, as people read it: "90s", "15m", "2h", "30d". */
export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

export const dash = (value: number | string | null | undefined): string => (value === null || value === undefined ? "-" : String(value));
