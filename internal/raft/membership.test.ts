// Single-server membership changes (§6 of the Raft paper, thesis §4.1) as applied at apply time,
// with etcd's guards.

import { describe, expect, test } from "bun:test";
import type { ConfChange } from "./conf-change.ts";
import { ConfChangeRejectedError } from "./errors.ts";
import { TestNetwork } from "./test-network.ts";

const ABC = ["a", "b", "c"];
const cc = (type: ConfChange["type"], nodeId: string): ConfChange => ({ type, nodeId, context: "" });

describe("§6 cluster membership changes (single-server, on append: thesis §4.1)", () => {
  test("add a learner, let it catch up, promote it; it then counts for commitment", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    for (let i = 0; i < 5; i++) net.propose("a", `v${i}`);
    net.addNode("d");
    net.get("a").node.proposeConfChange(cc("addLearner", "d"));
    net.stabilize();
    const a = net.get("a");
    expect(a.confState).toEqual({ voters: ABC, learners: ["d"] });
    net.tickAll(2);
    const st = a.node.status();
    // the driver's rule: promote once the learner's match reached the leader's commit index
    expect(st.progress!.d!.isLearner).toBe(true);
    expect(st.progress!.d!.match).toBeGreaterThanOrEqual(st.commit);
    expect(net.get("d").appliedData()).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    a.node.proposeConfChange(cc("addVoter", "d"));
    net.stabilize();
    expect(a.confState.voters).toEqual([...ABC, "d"]);
    expect(net.get("d").confState.voters).toEqual([...ABC, "d"]);
    // with 4 voters, a commit needs 3: a and d alone are not enough
    net.cut("a", "b");
    net.cut("a", "c");
    net.propose("a", "needs-three");
    expect(a.appliedData()).not.toContain("needs-three");
  });

  test("learners never vote for commitment and never campaign", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.addNode("d");
    net.get("a").node.proposeConfChange(cc("addLearner", "d"));
    net.stabilize();
    net.cut("a", "b");
    net.cut("a", "c");
    net.propose("a", "x");
    expect(net.get("d").raft.log.lastIndex()).toBe(net.get("a").raft.log.lastIndex());
    expect(net.get("a").appliedData()).not.toContain("x"); // a + learner d is no quorum
    net.heal();
    net.isolate("d");
    net.tickAll(50);
    expect(net.get("d").raft.role).toBe("follower");
    expect(net.get("d").raft.term).toBe(net.get("a").raft.term);
  });

  test("at most one unapplied change: a second proposal is refused until the first is applied", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.addNode("d");
    net.addNode("e");
    const a = net.get("a").node;
    a.proposeConfChange(cc("addLearner", "d"));
    expect(() => a.proposeConfChange(cc("addLearner", "e"))).toThrow(ConfChangeRejectedError);
    net.stabilize();
    a.proposeConfChange(cc("addLearner", "e"));
    net.stabilize();
    expect(net.get("a").confState.learners).toEqual(["d", "e"]);
  });

  test("a new leader proposes no change before it has committed an entry of its term", () => {
    const net = TestNetwork.cluster(ABC);
    net.intercept = (m) => m.type !== "app";
    net.elect("a");
    expect(net.get("a").raft.role).toBe("leader");
    expect(() => net.get("a").node.proposeConfChange(cc("removeNode", "c"))).toThrow(ConfChangeRejectedError);
    net.intercept = null;
    net.tickAll(1);
    net.get("a").node.proposeConfChange(cc("removeNode", "c"));
    net.stabilize();
    expect(net.get("a").confState.voters).toEqual(["a", "b"]);
  });

  test("invalid changes are refused at proposal: removing a non-member, the last voter, re-adding a voter", () => {
    const net = TestNetwork.cluster(["a"]);
    net.elect("a");
    const a = net.get("a").node;
    expect(() => a.proposeConfChange(cc("removeNode", "zz"))).toThrow(ConfChangeRejectedError);
    expect(() => a.proposeConfChange(cc("removeNode", "a"))).toThrow(ConfChangeRejectedError);
    expect(() => a.proposeConfChange(cc("addVoter", "a"))).toThrow(ConfChangeRejectedError);
  });

  test("removing the leader: it steps down once the change is applied and the rest elect a leader", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.get("a").node.proposeConfChange(cc("removeNode", "a"));
    net.stabilize();
    expect(net.get("a").raft.role).toBe("follower");
    expect(net.get("b").confState.voters).toEqual(["b", "c"]);
    net.tickAll(30);
    const l = net.leader();
    expect(l === "b" || l === "c").toBe(true);
    net.propose(l!, "after");
    expect(net.get("b").appliedData()).toContain("after");
  });

  test("a snapshot carries the membership to a member that missed the changes", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("c");
    net.addNode("d");
    net.get("a").node.proposeConfChange(cc("addLearner", "d"));
    net.stabilize();
    const a = net.get("a");
    a.storage.createSnapshot(a.raft.log.applied, a.confState, new Uint8Array());
    a.storage.compact(a.raft.log.applied);
    net.heal();
    net.tickAll(3);
    expect(net.get("c").raft.trk.confState()).toEqual({ voters: ABC, learners: ["d"] });
  });
});
