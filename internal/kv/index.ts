// The replicated key-value state machine: what the Raft store applies on every member, and what
// other folders may import from here.

export { KvStateMachine, type KvStateMachineOptions } from "./state-machine.ts";
export { LeaseTimers, type LeaseTimersOptions } from "./lease-timers.ts";
export { COMMAND_FORMAT, commandProblem, decodeCommand, encodeCommand } from "./codec.ts";
export { SNAPSHOT_FORMAT } from "./snapshot.ts";
export { CompactedError, FutureRevisionError, MalformedCommandError, SnapshotFormatError } from "./errors.ts";
export { MAX_KEY_BYTES, MAX_LEASE_ID_LENGTH, MAX_LEASE_TTL_SECONDS, keyProblem, leaseIdProblem } from "./keys.ts";
export { isFailure } from "./types.ts";
export type * from "./types.ts";
