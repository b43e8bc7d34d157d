// Named regression tests for the known ways Raft implementations go wrong. Each name carries the
// pitfall's usual name so it can be found.

import { describe, expect, test } from "bun:test";
import type { ConfChange } from "./conf-change.ts";
import { ConfChangeRejectedError } from "./errors.ts";
import { msg, seededRandom, TestNetwork, textEntry } from "./test-network.ts";

const ABC = ["a", "b", "c"];
const ABCDE = ["a", "b", "c", "d", "e"];
const cc = (type: ConfChange["type"], nodeId: string): ConfChange => ({ type, nodeId, context: "" });

describe("pitfalls", () => {
  test("figure 8: an entry of an older term is not committed by counting replicas", () => {
    // Raft paper, Figure 8. One entry per message, so a follower can acknowledge the old entry
    // without the new leader's own entry after it.
    const net = TestNetwork.cluster(ABCDE, { checkQuorum: false, preVote: false, maxSizePerMsg: 1 });
    net.elect("a");
    const i = net.get("a").raft.log.lastIndex() + 1; // the contested index
    net.partition(["a", "b"], ["c", "d", "e"]);
    net.propose("a", "x"); // (a) x at i, term 2, on a and b only
    net.get("a").up = false;
    net.heal();
    net.intercept = (m) => !(m.from === "e" && m.type === "app");
    net.elect("e"); // (b) e leads term 3 with c, d; its own entry at i never leaves e
    expect(net.get("e").raft.role).toBe("leader");
    expect(net.get("e").raft.log.term(i)).toBe(3);
    net.get("e").up = false;
    net.queue = [];
    net.restart("a");
    // (c) a returns, wins a later term and replicates x to c, but not its own entry at i+1.
    net.intercept = (m) => {
      // c gets x, and probes it will reject, but never a's entry at i+1
      if (m.type === "app" && m.to === "c") {
        return m.entries.every((e) => e.index <= i) || m.index > net.get("c").raft.log.lastIndex();
      }
      if (m.to === "d" || m.from === "d") return m.type !== "app" && m.type !== "appResp";
      return true;
    };
    for (let k = 0; k < 3 && net.get("a").raft.role !== "leader"; k++) net.elect("a");
    const a = net.get("a");
    expect(a.raft.role).toBe("leader");
    net.stabilize();
    expect(net.get("c").raft.log.term(i)).toBe(2); // x is on a majority (a, b, c)...
    expect(a.raft.log.committed).toBeLessThan(i); // ...and still not committed
    expect(a.appliedData()).not.toContain("x");
    // (d) a dies; e comes back and wins with c and d: it may overwrite x, which nobody applied.
    a.up = false;
    net.intercept = null;
    net.queue = [];
    net.restart("e");
    for (let k = 0; k < 3 && net.get("e").raft.role !== "leader"; k++) net.elect("e");
    expect(net.get("e").raft.role).toBe("leader");
    net.propose("e", "y");
    for (const id of ["b", "c", "d", "e"]) {
      expect(net.get(id).raft.log.term(i)).toBe(3);
      expect(net.get(id).appliedData()).toEqual(["y"]);
    }
  });

  test("stale read without ReadIndex: a partitioned old leader's state is stale, ReadIndex refuses it", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.propose("a", "v1");
    net.isolate("a"); // a still believes it leads
    net.tickAll(25);
    const l = net.leader();
    const newLeader = net.leaders().find((x) => x.id !== "a")!.id;
    expect(l).toBeDefined();
    net.propose(newLeader, "v2");
    // Serving from a's local state would return v1 after v2 was acknowledged: a stale read.
    expect(net.get(newLeader).appliedData()).toEqual(["v1", "v2"]);
    expect(net.get("a").appliedData()).toEqual(["v1"]);
    // ReadIndex on the old leader never answers (no quorum confirms its leadership)...
    net.get("a").raft.becomeLeader(); // even if it still thought it led
    net.get("a").node.readIndex("stale?");
    net.stabilize();
    net.get("a").node.tick();
    net.stabilize();
    expect(net.get("a").readStates).toHaveLength(0);
    // ...while the real leader's read index covers v2.
    net.get(newLeader).node.readIndex("fresh");
    net.stabilize();
    const rs = net.get(newLeader).readStates.find((r) => r.context === "fresh")!;
    const v2 = net.get(newLeader).applied.find((e) => new TextDecoder().decode(e.data) === "v2")!;
    expect(rs.index).toBeGreaterThanOrEqual(v2.index);
  });

  test("pre-vote with check-quorum: a rejoining node does not disrupt a healthy leader", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const term = net.get("a").raft.term;
    net.isolate("c");
    net.tickAll(200);
    net.propose("a", "while-away");
    net.heal();
    net.tickAll(5);
    expect(net.get("a").raft.role).toBe("leader");
    expect(net.get("a").raft.term).toBe(term);
    for (const n of net.nodes.values()) expect(n.raft.term).toBe(term);
    expect(net.get("c").appliedData()).toEqual(["while-away"]);
  });

  test("membership change while the leader changes: the new leader waits for the old change", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.addNode("d");
    net.addNode("e");
    net.cut("a", "c");
    net.blocked.add("b->a"); // b receives the change but a never hears back: it stays uncommitted
    net.get("a").node.proposeConfChange(cc("addLearner", "d"));
    net.stabilize();
    const changeIndex = net.get("a").raft.log.lastIndex();
    expect(net.get("b").raft.log.lastIndex()).toBe(changeIndex);
    expect(net.get("a").raft.log.committed).toBeLessThan(changeIndex);
    // The change is in force on a and b from the moment it is in their logs.
    expect(net.get("b").raft.trk.confState()).toEqual({ voters: ABC, learners: ["d"] });
    expect(net.get("c").raft.trk.confState()).toEqual({ voters: ABC, learners: [] });
    net.get("a").up = false;
    net.heal();
    net.intercept = (m) => !(m.from === "b" && m.type === "app"); // b's own entry cannot commit yet
    net.tickAll(30);
    expect(net.leader()).toBe("b"); // c lacks the change, so only b can win
    const b = net.get("b");
    expect(b.raft.log.committed).toBeLessThan(changeIndex);
    // Until the inherited change commits (with b's first entry), b refuses another one.
    expect(() => b.node.proposeConfChange(cc("addLearner", "e"))).toThrow(ConfChangeRejectedError);
    net.intercept = null;
    net.tickAll(1);
    expect(b.raft.log.committed).toBeGreaterThan(changeIndex);
    expect(b.confState.learners).toEqual(["d"]);
    b.node.proposeConfChange(cc("addLearner", "e"));
    net.stabilize();
    expect(net.get("c").confState.learners).toEqual(["d", "e"]);
  });

  test("two leaders in one term never happens (random partitions, crashes, restarts)", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = seededRandom(seed);
      const ids = seed % 2 === 0 ? ABCDE : ABC;
      const net = TestNetwork.cluster(ids, { preVote: seed % 4 !== 0, checkQuorum: seed % 5 !== 0 });
      const leaderOf = new Map<number, string>();
      for (let round = 0; round < 150; round++) {
        const r = rnd();
        if (r < 0.05) {
          net.heal();
          const side = ids.filter(() => rnd() < 0.5);
          net.partition(side, ids.filter((x) => !side.includes(x)));
        } else if (r < 0.08) {
          net.heal();
        } else if (r < 0.1) {
          const id = ids[Math.floor(rnd() * ids.length)]!;
          net.restart(id);
        } else if (r < 0.15) {
          const id = ids[Math.floor(rnd() * ids.length)]!;
          net.get(id).node.campaign();
        }
        for (const n of net.nodes.values()) n.node.tick();
        net.stabilize();
        for (const { id, term } of net.leaders()) {
          const known = leaderOf.get(term);
          if (known !== undefined && known !== id) throw new Error(`seed ${seed}: ${known} and ${id} lead term ${term}`);
          leaderOf.set(term, id);
        }
      }
      expect(leaderOf.size).toBeGreaterThan(0);
    }
  });

  test("snapshot install racing with appends: appends around an in-flight snapshot Ready", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    for (let i = 0; i < 10; i++) net.propose("a", `v${i}`);
    const a = net.get("a");
    const snapIndex = a.raft.log.applied;
    const snap = a.storage.createSnapshot(snapIndex, a.confState, new TextEncoder().encode("kv"));
    const t = a.raft.term;
    // A fresh follower f receives: an old append it cannot take, the snapshot, then appends.
    const f = net.addNode("f");
    f.node.step(msg({ type: "app", from: "a", to: "f", term: t, index: 5, logTerm: t, commit: 5 }));
    f.node.step(msg({ type: "snap", from: "a", to: "f", term: t, snapshot: snap }));
    const rd = f.node.ready(); // the snapshot is being persisted...
    expect(rd.snapshot?.metadata.index).toBe(snapIndex);
    expect(rd.committedEntries).toHaveLength(0);
    // ...while a stale append (before the snapshot) and a new one (after it) arrive.
    f.node.step(msg({ type: "app", from: "a", to: "f", term: t, index: 3, logTerm: 1, entries: [textEntry(4, t, "old")] }));
    f.node.step(
      msg({ type: "app", from: "a", to: "f", term: t, index: snapIndex, logTerm: snap.metadata.term, commit: snapIndex + 1, entries: [textEntry(snapIndex + 1, t, "new")] }),
    );
    f.storage.applySnapshot(rd.snapshot!);
    f.storage.append(rd.entries);
    if (rd.hardState) f.storage.setHardState(rd.hardState);
    f.node.advance();
    const rd2 = f.node.ready();
    expect(rd2.snapshot).toBeNull();
    expect(rd2.entries.map((e) => e.index)).toEqual([snapIndex + 1]);
    expect(rd2.committedEntries.map((e) => new TextDecoder().decode(e.data))).toEqual(["new"]);
    f.storage.append(rd2.entries);
    f.node.advance();
    expect(f.raft.log.committed).toBe(snapIndex + 1);
    expect(f.raft.log.applied).toBe(snapIndex + 1);
    const answers = rd2.messages.filter((m) => m.type === "appResp").map((m) => [m.index, m.reject]);
    expect(answers).toContainEqual([snapIndex + 1, false]);
    // And the other way round: entries in flight when a newer snapshot replaces them.
    const g = net.addNode("g");
    g.node.step(msg({ type: "app", from: "a", to: "g", term: t, index: 0, logTerm: 0, commit: 2, entries: [textEntry(1, 1), textEntry(2, 1)] }));
    const rd3 = g.node.ready();
    g.node.step(msg({ type: "snap", from: "a", to: "g", term: t, snapshot: snap }));
    g.storage.append(rd3.entries);
    g.node.advance(); // acknowledges entries 1-2, which the pending snapshot supersedes
    const rd4 = g.node.ready();
    expect(rd4.snapshot?.metadata.index).toBe(snapIndex);
    g.storage.applySnapshot(rd4.snapshot!);
    g.node.advance();
    expect(g.raft.log.firstIndex()).toBe(snapIndex + 1);
    expect(g.raft.log.committed).toBe(snapIndex);
  });

  test("node with a lower term stuck outside the cluster gets back in", () => {
    // (1) Pre-vote keeps an isolated member's term low; the leader's messages bring it back.
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("c");
    net.tickAll(50);
    net.heal();
    net.isolate("a");
    net.tickAll(40); // b takes over in a newer term; c still has the old term
    net.heal();
    net.tickAll(40);
    const l = net.leader()!;
    for (const n of net.nodes.values()) {
      expect(n.raft.term).toBe(net.get(l).raft.term);
      expect(n.raft.lead).toBe(l);
    }
    // (2) Without pre-vote, an isolated member's term runs ahead; with check-quorum the others
    // ignore its votes, but its answer to the leader's append forces an election it can join.
    const net2 = TestNetwork.cluster(ABC, { preVote: false });
    net2.elect("a");
    net2.isolate("c");
    net2.tickAll(100);
    expect(net2.get("c").raft.term).toBeGreaterThan(net2.get("a").raft.term);
    net2.heal();
    net2.tickAll(100);
    const l2 = net2.leader()!;
    net2.propose(l2, "z");
    for (const n of net2.nodes.values()) {
      expect(n.raft.lead).toBe(l2);
      expect(n.appliedData()).toEqual(["z"]);
    }
  });

  test("leadership transfer to a lagging follower: catch-up first, proposals refused, then TimeoutNow", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.cut("a", "c");
    for (let i = 0; i < 20; i++) net.propose("a", `v${i}`);
    net.heal();
    const types: string[] = [];
    net.intercept = (m) => {
      if (m.from === "a" && m.to === "c") types.push(m.type);
      return true;
    };
    net.get("a").node.transferLeadership("c");
    expect(() => net.get("a").node.propose(new Uint8Array([1]))).toThrow();
    net.stabilize();
    expect(types.indexOf("app")).toBeLessThan(types.indexOf("timeoutNow"));
    expect(net.get("c").raft.role).toBe("leader");
    expect(net.get("c").appliedData()).toHaveLength(20);
  });

  test("learner catches up before it votes: it neither votes for commit nor elects until promoted", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    for (let i = 0; i < 10; i++) net.propose("a", `v${i}`);
    net.addNode("d");
    net.get("a").node.proposeConfChange(cc("addLearner", "d"));
    net.stabilize();
    // A learner's acknowledgement does not count: a + d is no majority of {a, b, c}.
    net.cut("a", "b");
    net.cut("a", "c");
    net.propose("a", "needs-b-or-c");
    expect(net.get("a").appliedData()).not.toContain("needs-b-or-c");
    expect(net.get("d").raft.log.lastIndex()).toBe(net.get("a").raft.log.lastIndex());
    net.heal();
    net.tickAll(2);
    // Caught up (match >= commit): the driver may promote it now.
    const st = net.get("a").node.status();
    expect(st.progress!.d!.match).toBeGreaterThanOrEqual(st.commit);
    net.get("a").node.proposeConfChange(cc("addVoter", "d"));
    net.stabilize();
    expect(net.get("d").raft.isLearner).toBe(false);
    expect(net.get("d").raft.promotable()).toBe(true);
    // Now d counts: with b and c gone, a + d is not a majority of 4, but a + b + d is.
    net.cut("a", "c");
    net.propose("a", "with-d");
    expect(net.get("a").appliedData()).toContain("with-d");
  });

  test("removed node does not disrupt the cluster, whether or not it knows it was removed", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.cut("a", "c");
    net.cut("b", "c"); // c never hears of its removal
    net.get("a").node.proposeConfChange(cc("removeNode", "c"));
    net.stabilize();
    expect(net.get("a").confState.voters).toEqual(["a", "b"]);
    const term = net.get("a").raft.term;
    net.heal();
    net.tickAll(200); // c keeps (pre-)campaigning with its old configuration
    expect(net.get("a").raft.role).toBe("leader");
    expect(net.get("a").raft.term).toBe(term);
    expect(net.get("b").raft.term).toBe(term);
    net.propose("a", "fine");
    expect(net.get("b").appliedData()).toContain("fine");
    // A removed member that applied its removal never campaigns.
    const net2 = TestNetwork.cluster(ABC);
    net2.elect("a");
    net2.get("a").node.proposeConfChange(cc("removeNode", "c"));
    net2.stabilize();
    expect(net2.get("c").raft.promotable()).toBe(false);
    net2.isolate("a");
    net2.isolate("b");
    net2.tickAll(50);
    expect(net2.get("c").raft.role).toBe("follower");
  });

  test("forged message: from non-members, with absurd indexes or terms, rewriting committed entries", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    for (let i = 0; i < 3; i++) net.propose("a", `v${i}`);
    const a = net.get("a");
    const b = net.get("b");
    const t = a.raft.term;
    const bApplied = b.appliedData();
    const committed = b.raft.log.committed;
    // A leader-looking append at the current term that would replace committed entries.
    b.node.step(msg({ type: "app", from: "a", to: "b", term: t, index: 1, logTerm: 1, entries: [textEntry(2, 1, "evil")] }));
    expect(b.raft.log.term(2)).toBe(t);
    expect(b.raft.log.committed).toBe(committed);
    // Acknowledgements of entries that never existed, from members and strangers.
    a.node.step(msg({ type: "appResp", from: "b", to: "a", term: t, index: 10 ** 12 }));
    a.node.step(msg({ type: "appResp", from: "mallory", to: "a", term: t, index: 3 }));
    a.node.step(msg({ type: "heartbeatResp", from: "mallory", to: "a", term: t }));
    a.node.step(msg({ type: "prop", from: "mallory", to: "a", entries: [textEntry(0, 0, "spam")] }));
    a.node.step(msg({ type: "readIndex", from: "mallory", to: "a", context: "peek" }));
    a.node.step(msg({ type: "timeoutNow", from: "mallory", to: "a", term: t }));
    b.node.step(msg({ type: "timeoutNow", from: "mallory", to: "b", term: t }));
    b.node.step(msg({ type: "readIndexResp", from: "mallory", to: "b", term: t, index: 10 ** 9, context: "x" }));
    net.stabilize();
    expect(a.raft.role).toBe("leader");
    expect(a.node.status().progress!.b!.match).toBeLessThanOrEqual(a.raft.log.lastIndex());
    expect(b.raft.role).toBe("follower");
    expect(b.readStates).toHaveLength(0);
    net.propose("a", "v3");
    expect(b.appliedData()).toEqual([...bApplied, "v3"]);
    const d = a.node.status().dropped;
    expect(d.invalid + d.unknownPeer).toBeGreaterThanOrEqual(4);
  });
  test("slow leader disk: heartbeats sent during an in-flight write never announce a commit the leader has not made durable", () => {
    const net = TestNetwork.cluster(ABC, { heartbeatTick: 1, electionTick: 10 });
    net.elect("a");
    const a = net.get("a");
    const durableBefore = a.raft.log.lastIndex();
    // The leader appends and, as the driver does, replicates before its own fsync completes.
    a.node.propose(new TextEncoder().encode("x"));
    const rd = a.node.ready();
    const newIndex = rd.entries[rd.entries.length - 1]!.index;
    expect(newIndex).toBe(durableBefore + 1);
    // b and c persist and acknowledge; the acks reach a while its write is still in flight.
    for (const m of rd.messages) net.get(m.to).node.step(m);
    for (const id of ["b", "c"]) net.process(id);
    for (const m of net.queue.splice(0)) if (m.to === "a") a.node.step(m);
    expect(a.raft.log.committed).toBe(newIndex); // counts a's own, not yet durable, copy
    // Ticks while the fsync is in flight produce heartbeats, handed out ahead of the Ready.
    a.node.tick();
    const early = a.node.takeHeartbeats();
    expect(early.map((m) => m.type)).toEqual(["heartbeat", "heartbeat"]);
    for (const m of early) expect(m.commit).toBeLessThanOrEqual(durableBefore);
    // Nothing but heartbeats leaves early, and nothing at all from a follower or a new term.
    expect(a.raft.msgs.every((m) => m.type !== "heartbeat")).toBe(true);
    expect(net.get("b").node.takeHeartbeats()).toEqual([]);
    a.storage.append(rd.entries);
    if (rd.hardState) a.storage.setHardState(rd.hardState);
    a.node.advance();
    // Once durable, the next heartbeats carry the real commit index.
    a.node.tick();
    net.process("a");
    const later = net.queue.filter((m) => m.from === "a" && m.type === "heartbeat");
    expect(later.length).toBeGreaterThan(0);
    for (const m of later) expect(m.commit).toBe(newIndex);
  });
});
