// The sequential specification of the control plane's key-value store as our simulation and HTTP
// tests record it: get, put, compare-and-set on the value, delete; one register per key.

import { InvalidHistoryError } from "./errors.ts";
import type { Lookahead, Model, Operation, StepResult } from "./model.ts";

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

// States only ever hold strings of their own, and nothing Object.prototype holds is a string, so
// the type test also rules out inherited names such as "constructor".
const valueOf = (state: KvState, key: string): string | null => {
  const value = state[key];
  return typeof value === "string" ? value : null;
};

function withValue(state: KvState, key: string, value: string): KvState {
  return valueOf(state, key) === value ? state : { ...state, [key]: value };
}

function without(state: KvState, key: string): KvState {
  if (valueOf(state, key) === null) return state;
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
    if (a === b) return true;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => valueOf(b, k) === a[k]);
  },

  hash(state: KvState): string {
    // Length-prefixed, so distinct states never share a hash.
    const keys = Object.keys(state);
    if (keys.length > 1) keys.sort();
    let out = "";
    for (const k of keys) out += `${k.length}:${k}${(state[k] as string).length}:${state[k]}`;
    return out;
  },

  canonicalize(operations: readonly KvOperation[]): KvOperation[] {
    // A value nobody reads or expects is only ever compared as "not the one expected", so any
    // other unobserved value would do; giving them all one placeholder makes such writes equal.
    const observed = new Set<string>();
    for (const op of operations) {
      if (op.input.kind === "cas" && op.input.expected !== null) observed.add(op.input.expected);
      if (op.input.kind === "get" && op.output !== undefined && (op.output as KvGetOutput).value !== null) observed.add((op.output as KvGetOutput).value as string);
    }
    let placeholder = "\u0000unobserved";
    while (operations.some((op) => (op.input.kind === "put" || op.input.kind === "cas") && op.input.value === placeholder)) placeholder += "\u0000";
    return operations.map((op) =>
      (op.input.kind === "put" || op.input.kind === "cas") && !observed.has(op.input.value) ? { ...op, input: { ...op.input, value: placeholder } } : op,
    );
  },

  lookahead: (operations: readonly KvOperation[]) => new OrphanedReads(operations),

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

/**
 * The key-value model's dead-end test. A completed get of v, or a successful swap expecting v,
 * needs the key to hold v when it takes effect, which is before it returns. Take the pending such
 * reader of (key, v) that returns first: if no operation that could write v to the key (a put or
 * swap of v, a delete for absent) is left that was called before that return, then v can come back
 * only after the reader must have taken effect, so unless the key holds v now, the configuration is
 * a dead end. Readers (by return) and writers (by call) are kept per (key, value) class with a
 * pointer to the first one not placed; the search places and takes back in stack order, so the
 * pointers move little.
 */
class OrphanedReads implements Lookahead<KvState> {
  readonly #operations: readonly KvOperation[];
  readonly #placed: Uint8Array;
  /** Per operation: the class it needs as current, or -1, and its position among that class's readers. */
  readonly #reads: Int32Array;
  readonly #readPosition: Int32Array;
  /** Per operation: the class it may write, or -1, and its position among that class's writers. */
  readonly #writes: Int32Array;
  readonly #writePosition: Int32Array;
  readonly #readers: number[][] = [];
  readonly #writers: number[][] = [];
  readonly #firstReader: number[] = [];
  readonly #firstWriter: number[] = [];
  readonly #key: string[] = [];
  readonly #value: (string | null)[] = [];
  /** Classes whose first pending reader has no writer left that was called before it returned. */
  readonly #orphans = new Set<number>();

