// The sequential specification of the control plane's key-value store as our simulation and HTTP
// tests record it: get, put, compare-and-set on the value, delete; one register per key.

import { InvalidHistoryError } from "./errors.ts";
import type { Model, Operation, StepResult } from "./model.ts";

export type KvInput =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "put"; readonly key: string; readonly value: string }
  /** Succeeds iff the current value equals `expected`; null means the key must be absent. */
  | { readonly kind: "cas"; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly kind: "delete"; readonly key: string };

/** get: the value read, null when the key is absent. */
export interface KvGetOutput {
  readonly value: string | null;
}
/** cas: whether the write happened. */
export interface KvCasOutput {
  readonly ok: boolean;
}
/** put and delete: an acknowledgement, `{}`. */
export type KvAckOutput = Readonly<Record<string, never>>;
export type KvOutput = KvGetOutput | KvCasOutput | KvAckOutput;

/** Key → value; absent keys have no property. Never mutated: every write makes a new object. */
export type KvState = Readonly<Record<string, string>>;
export type KvOperation = Operation<KvInput, KvOutput>;

const valueOf = (state: KvState, key: string): string | null => (Object.hasOwn(state, key) ? (state[key] as string) : null);

function withValue(state: KvState, key: string, value: string): KvState {
  return valueOf(state, key) === value ? state : { ...state, [key]: value };
}

function without(state: KvState, key: string): KvState {
  if (!Object.hasOwn(state, key)) return state;
  const { [key]: _removed, ...rest } = state;
  return rest;
}

const show = (v: string | null) => (v === null ? "absent" : JSON.stringify(v));

/**
 * The key-value model: a map of independent registers, partitioned by key. Written values are
 * unique per write in our histories, so comparing values stands in for comparing revisions. Its
 * partition function also validates outputs against their inputs (a get answered with `{}` is a
 * recording bug) and throws InvalidHistoryError.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => ({}),

  step(state: KvState, input: KvInput, output: KvOutput | undefined): StepResult<KvState> {
    switch (input.kind) {
      case "get":
        return { ok: output === undefined || (output as KvGetOutput).value === valueOf(state, input.key), state };
      case "put":
        return { ok: true, state: withValue(state, input.key, input.value) };
      case "delete":
        return { ok: true, state: without(state, input.key) };
      case "cas": {
        const matches = valueOf(state, input.key) === input.expected;
        if (output !== undefined && (output as KvCasOutput).ok !== matches) return { ok: false, state };
        return { ok: true, state: matches ? withValue(state, input.key, input.value) : state };
      }
    }
  },

  partition(history: readonly KvOperation[]): KvOperation[][] {
    const byKey = new Map<string, KvOperation[]>();
    history.forEach((op, i) => {
      validateKvOperation(op, i);
      let ops = byKey.get(op.input.key);
      if (!ops) byKey.set(op.input.key, (ops = []));
      ops.push(op);
    });
    return [...byKey.values()];
  },

  equal(a: KvState, b: KvState): boolean {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
  },

  hash(state: KvState): string {
    const keys = Object.keys(state);
    if (keys.length === 0) return "";
    if (keys.length === 1) return JSON.stringify([keys[0], state[keys[0] as string]]);
    return JSON.stringify(keys.sort().map((k) => [k, state[k]]));
  },

  isReadOnly(input: KvInput, output: KvOutput | undefined): boolean {
    return input.kind === "get" || (input.kind === "cas" && output !== undefined && (output as KvCasOutput).ok === false);
  },

  describeOperation(input: KvInput, output: KvOutput | undefined): string {
    const key = JSON.stringify(input.key);
    const unknown = output === undefined;
    switch (input.kind) {
      case "get":
        return `get(${key}) → ${unknown ? "? (outcome unknown)" : show((output as KvGetOutput).value)}`;
      case "put":
        return `put(${key}, ${JSON.stringify(input.value)})${unknown ? " → ? (outcome unknown)" : ""}`;
      case "delete":
        return `delete(${key})${unknown ? " → ? (outcome unknown)" : ""}`;
      case "cas":
        return `cas(${key}, ${show(input.expected)} → ${JSON.stringify(input.value)}) → ${
          unknown ? "? (outcome unknown)" : (output as KvCasOutput).ok ? "ok" : "failed"
        }`;
    }
  },

  describePartition(operations: readonly KvOperation[]): string {
    const first = operations[0];
    return first ? `key ${JSON.stringify(first.input.key)}` : "no key";
  },

  describeState(state: KvState): string {
    const keys = Object.keys(state).sort();
    if (keys.length === 0) return "{} (no keys)";
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(state[k])}`).join(", ")}}`;
  },
};

function validateKvOperation(op: KvOperation, index: number): void {
  const input = op.input as Partial<Record<string, unknown>> | undefined;
  if (typeof input !== "object" || input === null || typeof input.key !== "string") {
    throw new InvalidHistoryError(index, `input ${JSON.stringify(op.input)} has no string key`);
  }
  const out = op.output as Partial<Record<string, unknown>> | undefined;
  const bad = (expected: string) =>
    new InvalidHistoryError(index, `${String(input.kind)} on ${JSON.stringify(input.key)} answered ${JSON.stringify(op.output)}; expected ${expected}`);
  switch (input.kind) {
    case "get":
      if (out !== undefined && (typeof out !== "object" || out === null || !(typeof out.value === "string" || out.value === null))) {
        throw bad("{ value: string | null }");
      }
      return;
    case "put":
      if (typeof input.value !== "string") throw new InvalidHistoryError(index, "put without a string value");
      if (out !== undefined && (typeof out !== "object" || out === null)) throw bad("{}");
      return;
    case "delete":
      if (out !== undefined && (typeof out !== "object" || out === null)) throw bad("{}");
      return;
    case "cas":
      if (typeof input.value !== "string" || !(typeof input.expected === "string" || input.expected === null)) {
        throw new InvalidHistoryError(index, "cas needs a string value and a string or null expected value");
      }
      if (out !== undefined && (typeof out !== "object" || out === null || typeof out.ok !== "boolean")) throw bad("{ ok: boolean }");
      return;
    default:
      throw new InvalidHistoryError(index, `unknown operation kind ${JSON.stringify(input.kind)}`);
  }
}
