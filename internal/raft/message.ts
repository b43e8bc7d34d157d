// The messages Raft members exchange, and the local messages the driver feeds into step().
// One flat shape for every kind (as etcd's raftpb.Message): fields a kind does not use are zero,
// empty or null. The codec (codec.ts) encodes exactly these fields.

import type { Entry, NodeId, Snapshot } from "./types.ts";

/**
 * Network kinds: app/appResp (AppendEntries), vote/voteResp, preVote/preVoteResp, snap (install a
 * whole snapshot), heartbeat/heartbeatResp, timeoutNow (leadership transfer), readIndex/readIndexResp,
 * and prop/transferLeader forwarded from a follower to its leader.
 * Local kinds (never on the wire, never accepted from RawNode.step): hup (campaign), beat
 * (heartbeat timer), checkQuorum, unreachable and snapStatus (driver feedback).
 */
export type MessageType =
  | "hup"
  | "beat"
  | "prop"
  | "app"
  | "appResp"
  | "vote"
  | "voteResp"
  | "snap"
  | "heartbeat"
  | "heartbeatResp"
  | "unreachable"
  | "snapStatus"
  | "checkQuorum"
  | "transferLeader"
  | "timeoutNow"
  | "readIndex"
  | "readIndexResp"
  | "preVote"
  | "preVoteResp";

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; 0 for prop and readIndex, which are term-less. */
  readonly term: number;
  /** app: term of the entry at `index`; vote: candidate's last log term; appResp reject: hint term. */
  readonly logTerm: number;
  /** app: index preceding `entries`; vote: candidate's last index; appResp: last matching or rejected index; readIndexResp: the read index. */
  readonly index: number;
  /** app/heartbeat: the leader's commit index (heartbeat: capped at the follower's match). */
  readonly commit: number;
  readonly entries: readonly Entry[];
  /** snap: the whole snapshot (the driver's transport may chunk it on the wire). */
  readonly snapshot: Snapshot | null;
  /** appResp, vote responses, snapStatus: the request was rejected / failed. */
  readonly reject: boolean;
  /** appResp reject: the follower's suggested next probe index (with logTerm: its term there). */
  readonly rejectHint: number;
  /** readIndex/readIndexResp/heartbeat(Resp): the read request's context; vote: CAMPAIGN_TRANSFER. */
  readonly context: string;
}

/** The fields a message may be built from; everything but type, from and to defaults to zero/empty. */
export type MessageInit = Partial<Message> & Pick<Message, "type" | "from" | "to">;

export const NO_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[];

/** Context of a vote request sent because of a leadership transfer: voters ignore their leader lease. */
export const CAMPAIGN_TRANSFER = "campaign-transfer";

/** Builds a Message with every unspecified field zero, empty or null. */
export function makeMessage(init: MessageInit): Message {
  return {
    type: init.type,
    from: init.from,
    to: init.to,
    term: init.term ?? 0,
    logTerm: init.logTerm ?? 0,
    index: init.index ?? 0,
    commit: init.commit ?? 0,
    entries: init.entries ?? NO_ENTRIES,
    snapshot: init.snapshot ?? null,
    reject: init.reject ?? false,
    rejectHint: init.rejectHint ?? 0,
    context: init.context ?? "",
  };
}

const LOCAL_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  "hup",
  "beat",
  "unreachable",
  "snapStatus",
  "checkQuorum",
]);

/** True for kinds that exist only inside one member and must never arrive from the network. */
export function isLocalMessageType(t: MessageType): boolean {
  return LOCAL_TYPES.has(t);
}

/** The response kind a vote request of kind `t` is answered with. */
export function voteResponseType(t: "vote" | "preVote"): "voteResp" | "preVoteResp" {
  return t === "vote" ? "voteResp" : "preVoteResp";
}

/** A ReadIndex result: once this member has applied `index`, it may serve the read tagged `context`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}
