// Single-server membership changes (Raft thesis §4.1 as etcd applies them): what a change is, its
// encoding inside a confChange log entry, and the rules deciding whether it is valid for a
// membership.
//
// When a change takes effect: on APPLY, as in etcd. The leader appends the entry; once it is
// committed, every member's driver applies it and calls RawNode.applyConfChange. Safety comes from
// the guards in raft.ts: (1) at most one change is in the log and not yet applied (the leader
// refuses a proposal while pendingConfIndex > applied, and a new leader sets pendingConfIndex to
// its last index), so any two configurations in use at once differ by at most one server and
// their majorities overlap; (2) a leader proposes a change only after committing an entry of its
// own term (the fix for the single-server bug found in Ongaro's dissertation errata); (3) a member
// with a committed but unapplied change does not campaign, so it never counts votes with a
// configuration older than one already committed.

import { ByteReader, ByteWriter } from "./binary.ts";
import { MessageDecodeError } from "./errors.ts";
import type { NodeId } from "./types.ts";

/**
 * addVoter: add a new voter, or promote a learner (once caught up). addLearner: add a new learner,
 * or demote a voter. removeNode: remove a voter or learner.
 */
export type ConfChangeType = "addVoter" | "addLearner" | "removeNode";

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to Raft, e.g. the new member's advertised URL. */
  readonly context: string;
}

const CC_VERSION = 1;
const CC_TYPES: readonly ConfChangeType[] = ["addVoter", "addLearner", "removeNode"];
const MAX_ID_BYTES = 1024;
const MAX_CONTEXT_BYTES = 1 << 20;

/** Encodes a ConfChange as the data of a confChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new ByteWriter(32 + cc.nodeId.length + cc.context.length);
  w.u8(CC_VERSION);
  w.u8(CC_TYPES.indexOf(cc.type));
  w.string(cc.nodeId);
  w.string(cc.context);
  return w.finish();
}

/** Decodes a confChange entry's data; throws MessageDecodeError on anything malformed. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const r = new ByteReader(data);
  if (r.u8() !== CC_VERSION) r.fail("unknown conf change version");
  const type = CC_TYPES[r.u8()] ?? r.fail("unknown conf change type");
  const nodeId = r.string(MAX_ID_BYTES);
  if (nodeId === "") r.fail("empty node id");
  const context = r.string(MAX_CONTEXT_BYTES);
  if (r.remaining !== 0) r.fail("trailing bytes");
  return { type, nodeId, context };
}

/** Decodes without throwing: undefined for malformed data. */
export function tryDecodeConfChange(data: Uint8Array): ConfChange | undefined {
  try {
    return decodeConfChange(data);
  } catch (e) {
    if (e instanceof MessageDecodeError) return undefined;
    throw e;
  }
}

/** Why `cc` cannot be applied to this membership, or null if it can. */
export function confChangeProblem(
  cc: ConfChange,
  voters: ReadonlySet<NodeId>,
  learners: ReadonlySet<NodeId>,
): string | null {
  const id = cc.nodeId;
  switch (cc.type) {
    case "addVoter":
      return voters.has(id) ? `${id} is already a voter` : null;
    case "addLearner":
      if (learners.has(id)) return `${id} is already a learner`;
      if (voters.has(id) && voters.size === 1) return `cannot demote the last voter ${id}`;
      return null;
    case "removeNode":
      if (!voters.has(id) && !learners.has(id)) return `${id} is not a member`;
      if (voters.has(id) && voters.size === 1) return `cannot remove the last voter ${id}`;
      return null;
  }
}

/** Applies `cc` to the sets in place; returns false (changing nothing) if it is not valid. */
export function applyToMembership(cc: ConfChange, voters: Set<NodeId>, learners: Set<NodeId>): boolean {
  if (confChangeProblem(cc, voters, learners) !== null) return false;
  switch (cc.type) {
    case "addVoter":
      learners.delete(cc.nodeId);
      voters.add(cc.nodeId);
      break;
    case "addLearner":
      voters.delete(cc.nodeId);
      learners.add(cc.nodeId);
      break;
    case "removeNode":
      voters.delete(cc.nodeId);
      learners.delete(cc.nodeId);
      break;
  }
  return true;
}