  constructor(operations: readonly KvOperation[]) {
    this.#operations = operations;
    const n = operations.length;
    this.#placed = new Uint8Array(n);
    this.#reads = new Int32Array(n).fill(-1);
    this.#readPosition = new Int32Array(n);
    this.#writes = new Int32Array(n).fill(-1);
    this.#writePosition = new Int32Array(n);
    const ids = new Map<string, number>();
    const classOf = (key: string, value: string | null) => {
      const name = JSON.stringify([key, value]);
      let id = ids.get(name);
      if (id === undefined) {
        ids.set(name, (id = ids.size));
        this.#key.push(key);
        this.#value.push(value);
        this.#readers.push([]);
        this.#writers.push([]);
        this.#firstReader.push(0);
        this.#firstWriter.push(0);
      }
      return id;
    };
    operations.forEach(({ input, output }, i) => {
      if (input.kind === "get" && output !== undefined) this.#reads[i] = classOf(input.key, (output as KvGetOutput).value);
      if (input.kind === "cas" && output !== undefined && (output as KvCasOutput).ok) this.#reads[i] = classOf(input.key, input.expected);
      if (input.kind === "put") this.#writes[i] = classOf(input.key, input.value);
      if (input.kind === "cas" && (output === undefined || (output as KvCasOutput).ok)) this.#writes[i] = classOf(input.key, input.value);
      if (input.kind === "delete") this.#writes[i] = classOf(input.key, null);
    });
    operations.forEach((_, i) => {
      if (this.#reads[i]! >= 0) this.#readers[this.#reads[i]!]!.push(i);
      if (this.#writes[i]! >= 0) this.#writers[this.#writes[i]!]!.push(i);
    });
    const at = (i: number) => operations[i] as KvOperation;
    for (let c = 0; c < ids.size; c++) {
      const readers = (this.#readers[c] as number[]).sort((a, b) => at(a).return - at(b).return || a - b);
      const writers = (this.#writers[c] as number[]).sort((a, b) => at(a).call - at(b).call || a - b);
      readers.forEach((op, p) => (this.#readPosition[op] = p));
      writers.forEach((op, p) => (this.#writePosition[op] = p));
      // A read of absent with no delete before it is orphaned from the start, which is right:
      // the key is absent only until it is first written.
      this.#update(c);
    }
  }

  place(i: number): void {
    this.#placed[i] = 1;
    const r = this.#reads[i] as number;
    const w = this.#writes[i] as number;
    if (r >= 0) this.#advance(this.#readers[r] as number[], this.#firstReader, r);
    if (w >= 0) this.#advance(this.#writers[w] as number[], this.#firstWriter, w);
  }

  unplace(i: number): void {
    this.#placed[i] = 0;
    const r = this.#reads[i] as number;
    const w = this.#writes[i] as number;
    if (r >= 0 && (this.#readPosition[i] as number) < (this.#firstReader[r] as number)) {
      this.#firstReader[r] = this.#readPosition[i] as number;
      this.#update(r);
    }
    if (w >= 0 && (this.#writePosition[i] as number) < (this.#firstWriter[w] as number)) {
      this.#firstWriter[w] = this.#writePosition[i] as number;
      this.#update(w);
    }
  }

  viable(state: KvState): boolean {
    for (const c of this.#orphans) if (valueOf(state, this.#key[c] as string) !== this.#value[c]) return false;
    return true;
  }

  explain(state: KvState): { index: number; reason: string } | undefined {
    for (const c of this.#orphans) {
      const key = this.#key[c] as string;
      const value = this.#value[c] as string | null;
      if (valueOf(state, key) === value) continue;
      const index = (this.#readers[c] as number[])[this.#firstReader[c] as number] as number;
      const writers = this.#writers[c] as number[];
      const what = value === null ? `${JSON.stringify(key)} absent` : `${JSON.stringify(value)} in ${JSON.stringify(key)}`;
      const verb = value === null ? "deletes" : "writes";
      const why =
        writers.length === 0
          ? `no operation ${verb} it`
          : (this.#firstWriter[c] as number) >= writers.length
            ? `nothing left ${verb} it`
            : `nothing that ${verb} it is left that was called before t=${(this.#operations[index] as KvOperation).return}`;
      return { index, reason: `it needs ${what}, which is not current, and ${why}` };
    }
    return undefined;
  }

  #advance(list: number[], first: number[], c: number): void {
    let p = first[c] as number;
    while (p < list.length && this.#placed[list[p] as number]) p++;
    if (p !== first[c]) {
      first[c] = p;
      this.#update(c);
    }
  }

  #update(c: number): void {
    const readers = this.#readers[c] as number[];
    const writers = this.#writers[c] as number[];
    const r = this.#firstReader[c] as number;
    const w = this.#firstWriter[c] as number;
    const orphaned =
      r < readers.length &&
      (w >= writers.length || (this.#operations[writers[w] as number] as KvOperation).call > (this.#operations[readers[r] as number] as KvOperation).return);
    if (orphaned) this.#orphans.add(c);
    else this.#orphans.delete(c);
  }
}
