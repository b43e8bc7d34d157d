// The search for one partition: Wing & Gong's backtracking over "which pending operation takes
// effect next", with Lowe's memo table of visited configurations (completed operations placed,
// unknown operations placed, state), in the manner of Porcupine. Calls and returns of completed
// operations sit in one doubly linked list in time order; the operations that may go next are the
// calls ahead of the first return left in it. Placing an operation lifts its call and return out
// of the list and backtracking puts them back, both in O(1).
//
// Unknown operations have a call and no return: nothing forces them to take effect, and the
// search succeeds once every completed operation is placed. They would make the search
// exponential in their number, so it prunes; every rule below skips only configurations that lie
// on no *shortest* linearization (fewest unknown operations) or that a visited configuration
// dominates, so if any linearization exists, the deepest visited configuration on a shortest one
// would have a child on it that is visited too — the search cannot fail while one exists.
// - Memo dominance: skip a configuration when one with the same completed set and state and a
//   subset of its unknown operations was visited (having more options left can only help).
// - Redundancy: each frame tracks the unknown operations of its prefix that could be left out,
//   with the state the prefix would reach without them; when that state equals the real one (an
//   unknown write since overwritten), the configuration is not on a shortest linearization.
// - An unknown operation that does not change the state is never placed (its parent dominates).
// - Unknown operations with equal inputs are interchangeable and are placed in call order.
// - A read-only operation (Model.isReadOnly) that the model accepts now is placed at once and is
//   the only child tried: any linearization can be reordered to start with it.
// - Model.lookahead, when given, cuts configurations from which the rest certainly cannot be
//   linearized (a read of a value gone for good).
// Completed candidates are tried earliest return first, then unknown ones: a heuristic, since the
// operation that must take effect soonest is the likeliest next.

import { Bitset } from "./bitset.ts";
import { ConfigurationMemo } from "./memo.ts";
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
  /** Give up with "unknown" after visiting this many configurations. Default: no limit. */
  readonly maxExplored?: number;
  /** Use the model's lookahead, if it has one. Default true. */
  readonly lookahead?: boolean;
}

interface Frame<S> {
  /** The operation whose placement led here; -1 for the initial configuration. */
  readonly op: number;
  readonly state: S;
  readonly candidates: readonly number[];
  next: number;
  /** Unknown operations of the prefix whose removal still leaves a legal prefix, and the state it reaches. */
  readonly without: readonly Without<S>[];
}

interface Without<S> {
  readonly op: number;
  readonly state: S;
}

