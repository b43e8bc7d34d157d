// A plain-text timeline: one row per operation, its interval drawn to scale, so that a CI log
// shows which operations overlapped without any tooling.

export interface TimelineRow {
  /** Left column, e.g. the client. */
  readonly label: string;
  readonly call: number;
  /** Infinity (or anything past the window) draws an open interval. */
  readonly return: number;
  /** `true` draws the interval with `~` to mark an unknown outcome. */
  readonly unknown?: boolean;
  /** Right column, e.g. the operation. */
  readonly text: string;
}

export interface TimelineOptions {
  /** Columns for the bars. Default 48. */
  readonly width?: number;
  /** Window start; intervals that begin earlier are drawn from the left edge with `<`. Default: the earliest call. */
  readonly from?: number;
  /** Window end. Default: the latest finite return (or call). */
  readonly to?: number;
}

/**
 * Renders rows as `label |  [====]   | text`, scaled so that the earliest call is the first
 * column and the latest finite return the last. `[` is the call, `]` the return, `|` both in one
 * column, `<` an interval that began before the window, `>` one still open at the right edge,
 * `~` an unknown outcome.
 */
export function renderTimeline(rows: readonly TimelineRow[], options: TimelineOptions = {}): string {
  const width = Math.max(8, options.width ?? 48);
  if (rows.length === 0) return "";
  const t0 = options.from ?? Math.min(...rows.map((r) => r.call));
  const finiteEnds = rows.map((r) => r.return).filter((t) => Number.isFinite(t));
  const t1 = Math.max(t0, options.to ?? Math.max(...finiteEnds, ...rows.map((r) => r.call)));
  const col = (t: number) => (t1 === t0 ? 0 : Math.round(((t - t0) / (t1 - t0)) * (width - 1)));
  const labelWidth = Math.max(...rows.map((r) => r.label.length));

  const lines = rows.map((r) => {
    const bar = new Array<string>(width).fill(" ");
    const early = r.call < t0;
    const a = early ? 0 : col(Math.min(r.call, t1));
    const open = !Number.isFinite(r.return) || r.return > t1;
    const b = open ? width - 1 : col(r.return);
    const fill = r.unknown ? "~" : "=";
    for (let i = a + 1; i < b; i++) bar[i] = fill;
    if (open) {
      bar[a] = early ? "<" : "[";
      bar[width - 1] = ">";
    } else if (a === b) {
      bar[a] = early ? "<" : "|";
    } else {
      bar[a] = early ? "<" : "[";
      bar[b] = "]";
    }
    return `${r.label.padEnd(labelWidth)} |${bar.join("")}| ${r.text}`;
  });
  const axis = `${" ".repeat(labelWidth)}  t=${formatTime(t0)}`.padEnd(labelWidth + 2 + width) + `t=${formatTime(t1)}`;
  return [axis, ...lines].join("\n");
}

/** A time for humans: `?` for an unknown return. */
export function formatTime(t: number): string {
  return Number.isFinite(t) ? String(Math.round(t * 1000) / 1000) : "?";
}
