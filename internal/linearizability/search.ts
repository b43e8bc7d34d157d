// The search for one partition: Wing & Gong's backtracking over "which pending operation takes
// effect next", with Lowe's memo table of visited (linearized set, state) configurations, in the
// manner of Porcupine. Calls and returns of completed operations sit in one doubly linked list in
// time order; the operations that may go next are the calls ahead of the first return left in
// it. Linearizing an operation lifts its call and return out of the list, backtracking puts them
// back, so both are O(1).
//
// Three refinements keep unknown outcomes and concurrent reads from blowing the search up; each
// only skips configurations that cannot succeed unless a configuration that is explored anyway
// succeeds too, so they never change a verdict:
// - Unknown operations have no return event: nothing forces them to take effect, and the search
//   succeeds once every completed operation is placed. A configuration is skipped when one with
//   the same completed set and state, and a subset of its unknown operations, was visited:
//   having more optional operations still available can only help.
// - An operation about to be placed right after an unknown one is skipped when placing it before
//   that unknown one gives the same state (the unknown write was overwritten): the sibling
//   configuration without the unknown operation is explored from the parent.
// - A read-only operation (Model.isReadOnly) that the model accepts now is placed at once and is
//   the only thing tried: any linearization can be reordered to start with it.

import { Bitset, type BitsetSnapshot } from "./bitset.ts";
import type { Model, Operation } from "./model.ts";
import { Prng } from "./prng.ts";

export type Verdict = "ok" | "illegal" | "unknown";

export interface SearchOutcome {
  readonly verdict: Verdict;
  /**
   * For "ok", a linearization: indices into the partition, every completed operation once, and the
   * unknown operations that took effect. Otherwise the longest linearizable prefix found (the one
   * placing the most completed operations).
   */
  readonly order: readonly number[];
  /** Configurations visited (pushed); a measure of the work done. */
  readonly explored: number;
}

export interface SearchLimits {
  /** Give up with "unknown" once `now()` exceeds this. */
  readonly deadline: number;
  readonly now: () => number;
}

interface Frame<S> {
  /** The operation whose placement led here; -1 for the initial configuration. */
  readonly op: number;
  readonly state: S;
  readonly candidates: readonly number[];
  next: number;
}

interface MemoEntry<S> {
  readonly known: BitsetSnapshot;
  readonly unknown: Uint32Array;
  readonly state: S;
}

const DEADLINE_CHECK_MASK = 1023;

