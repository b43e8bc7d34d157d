// The value types policy documents are built from. Every schema here carries its own sentence
// for every way it can fail, so a refused document is explained in the operator's terms, never
// in the validator's ("expected a whole number of milliseconds from 1 to 3600000, got -5").
import { z } from "zod";

/** A value as an operator would write it, for "got ..." in messages. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

/**
 * A strict object: a field it does not know is refused, and the message lists the ones it does.
 * `what` is used when the value is not an object at all.
 */
export function section<S extends z.ZodRawShape>(shape: S, what = "an object") {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `unknown field; expected one of ${known}` : `expected ${what}, got ${show(issue.input)}`,
  });
}

/** An integer within [min, max]. `noun` reads as "expected <noun> from min to max". */
export function integer(min: number, max: number, noun = "an integer") {
  const expected = (issue: { input?: unknown }) => `expected ${noun} from ${min} to ${max}, got ${show(issue.input)}`;
  return z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
}

/** A duration in whole milliseconds within [min, max]. */
export function milliseconds(min: number, max: number) {
  return integer(min, max, "a whole number of milliseconds");
}

/** A number within [min, max], fractions allowed. */
export function decimal(min: number, max: number, noun = "a number") {
  const expected = (issue: { input?: unknown }) => `expected ${noun} from ${min} to ${max}, got ${show(issue.input)}`;
  return z.number({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
}

export function boolean() {
  return z.boolean({ error: (issue) => `expected true or false, got ${show(issue.input)}` });
}

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (issue) => `expected one of ${values.join(", ")}, got ${show(issue.input)}` });
}

const DOMAIN = /^[a-z0-9][a-z0-9_.-]*$/;

/** A business domain name: lower-case letters, digits, '-', '_' and '.', starting with a letter or digit. */
export function domainName() {
  const expected = (issue: { input?: unknown }) =>
    `expected a domain name (lower-case letters, digits, '-', '_', '.'), got ${show(issue.input)}`;
  return z.string({ error: expected }).max(253, { error: expected }).regex(DOMAIN, { error: expected });
}

export interface ListOptions<T> {
  /** Singular noun for messages: "status code", "method". */
  readonly noun: string;
  /** An empty list means something (e.g. "no status code"); otherwise it is refused. */
  readonly allowEmpty?: boolean;
  /** What omitting the field means, suggested when an empty list is refused. */
  readonly omitMeans?: string;
  readonly max?: number;
  /** Entries equal under this key are duplicates; defaults to the entry itself. */
  readonly key?: (item: T) => unknown;
  /** A wildcard entry that must stand alone, such as "*". */
  readonly wildcard?: T;
}

/**
 * A list whose entries must be distinct: a repeated entry is refused at its own index. Empty
 * lists are refused unless `allowEmpty`, since an empty "who" or "which" list is almost always
 * a mistake for leaving the field out.
 */
export function uniqueList<T extends z.ZodType>(item: T, options: ListOptions<z.output<T>>) {
  const max = options.max ?? 1024;
  const key = options.key ?? ((entry: z.output<T>) => entry);
  return z
    .array(item, { error: (issue) => `expected a list of ${options.noun}s, got ${show(issue.input)}` })
    .max(max, { error: `expected at most ${max} ${options.noun}s` })
    .superRefine((items, ctx) => {
      if (items.length === 0 && options.allowEmpty !== true) {
        const hint = options.omitMeans === undefined ? "" : `; leave the field out to ${options.omitMeans}`;
        ctx.addIssue({ code: "custom", message: `expected at least one ${options.noun}${hint}`, input: items });
        return;
      }
      const seen = new Map<unknown, number>();
      items.forEach((entry, index) => {
        const k = key(entry);
        const first = seen.get(k);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [index],
            message: `${show(entry)} is listed twice (first at [${first}])`,
            input: entry,
          });
        } else {
          seen.set(k, index);
        }
      });
      if (options.wildcard !== undefined && items.length > 1) {
        const at = items.indexOf(options.wildcard);
        if (at >= 0) {
          ctx.addIssue({
            code: "custom",
            path: [at],
            message: `${show(options.wildcard)} already matches every ${options.noun}; list nothing beside it`,
            input: options.wildcard,
          });
        }
      }
    });
}

/** A JSON value: what a static fallback body may be. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Any JSON value (null, boolean, finite number, string, list, plain object), at most `maxBytes`
 * once serialised. YAML documents can hold things JSON cannot; those are refused at their path.
 */
export function jsonValue(maxBytes: number) {
  return z.unknown().superRefine((value, ctx) => {
    const bad = findNonJson(value, []);
    if (bad !== undefined) {
      ctx.addIssue({ code: "custom", path: bad.path, message: `expected a JSON value, got ${bad.what}`, input: value });
      return;
    }
    const size = new TextEncoder().encode(JSON.stringify(value)).length;
    if (size > maxBytes) {
      ctx.addIssue({ code: "custom", message: `is ${size} bytes as JSON; at most ${maxBytes} are allowed`, input: value });
    }
  }).transform((value) => value as JsonValue);
}

function findNonJson(value: unknown, path: (string | number)[]): { path: (string | number)[]; what: string } | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path, what: String(value) };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findNonJson(value[i], [...path, i]);
      if (bad) return bad;
    }
    return undefined;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return { path, what: `a ${proto?.constructor?.name ?? "non-plain"} object` };
    for (const [key, entry] of Object.entries(value)) {
      const bad = findNonJson(entry, [...path, key]);
      if (bad) return bad;
    }
    return undefined;
  }
  return { path, what: typeof value === "undefined" ? "undefined" : `a ${typeof value}` };
}
