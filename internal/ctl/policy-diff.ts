// A field-level diff of two JSON values, for `nagentctl policy apply`: each changed leaf with its
// path (retry.maxAttempts, rules[0].roles[1]) and its old and new value.

export interface FieldChange {
  readonly path: string;
  readonly op: "add" | "remove" | "change";
  readonly before?: unknown;
  readonly after?: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return Array.isArray(value) ? value.length > 0 : isObject(value) && Object.keys(value).length > 0;
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function entries(value: Record<string, unknown> | unknown[]): [string | number, unknown][] {
  return Array.isArray(value) ? value.map((item, i) => [i, item]) : Object.entries(value);
}

/** Every leaf of a value as one change (a whole subtree added or removed). */
function leaves(value: unknown, path: string, op: "add" | "remove", out: FieldChange[]): void {
  if (isContainer(value)) {
    for (const [key, item] of entries(value)) leaves(item, join(path, key), op, out);
    return;
  }
  out.push(op === "add" ? { path, op, after: value } : { path, op, before: value });
}

/** Deep equality of JSON values (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && jsonEqual(a[key], b[key]));
  }
  return false;
}

/** The changes that turn `before` into `after`; `before` undefined means everything is new. */
export function diffValues(before: unknown, after: unknown, path = ""): FieldChange[] {
  const out: FieldChange[] = [];
  walk(before, after, path, out);
  return out;
}

function walk(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (jsonEqual(before, after)) return;
  if (before === undefined) return leaves(after, path, "add", out);
  if (after === undefined) return leaves(before, path, "remove", out);
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(after)) walk(before[key], after[key], join(path, key), out);
    for (const key of Object.keys(before)) if (!(key in after)) walk(before[key], undefined, join(path, key), out);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) walk(before[i], after[i], join(path, i), out);
    return;
  }
  out.push({ path, op: "change", before, after });
}

/** One line per change: `+ path: new`, `- path: old`, `~ path: old → new`. */
export function renderChanges(changes: readonly FieldChange[], indent = "  "): string {
  const show = (value: unknown) => JSON.stringify(value as Json);
  return changes
    .map((change) => {
      const path = change.path === "" ? "(whole spec)" : change.path;
      if (change.op === "add") return `${indent}+ ${path}: ${show(change.after)}`;
      if (change.op === "remove") return `${indent}- ${path}: ${show(change.before)}`;
      return `${indent}~ ${path}: ${show(change.before)} → ${show(change.after)}`;
    })
    .map((line) => `${line}\n`)
    .join("");
}
