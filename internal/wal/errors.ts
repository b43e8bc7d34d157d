// Typed WAL errors. The driver decides what each means for the process: every one of them except
// WalLockedError (another process owns the directory) calls for an operator, not a retry.

/**
 * The log or a segment is damaged somewhere other than a torn tail: a bad record with valid records
 * after it, a bad record in a segment that is not the last, a missing segment, or records that
 * contradict each other. Raised by openWal, which then has changed nothing on disk.
 */
export class WalCorruptError extends Error {
  override readonly name = "WalCorruptError";
  constructor(
    /** The damaged file. */
    readonly file: string,
    /** Byte offset in `file` of the first bad record (0 for a file-level problem). */
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`WAL corrupt: ${file} at offset ${offset}: ${reason}; refusing to start (nothing was changed on disk)`);
  }
}

/**
 * A write, fsync, truncate or rename failed (ENOSPC, EIO, ...). The WAL is fail-stop: the save that
 * hit the error, every save queued behind it and every later call reject with this error, and
 * nothing more is written. Restart the member: reopening recovers the last synced state.
 */
export class WalWriteError extends Error {
  override readonly name = "WalWriteError";
  /** The errno code of the underlying failure, e.g. "ENOSPC" or "EIO", when it had one. */
  readonly code: string | undefined;
  constructor(
    /** The file being written when the failure happened. */
    readonly file: string,
    cause: unknown,
    /** False for the calls rejected after the WAL had already stopped. */
    readonly first = true,
  ) {
    const code = errnoCode(cause);
    super(
      first
        ? `WAL write to ${file} failed (${code ?? describe(cause)}); the WAL has stopped accepting writes`
        : `WAL stopped after an earlier write error on ${file} (${code ?? describe(cause)}); restart the member`,
      { cause },
    );
    this.code = code;
  }
}

/** A call on a WAL after close() began. */
export class WalClosedError extends Error {
  override readonly name = "WalClosedError";
  constructor() {
    super("the WAL is closed");
  }
}

/** Another process (or another open in this one) holds the WAL directory's lock. */
export class WalLockedError extends Error {
  override readonly name = "WalLockedError";
  constructor(
    readonly dir: string,
    /** The pid recorded by the holder, when it could be read. */
    readonly holderPid: number | undefined,
  ) {
    super(
      `WAL directory ${dir} is locked by ${holderPid === undefined ? "another process" : `process ${holderPid}`}; ` +
        "two members cannot share a data directory",
    );
  }
}

/**
 * The WAL names a snapshot (its newest snapshot marker) that cannot be loaded, and no older valid
 * snapshot with the log entries after it can stand in for it. Starting anyway would silently lose
 * state, so openWal refuses.
 */
export class WalSnapshotMissingError extends Error {
  override readonly name = "WalSnapshotMissingError";
  constructor(
    /** The snapshot the newest marker refers to. */
    readonly index: number,
    readonly term: number,
    /** Every snapshot file looked at, and why it could not be used. */
    readonly rejected: readonly { readonly file: string; readonly reason: string }[],
  ) {
    const tried = rejected.length === 0 ? "no snapshot files" : rejected.map((r) => `${r.file}: ${r.reason}`).join("; ");
    super(
      `the WAL refers to snapshot index ${index} term ${term}, which is missing or corrupt, and no older snapshot ` +
        `plus the retained log covers it (${tried}); refusing to start`,
    );
  }
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
