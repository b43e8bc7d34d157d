// Message handling of a leader: proposals, reads, replication feedback and leadership transfer.

import { ConfChangeRejectedError, ProposalDroppedError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { Raft } from "./raft.ts";
import type { EntryType } from "./types.ts";

const EMPTY_DATA = new Uint8Array(0);

export function stepLeader(r: Raft, m: Message): void {
  // Kinds that need no progress for m.from.
  switch (m.type) {
    case "beat":
      r.bcastHeartbeat();
      return;
    case "checkQuorum":
      r.checkQuorum();
      return;
    case "prop":
      handleProposal(r, m);
      return;
    case "readIndex":
      handleReadIndex(r, m);
      return;
    default:
      break;
  }

  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) {
    r.dropped.unknownPeer++;
    return;
  }
  switch (m.type) {
    case "appResp": {
      pr.recentActive = true;
      if (m.reject) {
        // Skip, on our side, every index whose term is above the follower's term at its hint:
        // at most one probe per term of our log (see log.findConflictByTerm).
        let nextProbe = m.rejectHint;
        if (m.logTerm > 0) nextProbe = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
        if (pr.maybeDecrTo(m.index, nextProbe)) {
          if (pr.state === "replicate") pr.becomeProbe();
          r.sendAppend(m.from);
        }
        return;
      }
      if (m.index > r.log.lastIndex()) {
        r.dropped.invalid++; // acknowledges entries we never had: forged
        return;
      }
      const wasPaused = pr.isPaused();
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === "probe")) {
        if (pr.state === "probe") {
          pr.becomeReplicate();
        } else if (pr.state === "snapshot" && pr.match + 1 >= r.log.firstIndex()) {
          // The snapshot (or log entries) got the follower far enough to continue from the log.
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === "replicate") {
          pr.inflights.freeLE(m.index);
        }
        if (r.maybeCommit()) {
          if (r.role !== "leader") return; // the configuration removing it committed
          releasePendingReadIndexMessages(r);
          r.bcastAppend();
        } else if (wasPaused || r.log.committed > pr.sentCommit) {
          r.sendAppend(m.from);
        }
        // The window may have opened for several messages: send what we have (no empty ones).
        while (r.maybeSendAppend(m.from, false)) {
          /* pipelining */
        }
        if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) r.sendTimeoutNow(m.from);
      }
      return;
    }
    case "heartbeatResp": {
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      if (pr.match < r.log.lastIndex() || pr.state === "probe") r.sendAppend(m.from);
      if (r.cfg.readOnly === "leaseBased") {
        const t = Number(m.context);
        if (m.context !== "" && Number.isSafeInteger(t) && t <= r.leaderTicks && t > pr.leaseAckTick) {
          pr.leaseAckTick = t;
        }
        releaseLeaseReads(r);
        return;
      }
      if (m.context === "") return;
      const acks = r.readOnly.recvAck(m.from, m.context);
      if (acks === undefined || !r.trk.hasQuorum(acks)) return;
      for (const rs of r.readOnly.advance(m.context)) r.respondToReadIndex(rs.request, rs.index);
      return;
    }
    case "snapStatus": {
      if (pr.state !== "snapshot") return;
      if (m.reject) pr.pendingSnapshot = 0;
      // Success: wait for the follower's MsgAppResp before sending more. Failure: retry from a
      // probe after the next heartbeat response.
      pr.becomeProbe();
      pr.msgAppFlowPaused = true;
      return;
    }
    case "unreachable":
      // Pipelined messages were probably lost: go back to probing.
      if (pr.state === "replicate") pr.becomeProbe();
      return;
    case "transferLeader": {
      if (pr.isLearner) return;
      const target = m.from;
      if (r.leadTransferee !== null) {
        if (r.leadTransferee === target) return;
        r.abortLeaderTransfer();
      }
      if (target === r.id) return;
      // The transfer must finish within one election timeout or it is abandoned.
      r.electionElapsed = 0;
      r.leadTransferee = target;
      if (pr.match === r.log.lastIndex()) r.sendTimeoutNow(target);
      else r.sendAppend(target);
      return;
    }
    default:
      return;
  }
}

function handleProposal(r: Raft, m: Message): void {
  const local = m.from === r.id;
  if (m.entries.length === 0) {
    r.dropped.invalid++;
    return;
  }
  if (!local && !r.trk.progress.has(m.from)) {
    r.dropped.unknownPeer++;
    return;
  }
  if (!r.trk.voters.has(r.id)) throw new ProposalDroppedError(null, "this member is leaving the cluster");
  if (r.leadTransferee !== null) {
    throw new ProposalDroppedError(null, `leadership transfer to ${r.leadTransferee} in progress`);
  }
  let accepted = false;
  let entries: { type: EntryType; data: Uint8Array }[] | null = null;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    if (e.type !== "confChange") continue;
    // One uncommitted configuration at a time: a second one in the same batch waits too.
    const problem = r.confChangeProposalProblem(e.data, accepted);
    if (problem === null) {
      accepted = true;
      continue;
    }
    if (local) throw new ConfChangeRejectedError(problem);
    // A forwarded batch keeps its shape; the refused change becomes a no-op entry.
    entries ??= m.entries.map((x) => ({ type: x.type, data: x.data }));
    entries[i] = { type: "normal", data: EMPTY_DATA };
  }
  if (!r.appendEntry(entries ?? m.entries)) {
    throw new ProposalDroppedError(r.id, "too many uncommitted entries");
  }
  if (r.role === "leader") r.bcastAppend();
}

function handleReadIndex(r: Raft, m: Message): void {
  if (m.from !== r.id && !r.trk.progress.has(m.from)) {
    r.dropped.unknownPeer++;
    return;
  }
  if (r.trk.isSingleton()) {
    r.respondToReadIndex(m, r.log.committed);
    return;
  }
  // A new leader's commit index may lag what the previous leader committed: its first entry of
  // this term must be committed before the commit index can serve as a read index (thesis §6.4).
  if (!r.committedEntryInCurrentTerm()) {
    r.pendingReadIndexMessages.push(m);
    return;
  }
  sendReadIndexResponse(r, m);
}

function sendReadIndexResponse(r: Raft, m: Message): void {
  if (r.cfg.readOnly === "leaseBased") {
    if (r.leaseValid()) {
      r.respondToReadIndex(m, r.log.committed);
    } else {
      r.pendingLeaseReads.push(m);
      r.bcastHeartbeat();
    }
    return;
  }
  // Safe: remember the commit index now, confirm leadership with a heartbeat round.
  if (!r.readOnly.addRequest(r.log.committed, m)) {
    r.dropped.invalid++; // a context already pending: contexts must be unique
    return;
  }
  r.readOnly.recvAck(r.id, m.context);
  r.bcastHeartbeat(m.context);
}

function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0 || !r.committedEntryInCurrentTerm()) return;
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendReadIndexResponse(r, m);
}

function releaseLeaseReads(r: Raft): void {
  if (r.pendingLeaseReads.length === 0 || !r.leaseValid()) return;
  const msgs = r.pendingLeaseReads;
  r.pendingLeaseReads = [];
  for (const m of msgs) r.respondToReadIndex(m, r.log.committed);
}
