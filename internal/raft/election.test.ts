// Leader election beyond Figure 2: §5.4.1 election restriction, pre-vote (thesis §9.6),
// check-quorum and leader leases (thesis §4.2.3, §6.4), and the etcd nuances around terms.

import { describe, expect, test } from "bun:test";
import { msg, TestNetwork } from "./test-network.ts";

const ABC = ["a", "b", "c"];

describe("§5.4.1 election restriction", () => {
  test("a member missing committed entries cannot be elected", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("c");
    net.propose("a", "x");
    net.heal();
    net.get("a").up = false; // the leader dies; c has an older log than b
    net.elect("c");
    expect(net.get("c").raft.role).not.toBe("leader");
    net.elect("b");
    expect(net.get("b").raft.role).toBe("leader");
  });
});

describe("pre-vote (thesis §9.6)", () => {
  test("a partitioned member does not raise its term while it cannot win", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const term = net.get("a").raft.term;
    net.isolate("c");
    net.tickAll(100);
    expect(net.get("c").raft.term).toBe(term);
    expect(net.get("c").raft.role).toBe("preCandidate");
    net.heal();
    net.tickAll(3);
    expect(net.get("a").raft.role).toBe("leader");
    expect(net.get("a").raft.term).toBe(term);
  });

  test("pre-votes are granted for a future term without changing the voter's term or vote", () => {
    const net = TestNetwork.cluster(ABC, { checkQuorum: false });
    const b = net.get("b");
    b.node.step(msg({ type: "preVote", from: "c", to: "b", term: 5, index: 3, logTerm: 1 }));
    net.processAll();
    const resp = net.queue.find((m) => m.type === "preVoteResp")!;
    expect(resp).toMatchObject({ to: "c", term: 5, reject: false });
    expect(b.raft.term).toBe(1);
    expect(b.raft.vote).toBeNull();
  });
});

describe("check-quorum", () => {
  test("a leader that cannot reach a quorum steps down within two election timeouts", () => {
    const net = TestNetwork.cluster(ABC, { electionTick: 10 });
    net.elect("a");
    net.isolate("a");
    net.tickAll(20);
    expect(net.get("a").raft.role).toBe("follower");
  });

  test("a leader keeps its role while it hears from a quorum", () => {
    const net = TestNetwork.cluster(ABC, { electionTick: 10 });
    net.elect("a");
    net.get("c").up = false;
    net.tickAll(100);
    expect(net.get("a").raft.role).toBe("leader");
  });

  test("followers ignore vote requests while they heard from a live leader (lease)", () => {
    const net = TestNetwork.cluster(ABC, { electionTick: 10, preVote: false });
    net.elect("a");
    const term = net.get("a").raft.term;
    // c is cut off from a only, and campaigns: b still hears from a and ignores c.
    net.cut("a", "c");
    net.tickAll(50);
    expect(net.get("a").raft.role).toBe("leader");
    expect(net.get("b").raft.term).toBe(term);
    expect(net.get("b").raft.dropped.ignoredInLease).toBeGreaterThan(0);
  });
});

describe("terms: the etcd nuances", () => {
  test("a stale leader learns the new term from a follower's answer to its append", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("a");
    net.tickAll(30); // b or c takes over; a stepped down by check-quorum, but say it did not:
    const a = net.get("a");
    a.raft.becomeLeader();
    const oldTerm = a.raft.term;
    net.heal();
    net.stabilize();
    a.node.tick();
    net.stabilize();
    expect(a.raft.role).toBe("follower");
    expect(a.raft.term).toBeGreaterThan(oldTerm);
  });

  test("a pre-candidate with a smaller term learns the term from rejections and can win later", () => {
    // etcd TestNodeWithSmallerTermCanCompleteElection: c stays at an old term while a and b move
    // on; then the new leader dies and c, the laggard, must still be able to form a quorum.
    const net = TestNetwork.cluster(ABC, { electionTick: 10 });
    net.elect("a");
    const t0 = net.get("a").raft.term;
    net.isolate("c");
    net.cut("a", "b");
    net.tickAll(40); // a steps down (check-quorum); nobody can win alone
    net.heal();
    net.isolate("c");
    net.tickAll(40); // a and b elect a leader of a newer term
    const leader = net.leader()!;
    expect(net.get(leader).raft.term).toBeGreaterThan(t0);
    expect(net.get("c").raft.term).toBe(t0);
    net.get(leader).up = false;
    net.heal();
    net.tickAll(60);
    const survivor = leader === "a" ? "b" : "a";
    expect(net.get(survivor).raft.role).toBe("leader");
    expect(net.get("c").raft.term).toBe(net.get(survivor).raft.term);
    expect(net.get("c").raft.lead).toBe(survivor);
  });
});
