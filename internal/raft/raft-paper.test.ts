// One test per rule of the Raft paper's Figure 2 (and Figure 3's properties), driven through the
// public RawNode API on a deterministic in-memory network.

import { describe, expect, test } from "bun:test";
import type { Message } from "./message.ts";
import { msg, seededRandom, TestNetwork, textEntry } from "./test-network.ts";

const ABC = ["a", "b", "c"];

/** A 3-member cluster where only `a` runs: messages it sends stay in net.queue for inspection. */
function alone(options = {}) {
  const net = TestNetwork.cluster(ABC, options);
  net.get("b").up = false;
  net.get("c").up = false;
  net.queue = [];
  return net;
}

function sentBy(net: TestNetwork, from: string, type?: Message["type"]): Message[] {
  net.processAll();
  return net.queue.filter((m) => m.from === from && (type === undefined || m.type === type));
}

describe("Figure 2: rules for all servers", () => {
  test("committed entries are applied in log order, each exactly once", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    for (let i = 0; i < 20; i++) net.propose(ABC[i % 3]!, `v${i}`);
    for (const n of net.nodes.values()) {
      const idx = n.applied.map((e) => e.index);
      expect(idx).toEqual(Array.from({ length: idx.length }, (_, i) => i + 1));
      expect(n.appliedData()).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    }
  });

  test("a message with a higher term makes any role adopt the term and follow", () => {
    for (const role of ["follower", "candidate", "leader"] as const) {
      const net = alone({ preVote: false });
      const a = net.get("a");
      if (role !== "follower") a.node.campaign();
      if (role === "leader") {
        a.node.step(msg({ type: "voteResp", from: "b", to: "a", term: a.raft.term }));
        expect(a.raft.role).toBe("leader");
      }
      const t = a.raft.term + 5;
      a.node.step(msg({ type: "appResp", from: "b", to: "a", term: t }));
      expect(a.raft.role).toBe("follower");
      expect(a.raft.term).toBe(t);
      expect(a.raft.vote).toBeNull();
    }
  });
});

describe("Figure 2: followers", () => {
  test("a follower answers a leader's AppendEntries and a candidate's RequestVote", () => {
    const net = alone();
    const a = net.get("a");
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 1, logTerm: 1, entries: [textEntry(2, 2, "x")] }));
    expect(sentBy(net, "a", "appResp")[0]).toMatchObject({ to: "b", index: 2, reject: false });
    net.queue = [];
    a.node.step(msg({ type: "vote", from: "c", to: "a", term: 3, index: 2, logTerm: 2 }));
    // b was heard from in term 2; the vote is for term 3 but a's lease makes it wait
    expect(sentBy(net, "a", "voteResp")).toHaveLength(0);
  });

  test("a follower campaigns after a randomized election timeout in [electionTick, 2*electionTick)", () => {
    for (let seed = 0; seed < 20; seed++) {
      const net = alone({ electionTick: 10 });
      const a = net.get("a");
      let ticks = 0;
      while (a.raft.role === "follower" && ticks < 100) {
        a.node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
    }
  });

  test("hearing from the leader resets the election timer", () => {
    const net = alone({ electionTick: 10 });
    const a = net.get("a");
    for (let i = 0; i < 100; i++) {
      a.node.tick();
      a.node.step(msg({ type: "heartbeat", from: "b", to: "a", term: 2 }));
    }
    expect(a.raft.role).toBe("follower");
    expect(a.raft.lead).toBe("b");
  });
});

