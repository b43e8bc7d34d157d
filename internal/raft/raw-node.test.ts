// The driver-facing contract: the Ready/advance protocol, restarts from storage, bootstrap,
// status, configuration validation and robustness against forged input.

import { describe, expect, test } from "bun:test";
import { decodeConfChange } from "./conf-change.ts";
import { RaftConfigError, RaftError, ReadyProtocolError } from "./errors.ts";
import { RawNode } from "./raw-node.ts";
import { MemoryStorage } from "./storage.ts";
import { msg, seededRandom, TestNetwork, textEntry } from "./test-network.ts";

const ABC = ["a", "b", "c"];

function fresh(id = "a", options = {}) {
  const storage = new MemoryStorage();
  const node = new RawNode({ id, storage, random: seededRandom(1), ...options });
  return { storage, node };
}

describe("Ready protocol", () => {
  test("bootstrap: the first Ready persists the founding entries and hard state", () => {
    const { node } = fresh();
    node.bootstrap(ABC);
    expect(node.hasReady()).toBe(true);
    const rd = node.ready();
    expect(rd.entries.map((e) => e.type)).toEqual(["confChange"]); // one entry: atomic
    expect(rd.hardState).toEqual({ term: 1, vote: null, commit: 1 });
    expect(rd.committedEntries).toHaveLength(1);
    expect(node.applyConfChange(decodeConfChange(rd.committedEntries[0]!.data))).toEqual({ voters: ABC, learners: [] });
    expect(rd.mustSync).toBe(true);
    node.advance();
    expect(() => node.bootstrap(ABC)).toThrow(RaftError);
  });

  test("ready() twice without advance() is a protocol error, and so is advance() alone", () => {
    const { node } = fresh();
    node.bootstrap(ABC);
    node.ready();
    expect(node.hasReady()).toBe(false);
    expect(() => node.ready()).toThrow(ReadyProtocolError);
    node.advance();
    expect(() => node.advance()).toThrow(ReadyProtocolError);
  });

  test("messages of a Ready depend on its persisted state: a vote comes with its hard state", () => {
    const net = TestNetwork.cluster(ABC, { preVote: false });
    const b = net.get("b").node;
    b.step(msg({ type: "vote", from: "a", to: "b", term: 2, index: 3, logTerm: 1 }));
    const rd = b.ready();
    expect(rd.messages.map((m) => m.type)).toEqual(["voteResp"]);
    expect(rd.hardState).toMatchObject({ term: 2, vote: "a" });
    expect(rd.mustSync).toBe(true);
    b.advance();
  });

  test("a commit-only change needs no fsync", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.get("a").node.propose(new TextEncoder().encode("x"));
    net.processAll();
    const b = net.get("b");
    const app = net.queue.find((m) => m.to === "b" && m.type === "app")!;
    b.node.step(app);
    const rd1 = b.node.ready();
    expect(rd1.mustSync).toBe(true);
    b.storage.append(rd1.entries);
    b.node.advance();
    b.node.step(msg({ type: "heartbeat", from: "a", to: "b", term: app.term, commit: app.index + 1 }));
    const rd2 = b.node.ready();
    expect(rd2.hardState?.commit).toBe(app.index + 1);
    expect(rd2.mustSync).toBe(false);
    b.node.advance();
  });

  test("step and tick may run while a Ready is being persisted; nothing is lost or repeated", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const a = net.get("a");
    a.node.propose(new TextEncoder().encode("one"));
    const rd = a.node.ready(); // "fsync in flight"
    a.node.propose(new TextEncoder().encode("two"));
    a.node.tick();
    a.storage.append(rd.entries);
    if (rd.hardState) a.storage.setHardState(rd.hardState);
    net.queue.push(...rd.messages);
    a.node.advance();
    net.stabilize();
    for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(["one", "two"]);
  });

  test("a restart from storage re-delivers committed entries after the applied index", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    for (let i = 0; i < 5; i++) net.propose("a", `v${i}`);
    const b = net.restart("b");
    net.processAll();
    expect(b.appliedData()).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    expect(b.node.status().commit).toBe(net.get("a").raft.log.committed);
  });

  test("a hard state whose commit is beyond the log is refused at start", () => {
    const storage = new MemoryStorage();
    storage.append([textEntry(1, 1)]);
    storage.setHardState({ term: 1, vote: null, commit: 5 });
    expect(() => new RawNode({ id: "a", storage, random: Math.random })).toThrow(RaftError);
  });
});

