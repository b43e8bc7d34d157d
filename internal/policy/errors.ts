// The two errors this folder throws or returns. They carry the context a caller needs to answer
// precisely (the field path, the column) and become HTTP statuses only at the edge.

/**
 * A policy document that is not valid. `path` names the offending field the way a person reads
 * it in YAML or JSON ("retry.backoff.initialMs", "rules[0].methods[1]"; "" for the document
 * itself); `reason` says what is wrong there; the message is the two joined.
 */
export class PolicyValidationError extends Error {
  override readonly name = "PolicyValidationError";

  constructor(
    /** The kind the document was validated as, as given (it may be an unknown kind). */
    readonly kind: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(path === "" ? reason : `${path}: ${reason}`);
  }
}

/** A circuit-breaker trip expression that does not parse; `column` is 1-based. */
export class TripExpressionError extends Error {
  override readonly name = "TripExpressionError";

  constructor(
    readonly expression: string,
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}
