// The public surface of the Raft core: what the driver (internal/store, cmd/control-plane) imports.

export type { Config, ReadOnlyOption } from "./config.ts";
export type { ConfChange, ConfChangeType } from "./conf-change.ts";
export { decodeConfChange, encodeConfChange } from "./conf-change.ts";
export { decodeMessages, encodeMessages } from "./codec.ts";
export { nextConfState } from "./membership-log.ts";
export {
  CompactedError,
  ConfChangeRejectedError,
  MessageDecodeError,
  ProposalDroppedError,
  RaftConfigError,
  RaftError,
  RaftStateCorruptError,
  ReadIndexDroppedError,
  ReadyProtocolError,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from "./errors.ts";
export type { Message, MessageType, ReadState } from "./message.ts";
export { CAMPAIGN_TRANSFER, makeMessage } from "./message.ts";
export type { ProgressState } from "./progress.ts";
export type { DropCounters, Role } from "./raft.ts";
export type { Ready, SoftState } from "./raw-node.ts";
export { RawNode } from "./raw-node.ts";
export type { PeerProgress, Status } from "./status.ts";
export type { InitialState, Storage } from "./storage.ts";
export { EMPTY_SNAPSHOT, entryBytes, MemoryStorage } from "./storage.ts";
export type { ConfState, Entry, EntryType, HardState, NodeId, Snapshot, SnapshotMetadata } from "./types.ts";
export { EMPTY_HARD_STATE } from "./types.ts";
