// Named errors of the Raft core. Each carries readonly context so the driver can act on it (forward
// a proposal to the known leader, retry later, report a corrupt disk) without parsing messages.

import type { NodeId } from "./types.ts";

/** Base class of every error the Raft core throws on purpose. */
export class RaftError extends Error {
  override name = "RaftError";
}

/**
 * A proposal (or leadership transfer request) was not accepted: there is no known leader, this
 * member is not the leader and forwarding is disabled, a leadership transfer is in progress, the
 * uncommitted log is over its size limit, or this member was removed. `leader` is the leader this
 * member knows of (null if none), so the driver can forward the request itself.
 */
export class ProposalDroppedError extends RaftError {
  override name = "ProposalDroppedError";
  constructor(
    readonly leader: NodeId | null,
    readonly reason: string,
  ) {
    super(`proposal dropped: ${reason}${leader === null ? "" : ` (leader ${leader})`}`);
  }
}

/** A ReadIndex request could not be started because no leader is known (or forwarding is off). */
export class ReadIndexDroppedError extends RaftError {
  override name = "ReadIndexDroppedError";
  constructor(
    readonly leader: NodeId | null,
    readonly reason: string,
  ) {
    super(`read index request dropped: ${reason}`);
  }
}

/** A configuration change was refused at proposal time; `reason` says which guard refused it. */
export class ConfChangeRejectedError extends RaftError {
  override name = "ConfChangeRejectedError";
  constructor(readonly reason: string) {
    super(`configuration change rejected: ${reason}`);
  }
}

/** Storage: the requested index is older than the storage's first index (compacted away). */
export class CompactedError extends RaftError {
  override name = "CompactedError";
  constructor(
    readonly index: number,
    readonly firstIndex: number,
  ) {
    super(`index ${index} is compacted (first index ${firstIndex})`);
  }
}

/** Storage: the requested index is beyond the storage's last index. */
export class UnavailableError extends RaftError {
  override name = "UnavailableError";
  constructor(
    readonly index: number,
    readonly lastIndex: number,
  ) {
    super(`index ${index} is unavailable (last index ${lastIndex})`);
  }
}

/** Storage: a snapshot is being produced and is not available yet; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  override name = "SnapshotTemporarilyUnavailableError";
  constructor() {
    super("snapshot is temporarily unavailable");
  }
}

/** Storage: a snapshot older than the one held was offered (applySnapshot / createSnapshot). */
export class SnapshotOutOfDateError extends RaftError {
  override name = "SnapshotOutOfDateError";
  constructor(
    readonly index: number,
    readonly current: number,
  ) {
    super(`snapshot at index ${index} is older than the current one at ${current}`);
  }
}

/** The Config handed to the core is invalid; `field` names the setting. */
export class RaftConfigError extends RaftError {
  override name = "RaftConfigError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid raft config ${field}: ${message}`);
  }
}

/** The state read from storage at start is inconsistent (e.g. commit beyond the last index). */
export class RaftStateCorruptError extends RaftError {
  override name = "RaftStateCorruptError";
}

/** The driver broke the Ready protocol (ready() twice without advance(), advance() without ready()). */
export class ReadyProtocolError extends RaftError {
  override name = "ReadyProtocolError";
}

/** Bytes handed to decodeMessages (or decodeConfChange) are truncated, oversized or forged. */
export class MessageDecodeError extends RaftError {
  override name = "MessageDecodeError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}
