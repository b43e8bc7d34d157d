// Message handling of followers and (pre-)candidates.

import { ProposalDroppedError, ReadIndexDroppedError } from "./errors.ts";
import type { Message } from "./message.ts";
import type { Raft } from "./raft.ts";

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case "prop":
      if (m.from !== r.id) {
        r.dropped.rejected++; // forwarded to us but we are not the leader: never forward twice
        return;
      }
      if (r.lead === null) throw new ProposalDroppedError(null, "no leader");
      if (r.cfg.disableProposalForwarding) throw new ProposalDroppedError(r.lead, "proposal forwarding is disabled");
      r.forward(m, r.lead);
      return;
    case "app":
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return;
    case "heartbeat":
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return;
    case "snap":
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return;
    case "transferLeader":
      if (m.term !== 0) {
        r.dropped.rejected++;
        return;
      }
      if (r.lead === null) throw new ProposalDroppedError(null, "no leader to transfer leadership from");
      r.forward(m, r.lead);
      return;
    case "timeoutNow":
      // Only our leader may tell us to start a transfer election (which skips pre-vote and the
      // voters' leases: the leader itself asked for it).
      if (m.from !== r.lead) {
        r.dropped.invalid++;
        return;
      }
      r.hup("transfer");
      return;
    case "readIndex":
      if (m.from !== r.id) {
        r.dropped.rejected++;
        return;
      }
      if (r.lead === null) throw new ReadIndexDroppedError(null, "no leader");
      r.forward(m, r.lead);
      return;
    case "readIndexResp":
      if (m.from !== r.lead) {
        r.dropped.invalid++;
        return;
      }
      r.readStates.push({ index: m.index, context: m.context });
      return;
    default:
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  switch (m.type) {
    case "prop":
      if (m.from !== r.id) return;
      throw new ProposalDroppedError(null, "no leader (election in progress)");
    case "readIndex":
      if (m.from !== r.id) return;
      throw new ReadIndexDroppedError(null, "no leader (election in progress)");
    case "transferLeader":
      if (m.term !== 0) return;
      throw new ProposalDroppedError(null, "no leader to transfer leadership from");
    case "app":
      // A leader exists in our term (or a newer one): it won, we follow.
      r.becomeFollower(m.term, m.from);
      r.handleAppendEntries(m);
      return;
    case "heartbeat":
      r.becomeFollower(m.term, m.from);
      r.handleHeartbeat(m);
      return;
    case "snap":
      r.becomeFollower(m.term, m.from);
      r.handleSnapshot(m);
      return;
    case "voteResp":
    case "preVoteResp": {
      if ((r.role === "preCandidate") !== (m.type === "preVoteResp")) return;
      const res = r.poll(m.from, !m.reject);
      if (res === "won") {
        if (r.role === "preCandidate") {
          r.campaign("election");
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (res === "lost") {
        // Our term is the newest any voter answered with (higher ones made us a follower already).
        r.becomeFollower(r.term, null);
      }
      return;
    }
    default:
      return;
  }
}