/** Decides whether one partition of a history is linearizable with respect to `model`. */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  limits: SearchLimits,
): SearchOutcome {
  const hash = (s: S): string => (model.hash ? model.hash(s) : JSON.stringify(s));
  const equal = (a: S, b: S): boolean => (model.equal ? model.equal(a, b) : hash(a) === hash(b));

  const byCall = (a: number, b: number) => (ops[a] as Operation<I, O>).call - (ops[b] as Operation<I, O>).call || a - b;
  const knownOps: number[] = [];
  const unknownOps: number[] = [];
  const readOnly = new Uint8Array(ops.length);
  ops.forEach((op, i) => {
    if (op.output !== undefined) {
      knownOps.push(i);
      if (model.isReadOnly?.(op.input, op.output)) readOnly[i] = 1;
    } else if (!model.isReadOnly?.(op.input, undefined)) {
      // An unknown read constrains nothing: it may take effect anywhere or nowhere.
      unknownOps.push(i);
    }
  });
  knownOps.sort(byCall);
  unknownOps.sort(byCall);
  const K = knownOps.length;
  const U = unknownOps.length;
  const slot = new Int32Array(ops.length).fill(-1);
  const isUnknown = new Uint8Array(ops.length);
  knownOps.forEach((op, j) => (slot[op] = j));
  unknownOps.forEach((op, j) => {
    slot[op] = j;
    isUnknown[op] = 1;
  });

  // Event list. Known slot j has call node 2j+1 and return node 2j+2; node 0 is the head and
  // 2K+1 the tail. Unknown slot j is node j+1 of a second list of calls only. Ranks are positions
  // in one time order of all events; at equal times calls sort before returns (concurrent).
  type Event = { time: number; isReturn: number; op: number };
  const events: Event[] = [];
  for (const op of knownOps) {
    const o = ops[op] as Operation<I, O>;
    events.push({ time: o.call, isReturn: 0, op }, { time: o.return, isReturn: 1, op });
  }
  for (const op of unknownOps) events.push({ time: (ops[op] as Operation<I, O>).call, isReturn: 0, op });
  events.sort((a, b) => a.time - b.time || a.isReturn - b.isReturn || a.op - b.op);

  const tail = 2 * K + 1;
  const next = new Int32Array(tail + 1);
  const prev = new Int32Array(tail + 1);
  const rank = new Float64Array(tail + 1);
  const uTail = U + 1;
  const uNext = new Int32Array(uTail + 1);
  const uPrev = new Int32Array(uTail + 1);
  const uRank = new Float64Array(uTail + 1);
  {
    let last = 0;
    let uLast = 0;
    events.forEach((e, r) => {
      const j = slot[e.op] as number;
      if (isUnknown[e.op]) {
        const node = j + 1;
        uRank[node] = r;
        uNext[uLast] = node;
        uPrev[node] = uLast;
        uLast = node;
      } else {
        const node = 2 * j + 1 + e.isReturn;
        rank[node] = r;
        next[last] = node;
        prev[node] = last;
        last = node;
      }
    });
    next[last] = tail;
    prev[tail] = last;
    rank[tail] = Infinity;
    uNext[uLast] = uTail;
    uPrev[uTail] = uLast;
  }
  const unlink = (n: Int32Array, p: Int32Array, node: number) => {
    n[p[node] as number] = n[node] as number;
    p[n[node] as number] = p[node] as number;
  };
  const relink = (n: Int32Array, p: Int32Array, node: number) => {
    n[p[node] as number] = node;
    p[n[node] as number] = node;
  };

  const known = new Bitset(K);
  const unknown = new Bitset(U);
  // Zobrist hash of the known set, kept incrementally; the memo table confirms hits exactly.
  const zobrist = new Prng(0x6c696e65);
  const z1 = Uint32Array.from({ length: K }, () => zobrist.nextUint32());
  const z2 = Uint32Array.from({ length: K }, () => zobrist.nextUint32());
  let h1 = 0;
  let h2 = 0;
  let knownLeft = K;

  const place = (op: number) => {
    const j = slot[op] as number;
    if (isUnknown[op]) {
      unknown.set(j);
      unlink(uNext, uPrev, j + 1);
    } else {
      known.set(j);
      h1 ^= z1[j] as number;
      h2 ^= z2[j] as number;
      unlink(next, prev, 2 * j + 1);
      unlink(next, prev, 2 * j + 2);
      knownLeft--;
    }
  };
  const unplace = (op: number) => {
    const j = slot[op] as number;
    if (isUnknown[op]) {
      unknown.clear(j);
      relink(uNext, uPrev, j + 1);
    } else {
      known.clear(j);
      h1 ^= z1[j] as number;
      h2 ^= z2[j] as number;
      relink(next, prev, 2 * j + 2);
      relink(next, prev, 2 * j + 1);
      knownLeft++;
    }
  };

  const memo = new Map<string, MemoEntry<S>[]>();
  /** Records the current configuration; false if it (or one that dominates it) was seen before. */
  const visit = (state: S): boolean => {
    const key = `${(h1 & 0x1fffff) * 4294967296 + (h2 >>> 0)}|${hash(state)}`;
    const { lo, hi } = known.window();
    let entries = memo.get(key);
    if (entries) {
      for (const e of entries) {
        if (known.matches(e.known, lo, hi) && unknown.containsAll(e.unknown) && equal(e.state, state)) return false;
      }
    } else {
      entries = [];
      memo.set(key, entries);
    }
    entries.push({ known: known.snapshot(lo, hi), unknown: unknown.words.slice(), state });
    return true;
  };

  /** The operations that may take effect next in the current configuration, in the order to try them. */
  const candidatesIn = (state: S): number[] => {
    const found: number[] = [];
    let node = next[0] as number;
    for (; node !== tail && (node & 1) === 1; node = next[node] as number) {
      const op = knownOps[(node - 1) >> 1] as number;
      if (readOnly[op]) {
        const o = ops[op] as Operation<I, O>;
        if (model.step(state, o.input, o.output).ok) return [op];
        continue; // steps are deterministic: rejected in this state, it is no candidate here
      }
      found.push(op);
    }
    const firstReturn = rank[node] as number;
    for (let u = uNext[0] as number; u !== uTail && (uRank[u] as number) < firstReturn; u = uNext[u] as number) {
      found.push(unknownOps[u - 1] as number);
    }
    return found;
  };

  if (K === 0) return { verdict: "ok", order: [], explored: 1 };
  const initial = model.init();
  visit(initial);
  const stack: Frame<S>[] = [{ op: -1, state: initial, candidates: candidatesIn(initial), next: 0 }];
  let explored = 1;

  // Longest prefix by completed operations placed. `best[0, bestValid)` always equals the ops of
  // the current stack, so a new record copies only what changed since the last one.
  const best: number[] = [];
  let bestKnown = 0;
  let bestValid = 0;

  for (let iterations = 1; ; iterations++) {
    if ((iterations & DEADLINE_CHECK_MASK) === 0 && limits.now() > limits.deadline) {
      return { verdict: "unknown", order: best, explored };
    }
    const top = stack[stack.length - 1] as Frame<S>;
    if (top.next >= top.candidates.length) {
      if (stack.length === 1) return { verdict: "illegal", order: best, explored };
      stack.pop();
      unplace(top.op);
      bestValid = Math.min(bestValid, stack.length - 1);
      continue;
    }
    const op = top.candidates[top.next++] as number;
    const o = ops[op] as Operation<I, O>;
    const result = model.step(top.state, o.input, o.output);
    if (!result.ok) continue;
    if (top.op >= 0 && isUnknown[top.op]) {
      const parent = stack[stack.length - 2] as Frame<S>;
      const instead = model.step(parent.state, o.input, o.output);
      if (instead.ok && equal(instead.state, result.state)) continue;
    }
    place(op);
    if (!visit(result.state)) {
      unplace(op);
      continue;
    }
    explored++;
    const done = knownLeft === 0;
    stack.push({ op, state: result.state, candidates: done ? [] : candidatesIn(result.state), next: 0 });
    if (done) return { verdict: "ok", order: stack.slice(1).map((f) => f.op), explored };
    if (K - knownLeft > bestKnown) {
      for (let i = bestValid; i < stack.length - 1; i++) best[i] = (stack[i + 1] as Frame<S>).op;
      best.length = stack.length - 1;
      bestValid = best.length;
      bestKnown = K - knownLeft;
    }
  }
}
