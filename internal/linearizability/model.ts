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
 * makes the step of an unknown operation a function of the state alone.
 *
 * `partition` splits a history into independent sub-histories (for a key-value store: one per
 * key) that are checked separately; this is sound only when the specification is a product of
 * independent parts, and it is what keeps large histories tractable.
 *
 * States are compared with `equal` and indexed by `hash`; when `equal` is missing two states are
 * equal when their hashes are, so `hash` must then be injective. Both default to `JSON.stringify`.
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
}
