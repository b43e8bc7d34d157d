// Structural and semantic checks on a message arriving from the network, before the core sees
// it. A message failing them is counted and ignored: it cannot have come from a correct member.

import { isLocalMessageType, type Message, type MessageType } from "./message.ts";
import type { Entry, NodeId, Snapshot } from "./types.ts";

const KNOWN_TYPES: ReadonlySet<string> = new Set<MessageType>([
  "hup", "beat", "prop", "app", "appResp", "vote", "voteResp", "snap", "heartbeat", "heartbeatResp",
  "unreachable", "snapStatus", "checkQuorum", "transferLeader", "timeoutNow", "readIndex",
  "readIndexResp", "preVote", "preVoteResp",
]);

function isIndex(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function isId(x: unknown): x is NodeId {
  return typeof x === "string" && x !== "";
}

function entryProblem(e: Entry | undefined): string | null {
  if (e === null || typeof e !== "object") return "entry is not an object";
  if (!isIndex(e.term) || !isIndex(e.index)) return "entry term/index is not a non-negative integer";
  if (e.type !== "normal" && e.type !== "confChange") return "unknown entry type";
  if (!(e.data instanceof Uint8Array)) return "entry data is not bytes";
  return null;
}

function snapshotProblem(s: Snapshot | null, term: number): string | null {
  if (s === null || typeof s !== "object" || s.metadata === null || typeof s.metadata !== "object") {
    return "snapshot missing";
  }
  const { index, term: sterm, confState } = s.metadata;
  if (!isIndex(index) || index === 0) return "snapshot index must be positive";
  if (!isIndex(sterm) || sterm === 0 || sterm > term) return "snapshot term out of range";
  if (confState === null || typeof confState !== "object") return "snapshot conf state missing";
  const { voters, learners } = confState;
  if (!Array.isArray(voters) || !Array.isArray(learners)) return "snapshot conf state malformed";
  if (voters.length === 0) return "snapshot has no voters";
  const seen = new Set<string>();
  for (const id of [...voters, ...learners]) {
    if (!isId(id) || seen.has(id)) return "snapshot conf state has a bad or duplicate member";
    seen.add(id);
  }
  if (!(s.data instanceof Uint8Array)) return "snapshot data is not bytes";
  return null;
}

/** Why `m` cannot be a genuine message to member `self` from another member, or null if it can. */
export function messageProblem(m: Message, self: NodeId): string | null {
  if (m === null || typeof m !== "object") return "not an object";
  if (!KNOWN_TYPES.has(m.type)) return "unknown type";
  if (isLocalMessageType(m.type)) return `${m.type} is a local message`;
  if (!isId(m.from) || m.to !== self) return "bad sender or recipient";
  // A forwarded transferLeader names the transferee as its sender, which may be us.
  if (m.from === self && m.type !== "transferLeader") return "claims to come from this member";
  if (!isIndex(m.term) || !isIndex(m.logTerm) || !isIndex(m.index) || !isIndex(m.commit) || !isIndex(m.rejectHint)) {
    return "numeric field is not a non-negative integer";
  }
  if (typeof m.reject !== "boolean" || typeof m.context !== "string") return "bad reject/context";
  if (!Array.isArray(m.entries)) return "entries is not an array";
  const termless = m.type === "prop" || m.type === "readIndex";
  if (termless !== (m.term === 0)) return termless ? "prop/readIndex must carry term 0" : "term 0";
  if (m.type === "snap") {
    const p = snapshotProblem(m.snapshot, m.term);
    if (p !== null) return p;
  } else if (m.snapshot !== null) {
    return "unexpected snapshot";
  }
  if (m.type === "app") {
    if (!Number.isSafeInteger(m.index + m.entries.length)) return "index overflow";
    if (m.logTerm > m.term) return "previous log term above the message term";
    let prevTerm = m.logTerm;
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i];
      const p = entryProblem(e);
      if (p !== null) return p;
      if (e!.index !== m.index + 1 + i) return "entries not contiguous after index";
      if (e!.term < prevTerm || e!.term > m.term || e!.term === 0) return "entry terms out of order";
      prevTerm = e!.term;
    }
    if (m.index === 0 && m.logTerm !== 0) return "log term at index 0 must be 0";
  } else if (m.type === "prop") {
    if (m.entries.length === 0) return "empty proposal";
    for (const e of m.entries) {
      const p = entryProblem(e);
      if (p !== null) return p;
    }
  } else if (m.entries.length !== 0) {
    return "unexpected entries";
  }
  if (m.type === "readIndex" && m.context === "") return "read index without context";
  return null;
}
