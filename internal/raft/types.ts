// The data the Raft core hands to its driver to persist, and reads back after a restart. Shared
// by the core (internal/raft), the write-ahead log (internal/wal) and the state machine driver.
// Plain data only: no classes, so that it can be copied, compared and encoded freely.

/** A member id, as in --node-id / --peers. Never the empty string. */
export type NodeId = string;

/**
 * "normal": data is an opaque command for the state machine (empty data = the no-op a new leader
 * appends to commit entries of earlier terms). "confChange": data is an encoded ConfChange.
 */
export type EntryType = "normal" | "confChange";

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** Who this member voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** The membership: voters decide elections and commitment; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers, and its term. */
  readonly index: number;
  readonly term: number;
  /** The membership as of `index`. */
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The state machine's serialized state as of metadata.index. */
  readonly data: Uint8Array;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };
