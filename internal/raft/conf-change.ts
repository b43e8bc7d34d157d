// Single-server membership changes (Raft thesis §4.1 as etcd applies them): what a change is, its
// encoding inside a confChange log entry, and the rules deciding whether it is valid for a
// membership.
//
// When a change takes effect: on APPEND (Raft thesis §4.1), not on apply as in etcd. Every member
// uses the newest configuration in its log, committed or not (membership-log.ts), and falls back
// to the previous one if that entry is truncated away. With apply-time changes a member whose
// commit knowledge lags (e.g. it restarts after a torn write kept entries but lost the hard state
// of the same batch) can campaign with a configuration two changes old, whose majorities need
// not overlap the current ones (etcd issue 7625). Guards: (1) a leader appends a change only when
// the previous one is committed, so configurations in use differ by at most one server and any
// two majorities overlap; (2) it appends one only after committing an entry of its own term (the
// fix for the single-server bug in the dissertation's errata); (3) a leader that removes (or
// demotes) itself keeps replicating, without counting itself, until the change commits, then
// steps down. The driver applies a confChange entry by calling RawNode.applyConfChange; for
// snapshots it needs the membership as of the snapshot's index: RawNode.applyConfChange returns it
// entry by entry (confStateAt(index) answers directly). The founding membership is one entry, so
// a torn write can never leave a member with a prefix of it (a one-voter "cluster").

import { ByteReader, ByteWriter } from "./binary.ts";
import { MessageDecodeError } from "./errors.ts";
import type { NodeId } from "./types.ts";

/**
 * addVoter: add a new voter, or promote a learner (once caught up). addLearner: add a new learner,
 * or demote a voter. removeNode: remove a voter or learner. bootstrap: the founding membership,
 * all voters at once (written only by RawNode.bootstrap, never proposed).
 */
export type ConfChangeType = "addVoter" | "addLearner" | "removeNode" | "bootstrap";

export interface ConfChange {
  readonly type: ConfChangeType;
  /** The member concerned (bootstrap: the first founding voter). */
  readonly nodeId: NodeId;
  /** Opaque to Raft, e.g. the new member's advertised URL. */
  readonly context: string;
  /** bootstrap only: every founding voter. */
  readonly voters?: readonly NodeId[];
}

const CC_VERSION = 1;
const CC_TYPES: readonly ConfChangeType[] = ["addVoter", "addLearner", "removeNode", "bootstrap"];
const MAX_ID_BYTES = 1024;
const MAX_CONTEXT_BYTES = 1 << 20;

/** Encodes a ConfChange as the data of a confChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new ByteWriter(32 + cc.nodeId.length + cc.context.length);
  w.u8(CC_VERSION);
  w.u8(CC_TYPES.indexOf(cc.type));
  w.string(cc.nodeId);
  w.string(cc.context);
  if (cc.type === "bootstrap") {
    const voters = cc.voters ?? [];
    w.varint(voters.length);
    for (const v of voters) w.string(v);
  }
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
  if (type === "bootstrap") {
    const n = r.count(2);
    const voters: NodeId[] = [];
    for (let i = 0; i < n; i++) {
      const v = r.string(MAX_ID_BYTES);
      if (v === "") r.fail("empty node id");
      voters.push(v);
    }
    if (r.remaining !== 0) r.fail("trailing bytes");
    return { type, nodeId, context, voters };
  }
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
    case "bootstrap": {
      if (voters.size > 0 || learners.size > 0) return "the cluster is already bootstrapped";
      const list = cc.voters ?? [];
      if (list.length === 0 || new Set(list).size !== list.length) return "bootstrap needs distinct voters";
      return null;
    }
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
    case "bootstrap":
      for (const v of cc.voters ?? []) voters.add(v);
      break;
  }
  return true;
}
