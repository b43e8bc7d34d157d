// The client history of a simulation run, in the shape the linearizability checker
// (internal/linearizability, Porcupine-style) reads: one record per operation with logical
// invocation and response times; an operation whose outcome is unknown has output undefined and
// return Infinity.

export type KvInput =
  | { kind: "get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "cas"; key: string; expected: string | null; value: string }
  | { kind: "delete"; key: string };

// biome-ignore lint/complexity/noBannedTypes: {} is the documented output of put and delete.
export type KvOutput = { value: string | null } | { ok: boolean } | {};

export interface HistoryOperation {
  clientId: number;
  input: KvInput;
  call: number;
  output: KvOutput | undefined;
  /** Infinity when the outcome is unknown. */
  return: number;
}

export class HistoryRecorder {
  private readonly ops: HistoryOperation[] = [];
  private readonly open = new Set<HistoryOperation>();
  /** Logical time: every invocation and response gets the next value, so real-time order is exact. */
  private clock = 0;

  invoke(clientId: number, input: KvInput): HistoryOperation {
    const op: HistoryOperation = { clientId, input, call: ++this.clock, output: undefined, return: Infinity };
    this.ops.push(op);
    this.open.add(op);
    return op;
  }

  complete(op: HistoryOperation, output: KvOutput): void {
    if (!this.open.delete(op)) return;
    op.output = output;
    op.return = ++this.clock;
  }

  /** The request definitely did not take effect (refused before it was handed on): forget it. */
  fail(op: HistoryOperation): void {
    if (!this.open.delete(op)) return;
    const i = this.ops.lastIndexOf(op);
    if (i >= 0) this.ops.splice(i, 1);
  }

  /** No answer: the operation may or may not have taken effect. */
  unknown(op: HistoryOperation): void {
    this.open.delete(op);
  }

  isOpen(op: HistoryOperation): boolean {
    return this.open.has(op);
  }

  /**
   * The history for the checker. Reads with no answer are left out (they constrain nothing);
   * writes with no answer stay, with output undefined and return Infinity.
   */
  export(): HistoryOperation[] {
    return this.ops
      .filter((op) => !(op.input.kind === "get" && op.return === Infinity))
      .map((op) => ({ ...op, input: { ...op.input } }));
  }
}