describe("Figure 2: candidates", () => {
  test("on conversion: increment term, vote for self, reset the timer, ask every other voter", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    const term = a.raft.term;
    a.node.campaign();
    expect(a.raft.role).toBe("candidate");
    expect(a.raft.term).toBe(term + 1);
    expect(a.raft.vote).toBe("a");
    expect(a.raft.electionElapsed).toBe(0);
    const votes = sentBy(net, "a", "vote");
    expect(votes.map((m) => m.to).sort()).toEqual(["b", "c"]);
    for (const v of votes) expect(v).toMatchObject({ term: term + 1, index: 1, logTerm: 1 });
  });

  test("votes from a majority make it leader", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    a.node.campaign();
    a.node.step(msg({ type: "voteResp", from: "b", to: "a", term: a.raft.term, reject: true }));
    expect(a.raft.role).toBe("candidate");
    a.node.step(msg({ type: "voteResp", from: "c", to: "a", term: a.raft.term }));
    expect(a.raft.role).toBe("leader");
  });

  test("a majority of rejections makes it follower again", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    a.node.campaign();
    a.node.step(msg({ type: "voteResp", from: "b", to: "a", term: a.raft.term, reject: true }));
    a.node.step(msg({ type: "voteResp", from: "c", to: "a", term: a.raft.term, reject: true }));
    expect(a.raft.role).toBe("follower");
  });

  test("AppendEntries from the new leader of its term makes it follower", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    a.node.campaign();
    a.node.step(msg({ type: "app", from: "b", to: "a", term: a.raft.term, index: 1, logTerm: 1 }));
    expect(a.raft.role).toBe("follower");
    expect(a.raft.lead).toBe("b");
  });

  test("if the election times out, it starts a new one in a new term", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    a.node.campaign();
    const term = a.raft.term;
    for (let i = 0; i < 20; i++) a.node.tick();
    expect(a.raft.role).toBe("candidate");
    expect(a.raft.term).toBe(term + 1);
  });
});

describe("Figure 2: leaders", () => {
  test("upon election, an entry of the new term goes to every follower, then heartbeats", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    a.node.campaign();
    a.node.step(msg({ type: "voteResp", from: "b", to: "a", term: a.raft.term }));
    const apps = sentBy(net, "a", "app");
    expect(apps.map((m) => m.to).sort()).toEqual(["b", "c"]);
    net.queue = [];
    a.node.tick();
    expect(sentBy(net, "a", "heartbeat").map((m) => m.to).sort()).toEqual(["b", "c"]);
  });

  test("a client command is appended, replicated, and reported once applied", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const last = net.get("a").raft.log.lastIndex();
    net.get("a").node.propose(new TextEncoder().encode("cmd"));
    expect(net.get("a").raft.log.lastIndex()).toBe(last + 1);
    expect(net.get("a").appliedData()).toEqual([]);
    net.stabilize();
    for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(["cmd"]);
  });

  test("nextIndex backs off on rejection until the logs match, then the follower catches up", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("c");
    for (let i = 0; i < 30; i++) net.propose("a", `v${i}`);
    net.heal();
    net.tickAll(2);
    expect(net.get("c").appliedData()).toHaveLength(30);
    expect(net.get("a").node.status().progress?.c?.match).toBe(net.get("a").raft.log.lastIndex());
  });

  test("commitIndex = N when a majority has N and log[N] is of the current term", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("b");
    net.isolate("c");
    net.get("a").node.propose(new TextEncoder().encode("x"));
    net.stabilize();
    const a = net.get("a").raft;
    expect(a.log.committed).toBe(a.log.lastIndex() - 1);
    net.heal();
    net.cut("a", "b");
    net.tickAll(1); // c catches up: a majority (a, c)
    expect(a.log.committed).toBe(a.log.lastIndex());
  });
});

describe("Figure 2: RequestVote receiver", () => {
  test("reply false if term < currentTerm", () => {
    const net = alone({ preVote: false });
    const a = net.get("a");
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 5, index: 1, logTerm: 1 }));
    a.raft.lead = null; // no lease, so only the term decides
    a.node.step(msg({ type: "vote", from: "c", to: "a", term: 4, index: 100, logTerm: 4 }));
    // Rejected with our term, so that the candidate can update itself.
    expect(sentBy(net, "a", "voteResp").map((m) => [m.reject, m.term])).toEqual([[true, 5]]);
    expect(a.raft.vote).toBeNull();
  });

  test("grant if not voted (or voted for this candidate) and its log is at least as up to date", () => {
    const net = alone({ preVote: false, checkQuorum: false });
    const a = net.get("a");
    a.node.step(msg({ type: "vote", from: "b", to: "a", term: 2, index: 1, logTerm: 1 }));
    a.node.step(msg({ type: "vote", from: "b", to: "a", term: 2, index: 1, logTerm: 1 })); // repeat
    a.node.step(msg({ type: "vote", from: "c", to: "a", term: 2, index: 9, logTerm: 1 })); // already voted
    const r = sentBy(net, "a", "voteResp");
    expect(r.map((m) => [m.to, m.reject])).toEqual([["b", false], ["b", false], ["c", true]]);
    net.queue = [];
    a.node.step(msg({ type: "vote", from: "c", to: "a", term: 3, index: 0, logTerm: 1 })); // shorter log
    a.node.step(msg({ type: "vote", from: "b", to: "a", term: 4, index: 9, logTerm: 0 })); // older last term
    expect(sentBy(net, "a", "voteResp").map((m) => m.reject)).toEqual([true, true]);
  });
});

