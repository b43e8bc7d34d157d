// The two things a check needs: a history of operations, and a sequential model saying which
// orders of those operations are legal. Both are plain data and pure functions; nothing here
// knows about clocks, stores or the network.

/**
 * One client operation as observed from outside the system under test. `call` and `return` are
 * the times at which the client sent the request and received the answer, on one clock shared by
 * every client in the history. Two operations are ordered in real time only when one returned
 * strictly before the other was called; equal timestamps count as concurrent.
 *
 * `output === undefined` means the outcome is unknown (a timeout, a lost connection): the
 * operation may have taken effect at any moment after `call`, even after the client gave up, or
 * never. Such operations should carry `return: Infinity`; the checker ignores `return` for them.
 */
export interface Operation<Input, Output> {
  readonly clientId: number;
  readonly input: Input;
  readonly call: number;
  readonly output: Output | undefined;
  readonly return: number;
}

/** The result of applying one operation to a state of the sequential specification. */
export interface StepResult<State> {
  /** Whether the specification allows this input to produce this output in the state. */
  readonly ok: boolean;
  /** The state afterwards; ignored when `ok` is false. */
  readonly state: State;
}

/**
 * A sequential specification. `step` must be pure and deterministic, must not mutate `state`, and
 * must treat `output === undefined` as "whatever output the specification would produce", which
 * makes the step of an unknown operation a function of the state alone. Inputs are plain data:
 * two unknown operations whose inputs have the same JSON are treated as interchangeable.
 *
 * `partition` splits a history into independent sub-histories (for a key-value store: one per
 * key) that are checked separately; this is sound only when the specification is a product of
 * independent parts, and it is what keeps large histories tractable.
 *
 * States are indexed by `hash`, which must identify a state: equal states, and only they, have
 * equal hashes; `equal` is then an optional faster comparison that must agree with it. Without
 * `hash` the checker uses `JSON.stringify`, which identifies plain-data states; for other states
 * give `equal`, and JSON then only narrows the candidates that `equal` compares.
 *
 * `isReadOnly(input, output)` is an optional hint: it must return true only if every step of that
 * operation that is `ok` leaves the state equal to what it was (a read, a compare-and-set known to
 * have failed). The checker then linearizes such operations as early as real time allows instead
 * of trying every position, and drops read-only operations whose outcome is unknown; without the
 * hint it is still correct, only slower on histories with many concurrent reads.
 */
export interface Model<State, Input, Output> {
  init(): State;
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  partition?(history: readonly Operation<Input, Output>[]): Operation<Input, Output>[][];
  equal?(a: State, b: State): boolean;
  hash?(state: State): string;
  describeOperation?(input: Input, output: Output | undefined): string;
  /** Names a partition in reports, e.g. `key "a"`. */
  describePartition?(operations: readonly Operation<Input, Output>[]): string;
  describeState?(state: State): string;
  isReadOnly?(input: Input, output: Output | undefined): boolean;
  /**
   * Optional: the partition rewritten into an equivalent one that is faster to check — same
   * length, same order, same clients and times, and linearizable exactly when the original is. The
   * search runs on the rewritten operations; results and reports show the originals. The key-value
   * model gives every value that no operation reads or expects one placeholder, which makes writes
   * of such values interchangeable.
   */
  canonicalize?(operations: readonly Operation<Input, Output>[]): Operation<Input, Output>[];
  /**
   * Optional: a cheap test that cuts dead branches early. Called once per partition with the
   * operations the search works on (after `canonicalize`); the search reports every operation it
   * places and takes back, and asks `viable(state)` after each placement. `viable` must return
   * false only when the operations not yet placed certainly cannot all be linearized from `state`
   * (the key-value model: a pending read of a value that is no longer current and that nothing
   * left can write again).
   */
  lookahead?(operations: readonly Operation<Input, Output>[]): Lookahead<State>;
}

/** Incremental dead-end detection for one partition; see Model.lookahead. */
export interface Lookahead<State> {
  place(index: number): void;
  unplace(index: number): void;
  viable(state: State): boolean;
  /** For reports: when `viable(state)` is false, a pending operation that can no longer take effect, and why. */
  explain?(state: State): { readonly index: number; readonly reason: string } | undefined;
}
