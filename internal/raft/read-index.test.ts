// Linearizable reads (thesis §6.4): ReadIndex in safe mode, forwarding from followers, and the
// lease-based variant.

import { describe, expect, test } from "bun:test";
import { ReadIndexDroppedError } from "./errors.ts";
import { msg, TestNetwork } from "./test-network.ts";

const ABC = ["a", "b", "c"];

describe("ReadIndex (safe)", () => {
  test("the leader answers after a heartbeat round with its commit index", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.propose("a", "x");
    const a = net.get("a");
    a.node.readIndex("r1");
    net.processAll();
    expect(a.readStates).toHaveLength(0); // not before a quorum confirmed leadership
    expect(net.queue.filter((m) => m.type === "heartbeat" && m.context === "r1")).toHaveLength(2);
    net.stabilize();
    expect(a.readStates).toEqual([{ index: a.raft.log.committed, context: "r1" }]);
  });

  test("without a quorum there is no answer", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("a");
    net.get("a").node.readIndex("r1");
    net.stabilize();
    expect(net.get("a").readStates).toHaveLength(0);
  });

  test("a follower forwards to the leader and gets the read index back", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.propose("a", "x");
    net.get("b").node.readIndex("rb");
    net.stabilize();
    expect(net.get("b").readStates).toEqual([{ index: net.get("a").raft.log.committed, context: "rb" }]);
  });

  test("with no known leader the request is refused at once", () => {
    const net = TestNetwork.cluster(ABC);
    expect(() => net.get("b").node.readIndex("rb")).toThrow(ReadIndexDroppedError);
  });

  test("a new leader waits until an entry of its term is committed", () => {
    const net = TestNetwork.cluster(ABC);
    net.intercept = (m) => m.type !== "app"; // the new leader's no-op does not get out
    net.elect("a");
    const a = net.get("a");
    expect(a.raft.role).toBe("leader");
    a.node.readIndex("r");
    net.stabilize();
    expect(a.readStates).toHaveLength(0);
    expect(a.raft.pendingReadIndexMessages).toHaveLength(1);
    net.intercept = null;
    net.tickAll(1);
    expect(a.readStates.map((r) => r.context)).toEqual(["r"]);
    expect(a.readStates[0]!.index).toBe(a.raft.log.committed);
  });

  test("one heartbeat round answers every read queued before it", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const a = net.get("a");
    net.blocked.add("b->a");
    net.blocked.add("c->a");
    for (let i = 0; i < 5; i++) a.node.readIndex(`r${i}`);
    net.stabilize();
    expect(a.readStates).toHaveLength(0);
    net.heal();
    a.node.tick(); // the periodic heartbeat carries the newest context
    net.stabilize();
    expect(a.readStates.map((r) => r.context)).toEqual(["r0", "r1", "r2", "r3", "r4"]);
  });
});

describe("lease-based reads", () => {
  test("are answered at once while the lease holds", () => {
    const net = TestNetwork.cluster(ABC, { readOnly: "leaseBased", electionTick: 10 });
    net.tickAll(30);
    const l = net.leader()!;
    net.tickAll(2);
    const n = net.get(l);
    net.isolate(l); // nothing gets through, but the lease is still fresh
    n.node.readIndex("fast");
    net.processAll();
    expect(n.readStates.map((r) => r.context)).toEqual(["fast"]);
  });

  test("stop once the lease could have expired, and resume when a quorum answers", () => {
    const net = TestNetwork.cluster(ABC, { readOnly: "leaseBased", electionTick: 10 });
    net.tickAll(30);
    const l = net.leader()!;
    const n = net.get(l);
    net.isolate(l);
    for (let i = 0; i < 8; i++) n.node.tick();
    n.node.readIndex("late");
    net.stabilize();
    expect(n.readStates).toHaveLength(0);
    net.heal();
    n.node.tick();
    net.stabilize();
    if (n.raft.role === "leader") expect(n.readStates.map((r) => r.context)).toEqual(["late"]);
  });

  test("a restarted member honours a lease it may have granted before the crash", () => {
    const net = TestNetwork.cluster(ABC, { readOnly: "leaseBased", electionTick: 10 });
    net.tickAll(30);
    const l = net.leader()!;
    const other = ABC.find((x) => x !== l)!;
    const r = net.restart(other);
    r.node.step(msg({ type: "vote", from: "zz", to: other, term: r.raft.term + 1, index: 100, logTerm: 100 }));
    expect(r.raft.dropped.ignoredInLease).toBe(1);
    for (let i = 0; i < 10; i++) r.node.tick();
    r.node.step(msg({ type: "vote", from: "zz", to: other, term: r.raft.term + 1, index: 100, logTerm: 100 }));
    expect(r.raft.vote).toBe("zz");
  });

  test("require check-quorum", () => {
    expect(() => TestNetwork.cluster(ABC, { readOnly: "leaseBased", checkQuorum: false })).toThrow();
  });

  test("are refused while a leadership transfer may let another member win without a lease", () => {
    const net = TestNetwork.cluster(ABC, { readOnly: "leaseBased", electionTick: 10 });
    net.tickAll(30);
    const l = net.leader()!;
    const other = ABC.find((x) => x !== l)!;
    net.blocked.add(`${other}->${l}`); // keep the transfer from completing
    net.get(l).node.transferLeadership(other);
    net.stabilize();
    expect(net.get(l).raft.leaseValid()).toBe(false);
  });
});
