// Errors thrown by the state machine's reads and codecs. apply() never throws them: a command that
// cannot be applied becomes a Failure result, identical on every member. The store layer maps these
// onto its own errors (internal/store/errors.ts) and the HTTP edge onto statuses.

/** eventsSince/watch asked for a revision older than the retained event log. */
export class CompactedError extends Error {
  override readonly name = "CompactedError";
  constructor(
    readonly requested: number,
    /** The oldest revision still available: events from here on are retained. */
    readonly compactRevision: number,
  ) {
    super(`revision ${requested} has been compacted; the oldest available is ${compactRevision}`);
  }
}

/** eventsSince/watch asked for a revision beyond currentRevision + 1. */
export class FutureRevisionError extends Error {
  override readonly name = "FutureRevisionError";
  constructor(
    readonly requested: number,
    readonly currentRevision: number,
  ) {
    super(`revision ${requested} is in the future; the current revision is ${currentRevision}`);
  }
}

/** decodeCommand/encodeCommand met bytes or fields that are not a valid command. */
export class MalformedCommandError extends Error {
  override readonly name = "MalformedCommandError";
  constructor(readonly reason: string) {
    super(`malformed command: ${reason}`);
  }
}

/** restore() was given bytes that are not a snapshot this version can read; the state is unchanged. */
export class SnapshotFormatError extends Error {
  override readonly name = "SnapshotFormatError";
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(`invalid kv snapshot: ${reason}`, options);
  }
}
