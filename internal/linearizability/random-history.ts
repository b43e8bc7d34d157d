// Seeded random key-value histories for the property tests and the benchmark. A history comes
// from a real sequential execution: each operation gets a linearization point inside its
// interval, the operations are applied to a map in that order, and the outputs are what the map
// answered, so the history is linearizable by construction. Unknown outcomes take effect at a
// random later point, or never.

import type { KvInput, KvOperation, KvOutput } from "./kv-model.ts";
import { Prng } from "./prng.ts";

export interface HistoryShape {
  readonly clients: number;
  readonly operations: number;
  readonly keys: number;
  /** Fraction of operations whose outcome is unknown. */
  readonly unknownRate: number;
  /** Longest operation duration, in time units. Default 10. */
  readonly maxDuration?: number;
}

interface Planned {
  readonly op: KvOperation;
  /** When it takes effect; Infinity for never. */
  readonly at: number;
}

/** A linearizable history of `shape.operations` operations, deterministic in `seed`. */
export function randomKvHistory(seed: number, shape: HistoryShape): KvOperation[] {
  const rng = new Prng(seed);
  const maxDuration = shape.maxDuration ?? 10;
  const free = new Array<number>(shape.clients).fill(0);
  const written = new Map<string, string[]>();
  let counter = 0;
  const planned: Planned[] = [];

  for (let n = 0; n < shape.operations; n++) {
    // The client that has been idle longest goes next, so time advances for everyone.
    let client = rng.int(shape.clients);
    for (let c = 0; c < shape.clients; c++) if ((free[c] as number) < (free[client] as number)) client = c;
    const call = (free[client] as number) + rng.int(3);
    const duration = 1 + rng.int(maxDuration);
    const key = `k${rng.int(shape.keys)}`;
    const input = randomInput(rng, key, written, () => `v${++counter}`);
    if (input.kind === "put" || input.kind === "cas") {
      const values = written.get(key) ?? [];
      values.push(input.value);
      written.set(key, values);
    }
    free[client] = call + duration;
    if (rng.chance(shape.unknownRate)) {
      // The client gives up at call + duration; the request may still land much later.
      const at = rng.chance(0.5) ? call + rng.next() * duration * 6 + 1e-3 : Infinity;
      planned.push({ op: { clientId: client, input, call, output: undefined, return: Infinity }, at });
    } else {
      const at = call + (0.01 + 0.98 * rng.next()) * duration;
      planned.push({ op: { clientId: client, input, call, output: {}, return: call + duration }, at });
    }
  }

  const store = new Map<string, string>();
  const outputs = new Map<KvOperation, KvOutput>();
  for (const { op } of [...planned].filter((p) => p.at !== Infinity).sort((a, b) => a.at - b.at)) {
    const out = apply(store, op.input);
    if (op.output !== undefined) outputs.set(op, out);
  }
  return planned.map(({ op }) => (op.output === undefined ? op : { ...op, output: outputs.get(op) as KvOutput }));
}

function randomInput(rng: Prng, key: string, written: Map<string, string[]>, fresh: () => string): KvInput {
  const roll = rng.next();
  if (roll < 0.4) return { kind: "get", key };
  if (roll < 0.7) return { kind: "put", key, value: fresh() };
  if (roll < 0.9) {
    // Mostly expect a recent value so that some swaps succeed.
    const values = written.get(key) ?? [];
    const recent = values.slice(-3);
    const expected = recent.length === 0 || rng.chance(0.15) ? null : rng.pick(recent);
    return { kind: "cas", key, expected, value: fresh() };
  }
  return { kind: "delete", key };
}

function apply(store: Map<string, string>, input: KvInput): KvOutput {
  switch (input.kind) {
    case "get":
      return { value: store.get(input.key) ?? null };
    case "put":
      store.set(input.key, input.value);
      return {};
    case "delete":
      store.delete(input.key);
      return {};
    case "cas": {
      const ok = (store.get(input.key) ?? null) === input.expected;
      if (ok) store.set(input.key, input.value);
      return { ok };
    }
  }
}

/**
 * The history with one completed get or cas given a different output: a get reads another value
 * of its key (or absent, or one never written), a cas reports the opposite outcome. Undefined when
 * there is no completed get or cas.
 */
export function mutateOutput(seed: number, history: readonly KvOperation[]): { history: KvOperation[]; index: number } | undefined {
  const rng = new Prng(seed ^ 0x9e3779b9);
  const targets = history.flatMap((op, i) => (op.output !== undefined && (op.input.kind === "get" || op.input.kind === "cas") ? [i] : []));
  if (targets.length === 0) return undefined;
  const index = rng.pick(targets);
  const op = history[index] as KvOperation;
  let output: KvOutput;
  if (op.input.kind === "cas") {
    output = { ok: !(op.output as { ok: boolean }).ok };
  } else {
    const current = (op.output as { value: string | null }).value;
    const key = op.input.key;
    const values = history.flatMap((o) => (o.input.key === key && (o.input.kind === "put" || o.input.kind === "cas") ? [o.input.value] : []));
    const choices = [null, "never-written", ...values].filter((v) => v !== current);
    output = { value: rng.pick(choices) };
  }
  const mutated = history.slice();
  mutated[index] = { ...op, output };
  return { history: mutated, index };
}

/**
 * A history with random intervals and random outputs over two values, many of them unknown: mostly
 * not linearizable, and full of shapes a real execution rarely produces (repeated values,
 * unknown writes that could explain a read in several ways).
 */
export function randomGarbageHistory(seed: number, operations: number, keys: number, unknownRate = 0.35): KvOperation[] {
  const rng = new Prng(seed);
  const values = ["a", "b"];
  const history: KvOperation[] = [];
  for (let n = 0; n < operations; n++) {
    const key = `k${rng.int(keys)}`;
    const call = rng.int(10);
    const unknown = rng.chance(unknownRate);
    const ret = unknown ? Infinity : call + rng.int(6);
    const roll = rng.next();
    let input: KvInput;
    let output: KvOutput;
    if (roll < 0.35) {
      input = { kind: "get", key };
      output = { value: rng.chance(0.2) ? null : rng.pick(values) };
    } else if (roll < 0.7) {
      input = { kind: "put", key, value: rng.pick(values) };
      output = {};
    } else if (roll < 0.9) {
      input = { kind: "cas", key, expected: rng.chance(0.3) ? null : rng.pick(values), value: rng.pick(values) };
      output = { ok: rng.chance(0.5) };
    } else {
      input = { kind: "delete", key };
      output = {};
    }
    history.push({ clientId: n, input, call, output: unknown ? undefined : output, return: ret });
  }
  return history;
}