describe("config validation", () => {
  test("bad settings name the field", () => {
    const storage = new MemoryStorage();
    const base = { id: "a", storage, random: Math.random };
    expect(() => new RawNode({ ...base, id: "" })).toThrow(RaftConfigError);
    expect(() => new RawNode({ ...base, electionTick: 2, heartbeatTick: 2 })).toThrow(/heartbeatTick/);
    expect(() => new RawNode({ ...base, maxInflightMsgs: 0 })).toThrow(/maxInflightMsgs/);
    expect(() => new RawNode({ ...base, readOnly: "leaseBased", checkQuorum: false })).toThrow(/readOnly/);
  });
});

describe("status", () => {
  test("reports role, term, commit, applied and per-member progress on the leader", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.propose("a", "x");
    const st = net.get("a").node.status();
    expect(st).toMatchObject({ id: "a", role: "leader", leader: "a", commit: 3, applied: 3 });
    expect(Object.keys(st.progress!).sort()).toEqual(ABC);
    expect(st.progress!.b).toMatchObject({ match: 3, next: 4, state: "replicate", isLearner: false });
    expect(net.get("b").node.status().progress).toBeNull();
  });
});

describe("forged and malformed input", () => {
  test("never throws from step, never changes durable state, and is counted", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.propose("a", "x");
    const a = net.get("a");
    const before = { term: a.raft.term, commit: a.raft.log.committed, last: a.raft.log.lastIndex() };
    const t = a.raft.term;
    const bad: unknown[] = [
      null,
      42,
      { type: "nonsense" },
      msg({ type: "hup", from: "b", to: "a" }),
      msg({ type: "app", from: "b", to: "zz", term: t }),
      msg({ type: "app", from: "a", to: "a", term: t + 1 }),
      msg({ type: "appResp", from: "b", to: "a", term: t, index: 1e15 }),
      msg({ type: "appResp", from: "b", to: "a", term: t, index: -1 }),
      msg({ type: "appResp", from: "b", to: "a", term: 1.5 }),
      msg({ type: "heartbeatResp", from: "intruder", to: "a", term: t, context: "x" }),
      msg({ type: "readIndex", from: "intruder", to: "a", context: "x" }),
      msg({ type: "prop", from: "intruder", to: "a", entries: [textEntry(0, 0, "evil")] }),
      msg({ type: "app", from: "b", to: "a", term: t, index: 2, logTerm: 1, entries: [textEntry(9, t)] }),
      msg({ type: "snap", from: "b", to: "a", term: t, snapshot: null }),
      msg({ type: "vote", from: "b", to: "a", term: t, entries: [textEntry(1, 1)] }),
    ];
    for (const m of bad) expect(() => a.node.step(m as never)).not.toThrow();
    net.stabilize();
    expect(a.raft.role).toBe("leader");
    expect({ term: a.raft.term, commit: a.raft.log.committed, last: a.raft.log.lastIndex() }).toEqual(before);
    expect(a.appliedData()).toEqual(["x"]);
    const d = a.node.status().dropped;
    expect(d.invalid + d.unknownPeer).toBeGreaterThanOrEqual(bad.length - 1);
  });

  test("a follower ignores a heartbeat commit beyond its log", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const b = net.get("b");
    const last = b.raft.log.lastIndex();
    b.node.step(msg({ type: "heartbeat", from: "a", to: "b", term: b.raft.term, commit: last + 100 }));
    expect(b.raft.log.committed).toBeLessThanOrEqual(last);
    expect(b.raft.dropped.invalid).toBe(1);
  });
});

describe("leadership transfer", () => {
  test("catches the target up, stops proposals meanwhile, and hands over", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.cut("a", "c");
    for (let i = 0; i < 3; i++) net.propose("a", `v${i}`);
    net.heal();
    net.get("a").node.transferLeadership("c");
    expect(net.get("a").raft.leadTransferee).toBe("c");
    expect(() => net.get("a").node.propose(new Uint8Array([1]))).toThrow(RaftError);
    net.stabilize();
    expect(net.get("c").raft.role).toBe("leader");
    expect(net.get("a").raft.role).toBe("follower");
    expect(net.get("c").appliedData()).toEqual(["v0", "v1", "v2"]);
  });

  test("is abandoned after an election timeout if the target does not take over", () => {
    const net = TestNetwork.cluster(ABC, { electionTick: 10 });
    net.elect("a");
    net.isolate("c");
    net.get("a").node.transferLeadership("c");
    net.tickAll(11);
    expect(net.get("a").raft.leadTransferee).toBeNull();
    expect(net.get("a").raft.role).toBe("leader");
    net.propose("a", "again");
    expect(net.get("b").appliedData()).toContain("again");
  });

  test("a follower forwards the request to the leader", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.get("b").node.transferLeadership("b");
    net.stabilize();
    expect(net.get("b").raft.role).toBe("leader");
  });
});