describe("Figure 2: AppendEntries receiver", () => {
  function follower() {
    const net = alone();
    const a = net.get("a");
    a.node.step(
      msg({ type: "app", from: "b", to: "a", term: 2, index: 1, logTerm: 1, commit: 1, entries: [textEntry(2, 2, "p"), textEntry(3, 2, "q")] }),
    );
    net.processAll();
    net.queue = [];
    return { net, a };
  }

  test("reply false if term < currentTerm (with our term, so the stale leader steps down)", () => {
    const { net, a } = follower();
    a.node.step(msg({ type: "app", from: "c", to: "a", term: 1, index: 3, logTerm: 1 }));
    const r = sentBy(net, "a", "appResp");
    expect(r).toHaveLength(1);
    expect(r[0]!.term).toBe(2);
    expect(a.raft.log.lastIndex()).toBe(3);
  });

  test("reply false if the log has no entry at prevLogIndex with prevLogTerm, with a hint", () => {
    const { net, a } = follower();
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 5, logTerm: 2 }));
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 3, logTerm: 1 }));
    const r = sentBy(net, "a", "appResp");
    expect(r[0]).toMatchObject({ reject: true, index: 5, rejectHint: 3, logTerm: 2 });
    expect(r[1]).toMatchObject({ reject: true, index: 3, rejectHint: 1, logTerm: 1 });
  });

  test("a conflicting entry and all that follow it are deleted", () => {
    const { a } = follower();
    a.node.step(msg({ type: "app", from: "c", to: "a", term: 3, index: 1, logTerm: 1, entries: [textEntry(2, 3, "r")] }));
    expect(a.raft.log.lastIndex()).toBe(2);
    expect(a.raft.log.term(2)).toBe(3);
  });

  test("entries already present are kept; only new ones are appended", () => {
    const { a } = follower();
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 1, logTerm: 1, entries: [textEntry(2, 2, "p")] }));
    expect(a.raft.log.lastIndex()).toBe(3); // a stale, shorter append does not truncate
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 2, logTerm: 2, entries: [textEntry(3, 2, "q"), textEntry(4, 2, "s")] }));
    expect(a.raft.log.lastIndex()).toBe(4);
  });

  test("commitIndex = min(leaderCommit, index of last new entry)", () => {
    const { a } = follower();
    expect(a.raft.log.committed).toBe(1);
    a.node.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 2, logTerm: 2, commit: 100 }));
    expect(a.raft.log.committed).toBe(2);
    a.node.step(msg({ type: "heartbeat", from: "b", to: "a", term: 2, commit: 3 }));
    expect(a.raft.log.committed).toBe(3);
  });
});

