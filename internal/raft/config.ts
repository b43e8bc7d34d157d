// The core's configuration, validated once when a RawNode is built.

import { RaftConfigError } from "./errors.ts";
import type { Storage } from "./storage.ts";
import type { NodeId } from "./types.ts";

/**
 * safe: ReadIndex confirms leadership with a heartbeat round per batch of reads (thesis §6.4).
 * leaseBased: the leader answers at once while it holds a lease: a quorum acknowledged a heartbeat
 * sent less than electionTick-1 ticks ago (voters then refuse votes until their election timeout
 * runs out). Falls back to waiting for the next acknowledged heartbeat when the lease lapsed.
 * Requires checkQuorum, the same mode on every member, and tick rates that do not drift apart.
 */
export type ReadOnlyOption = "safe" | "leaseBased";

export interface Config {
  /** This member's id; never empty. */
  readonly id: NodeId;
  /** The persisted log (usually the driver's MemoryStorage mirror of its WAL). */
  readonly storage: Storage;
  /** Seeded randomness for election timeouts: returns a number in [0, 1). */
  readonly random: () => number;
  /** Ticks without hearing from a leader before campaigning; the actual timeout is random in [electionTick, 2*electionTick). Default 10. */
  readonly electionTick?: number;
  /** Ticks between leader heartbeats; must be less than electionTick. Default 1. */
  readonly heartbeatTick?: number;
  /** The last index the state machine already reflects at start (e.g. its snapshot's index). Default: the storage's snapshot index. */
  readonly applied?: number;
  /** Max bytes of entries per MsgApp (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Max bytes of committed entries per Ready. Default 64 MiB. */
  readonly maxCommittedSizePerReady?: number;
  /** Max bytes of proposed but uncommitted entries on a leader; 0 = unlimited (default). */
  readonly maxUncommittedEntriesSize?: number;
  /** Max MsgApp messages in flight to one follower in replicate state. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Max bytes in flight to one follower; 0 = unlimited (default). */
  readonly maxInflightBytes?: number;
  /** Leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Campaign with a pre-vote round first (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** Default "safe". */
  readonly readOnly?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. Default false. */
  readonly disableProposalForwarding?: boolean;
}

export interface NormalizedConfig {
  readonly id: NodeId;
  readonly random: () => number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly maxSizePerMsg: number;
  readonly maxCommittedSizePerReady: number;
  readonly maxUncommittedEntriesSize: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnly: ReadOnlyOption;
  readonly disableProposalForwarding: boolean;
}

function positiveInt(field: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x <= 0) throw new RaftConfigError(field, `expected a positive integer, got ${x}`);
  return x;
}

function nonNegativeInt(field: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < 0) throw new RaftConfigError(field, `expected a non-negative integer, got ${x}`);
  return x;
}

/** Validates a Config and fills in the defaults; throws RaftConfigError naming the bad field. */
export function normalizeConfig(c: Config): NormalizedConfig {
  if (typeof c.id !== "string" || c.id === "") throw new RaftConfigError("id", "must be a non-empty string");
  if (typeof c.random !== "function") throw new RaftConfigError("random", "must be a function");
  const electionTick = positiveInt("electionTick", c.electionTick, 10);
  const heartbeatTick = positiveInt("heartbeatTick", c.heartbeatTick, 1);
  if (heartbeatTick >= electionTick) {
    throw new RaftConfigError("heartbeatTick", `must be less than electionTick (${electionTick})`);
  }
  const checkQuorum = c.checkQuorum ?? true;
  const readOnly = c.readOnly ?? "safe";
  if (readOnly !== "safe" && readOnly !== "leaseBased") {
    throw new RaftConfigError("readOnly", `expected "safe" or "leaseBased", got ${String(readOnly)}`);
  }
  if (readOnly === "leaseBased" && !checkQuorum) {
    throw new RaftConfigError("readOnly", "leaseBased reads require checkQuorum");
  }
  if (readOnly === "leaseBased" && electionTick < 3) {
    throw new RaftConfigError("electionTick", "leaseBased reads need electionTick >= 3");
  }
  return {
    id: c.id,
    random: c.random,
    electionTick,
    heartbeatTick,
    maxSizePerMsg: positiveInt("maxSizePerMsg", c.maxSizePerMsg, 1 << 20),
    maxCommittedSizePerReady: positiveInt("maxCommittedSizePerReady", c.maxCommittedSizePerReady, 64 << 20),
    maxUncommittedEntriesSize: nonNegativeInt("maxUncommittedEntriesSize", c.maxUncommittedEntriesSize, 0),
    maxInflightMsgs: positiveInt("maxInflightMsgs", c.maxInflightMsgs, 256),
    maxInflightBytes: nonNegativeInt("maxInflightBytes", c.maxInflightBytes, 0),
    checkQuorum,
    preVote: c.preVote ?? true,
    readOnly,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
  };
}