const DEADLINE_CHECK_MASK = 1023;
/** How many removable unknown operations a prefix keeps track of; older ones are forgotten (fewer prunes, never wrong ones). */
const MAX_WITHOUT = 12;

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
  // Unknown operations with equal inputs are interchangeable, so they are placed in call order:
  // each only once the one before it (an earlier call, so available whenever it is) is placed.
  const sameBefore = new Int32Array(U).fill(-1);
  {
    const lastOfInput = new Map<string, number>();
    unknownOps.forEach((op, j) => {
      const input = JSON.stringify((ops[op] as Operation<I, O>).input);
      const before = lastOfInput.get(input);
      if (before !== undefined) sameBefore[j] = before;
      lastOfInput.set(input, j);
    });
  }
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
  const zobristOf = Int32Array.from({ length: K }, () => zobrist.nextUint32() | 0);
  let zobristHash = 0;
  let knownLeft = K;

  const place = (op: number) => {
    const j = slot[op] as number;
    if (isUnknown[op]) {
      unknown.set(j);
      unlink(uNext, uPrev, j + 1);
    } else {
      known.set(j);
      zobristHash ^= zobristOf[j] as number;
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
      zobristHash ^= zobristOf[j] as number;
      relink(next, prev, 2 * j + 2);
      relink(next, prev, 2 * j + 1);
      knownLeft++;
    }
  };

  // States are interned by hash; the memo key mixes the Zobrist hash of the completed set with
  // the state's id. A model hash identifies states; so does JSON when the model has no `equal`.
  const idsAreExact = model.hash !== undefined || model.equal === undefined;
  const memo = new ConfigurationMemo<S>(unknown.words.length, idsAreExact ? undefined : equal);
  const stateIds = new Map<string, number>();
  const idOf = (state: S): number => {
    const text = hash(state);
    let id = stateIds.get(text);
    if (id === undefined) stateIds.set(text, (id = stateIds.size));
    return id;
  };
  /** Records the current configuration; false if it (or one that dominates it) was seen before. */
  const visit = (state: S, id: number): boolean =>
    memo.visit((zobristHash ^ Math.imul(id + 1, 0x9e3779b1)) | 0, known, unknown, id, state);

  // Whether an unknown operation changes a state, by state id and unknown slot (0: not yet known,
  // 1: no, 2: yes). Long histories keep many unknown operations pending that are no-ops almost
  // everywhere (a swap expecting a value long overwritten); this saves re-stepping them.
  const changes = new Map<number, Uint8Array>();
  const unknownChanges = (state: S, id: number, j: number): boolean => {
    let marks: Uint8Array | undefined;
    if (idsAreExact) {
      marks = changes.get(id);
      if (!marks) changes.set(id, (marks = new Uint8Array(U)));
      const mark = marks[j] as number;
      if (mark !== 0) return mark === 2;
    }
    const o = ops[unknownOps[j] as number] as Operation<I, O>;
    const r = model.step(state, o.input, o.output);
    const result = r.ok && r.state !== state && !equal(r.state, state);
    if (marks) marks[j] = result ? 2 : 1;
    return result;
  };

  /** The operations that may take effect next in the current configuration, in the order to try them. */
  const candidatesIn = (state: S, id: number): number[] => {
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
    found.sort((a, b) => (ops[a] as Operation<I, O>).return - (ops[b] as Operation<I, O>).return || a - b);
    const firstReturn = rank[node] as number;
    for (let u = uNext[0] as number; u !== uTail && (uRank[u] as number) < firstReturn; u = uNext[u] as number) {
      const j = u - 1;
      const before = sameBefore[j] as number;
      // An unknown operation that changes nothing leads to a configuration its parent dominates.
      if ((before < 0 || unknown.has(before)) && unknownChanges(state, id, j)) found.push(unknownOps[j] as number);
    }
    return found;
  };

  /**
   * Placing `op` after `top` reaches `state`. Returns undefined when some unknown operation of the
   * prefix can be left out and the rest still reaches an equal state (the configuration is then
   * not on a shortest linearization, and one that is gets explored); otherwise the removable
   * unknown operations of the extended prefix.
   */
  const redundantOrWithout = (top: Frame<S>, op: number, o: Operation<I, O>, state: S): Without<S>[] | undefined => {
    const kept: Without<S>[] = [];
    for (const w of top.without) {
      const r = model.step(w.state, o.input, o.output);
      if (r.ok) {
        if (equal(r.state, state)) return undefined;
        kept.push({ op: w.op, state: r.state });
      } else if (isUnknown[op]) {
        // Leave this unknown operation out as well.
        if (equal(w.state, state)) return undefined;
        kept.push(w);
      }
    }
    if (isUnknown[op]) kept.push({ op, state: top.state });
    return kept.length > MAX_WITHOUT ? kept.slice(-MAX_WITHOUT) : kept;
  };

  if (K === 0) return { verdict: "ok", order: [], explored: 1 };
  const lookahead = limits.lookahead === false ? undefined : model.lookahead?.(ops);
  const maxExplored = limits.maxExplored ?? Infinity;
  const initial = model.init();
  if (lookahead && !lookahead.viable(initial)) return { verdict: "illegal", order: [], explored: 1 };
  const initialId = idOf(initial);
  visit(initial, initialId);
  const stack: Frame<S>[] = [{ op: -1, state: initial, candidates: candidatesIn(initial, initialId), next: 0, without: [] }];
  let explored = 1;

  // Longest prefix by completed operations placed. `best[0, bestValid)` always equals the ops of
  // the current stack, so a new record copies only what changed since the last one.
  const best: number[] = [];
  let bestKnown = 0;
  let bestValid = 0;

  for (let iterations = 1; ; iterations++) {
    if (((iterations & DEADLINE_CHECK_MASK) === 0 && limits.now() > limits.deadline) || explored >= maxExplored) {
      return { verdict: "unknown", order: best, explored };
    }
    const top = stack[stack.length - 1] as Frame<S>;
    if (top.next >= top.candidates.length) {
      if (stack.length === 1) return { verdict: "illegal", order: best, explored };
      stack.pop();
      lookahead?.unplace(top.op);
      unplace(top.op);
      bestValid = Math.min(bestValid, stack.length - 1);
      continue;
    }
    const op = top.candidates[top.next++] as number;
    const o = ops[op] as Operation<I, O>;
    const result = model.step(top.state, o.input, o.output);
    if (!result.ok) continue;
    const without = redundantOrWithout(top, op, o, result.state);
    if (without === undefined) continue;
    place(op);
    if (lookahead) {
      lookahead.place(op);
      if (!lookahead.viable(result.state)) {
        lookahead.unplace(op);
        unplace(op);
        continue;
      }
    }
    const id = idOf(result.state);
    if (!visit(result.state, id)) {
      lookahead?.unplace(op);
      unplace(op);
      continue;
    }
    explored++;
    const done = knownLeft === 0;
    stack.push({ op, state: result.state, candidates: done ? [] : candidatesIn(result.state, id), next: 0, without });
    if (done) return { verdict: "ok", order: stack.slice(1).map((f) => f.op), explored };
    if (K - knownLeft > bestKnown) {
      for (let i = bestValid; i < stack.length - 1; i++) best[i] = (stack[i + 1] as Frame<S>).op;
      best.length = stack.length - 1;
      bestValid = best.length;
      bestKnown = K - knownLeft;
    }
  }
}