describe("§5.4.2 committing entries from previous terms", () => {
  test("a new leader commits an older-term entry only together with an entry of its own term", () => {
    const net = TestNetwork.cluster(ABC, { maxSizePerMsg: 1 });
    net.elect("a");
    net.blocked.add("b->a"); // b stores x but a never learns it, so x stays uncommitted
    net.cut("a", "c");
    net.propose("a", "x");
    const x = net.get("a").raft.log.lastIndex();
    expect(net.get("b").raft.log.lastIndex()).toBe(x);
    net.get("a").up = false;
    net.heal();
    // b wins; its own first entry (x + 1) is kept from c, x itself may go through
    net.intercept = (m) =>
      !(m.type === "app" && m.to === "c" && m.entries.some((e) => e.index > x)) ||
      m.index > net.get("c").raft.log.lastIndex(); // probes c will reject still go through
    net.tickAll(30);
    const b = net.get("b");
    expect(b.raft.role).toBe("leader");
    expect(net.get("c").raft.log.lastIndex()).toBe(x); // x is on a majority (b, c)...
    expect(b.raft.log.committed).toBeLessThan(x); // ...yet not committed by counting replicas
    net.intercept = null;
    net.tickAll(1);
    expect(b.raft.log.committed).toBe(x + 1); // committed with the new term's entry
    expect(b.appliedData()).toEqual(["x"]);
  });
});

describe("Figure 3: safety properties under random partitions and proposals", () => {
  test("election safety, leader append-only, log matching, leader completeness, state machine safety", () => {
    for (let seed = 1; seed <= 25; seed++) {
      const rnd = seededRandom(seed);
      const ids = seed % 2 === 0 ? ["a", "b", "c", "d", "e"] : ABC;
      const net = TestNetwork.cluster(ids, { preVote: seed % 3 !== 0 });
      const leaderOf = new Map<number, string>();
      const committed = new Map<number, number>(); // index -> term
      let proposals = 0;
      for (let round = 0; round < 120; round++) {
        if (rnd() < 0.1) {
          net.heal();
          const side = ids.filter(() => rnd() < 0.5);
          net.partition(side, ids.filter((x) => !side.includes(x)));
        }
        if (rnd() < 0.05) net.heal();
        for (const n of net.nodes.values()) n.node.tick();
        const l = net.leader();
        if (l !== undefined && rnd() < 0.5) {
          try {
            net.get(l).node.propose(new TextEncoder().encode(`p${proposals++}`));
          } catch {}
        }
        // Leader append-only: remember each leader's log before delivery.
        const before = new Map<string, { last: number; terms: number[] }>();
        for (const n of net.nodes.values()) {
          if (n.raft.role !== "leader") continue;
          const terms: number[] = [];
          for (let i = 1; i <= n.raft.log.lastIndex(); i++) terms.push(n.raft.log.term(i)!);
          before.set(n.id, { last: n.raft.log.lastIndex(), terms });
        }
        net.stabilize();
        for (const n of net.nodes.values()) {
          const r = n.raft;
          if (r.role === "leader") {
            const known = leaderOf.get(r.term);
            expect(known === undefined || known === n.id).toBe(true); // election safety
            if (known === undefined) {
              leaderOf.set(r.term, n.id);
              for (const [i, t] of committed) expect(r.log.term(i)).toBe(t); // leader completeness
            }
            const b = before.get(n.id);
            if (b !== undefined) b.terms.forEach((t, i) => expect(r.log.term(i + 1)).toBe(t)); // append-only
          }
          for (const e of n.applied) {
            const t = committed.get(e.index);
            expect(t === undefined || t === e.term).toBe(true); // state machine safety
            committed.set(e.index, e.term);
          }
        }
        // Log matching: equal (index, term) implies equal prefixes.
        const nodes = [...net.nodes.values()];
        for (const x of nodes) {
          for (const y of nodes) {
            if (x === y) continue;
            const last = Math.min(x.raft.log.lastIndex(), y.raft.log.lastIndex());
            for (let i = last; i >= 1; i--) {
              if (x.raft.log.term(i) === y.raft.log.term(i)) {
                for (let j = 1; j <= i; j++) expect(x.raft.log.term(j)).toBe(y.raft.log.term(j)!);
                break;
              }
            }
          }
        }
      }
      net.heal();
      // Without pre-vote, members that cannot win keep resetting the one that can: give it time.
      for (let i = 0; i < 300 && (i < 40 || net.leader() === undefined); i++) net.tickAll(1);
      const l = net.leader();
      expect(l).toBeDefined();
      const applied = net.get(l!).appliedData();
      for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(applied);
    }
  });
});
