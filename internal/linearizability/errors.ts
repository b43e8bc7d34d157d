// Errors raised before any search starts: a history the checker cannot interpret is a bug in
// whatever recorded it, and is reported as such rather than as a linearizability verdict.

/** An operation in the history is malformed (times that are not numbers, return before call, an output of the wrong shape). */
export class InvalidHistoryError extends Error {
  override readonly name = "InvalidHistoryError";
  constructor(
    /** Position of the operation in the history passed in (or in its partition, for model-level checks). */
    readonly operationIndex: number,
    readonly reason: string,
  ) {
    super(`operation ${operationIndex}: ${reason}`);
  }
}
