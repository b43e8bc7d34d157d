// Log replication mechanics: per-follower progress states, pipelining, flow control, fast
// backtracking, snapshots for followers too far behind.

import { describe, expect, test } from "bun:test";
import { decodeConfChange } from "./conf-change.ts";
import { TestNetwork } from "./test-network.ts";

const ABC = ["a", "b", "c"];
const enc = new TextEncoder();

describe("progress states", () => {
  test("probe until the first acknowledgement, then replicate with an optimistic next", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    const pr = () => net.get("a").node.status().progress!.b!;
    expect(pr().state).toBe("replicate");
    net.cut("a", "b");
    for (let i = 0; i < 3; i++) net.get("a").node.propose(enc.encode(`x${i}`));
    net.stabilize();
    expect(pr().next).toBeGreaterThan(pr().match + 1); // optimistic: sent but unacknowledged
    net.get("a").node.reportUnreachable("b");
    expect(pr().state).toBe("probe");
    net.heal();
    net.tickAll(2);
    expect(pr().state).toBe("replicate");
    expect(pr().match).toBe(net.get("a").raft.log.lastIndex());
  });

  test("flow control: at most maxInflightMsgs appends in flight, each at most maxSizePerMsg", () => {
    const net = TestNetwork.cluster(ABC, { maxInflightMsgs: 3, maxSizePerMsg: 100 });
    net.elect("a");
    net.cut("a", "b");
    net.cut("a", "c");
    const before = net.delivered.length;
    for (let i = 0; i < 50; i++) net.get("a").node.propose(new Uint8Array(40));
    net.processAll();
    const apps = net.queue.filter((m) => m.type === "app" && m.to === "b");
    expect(apps.length).toBe(3);
    for (const m of apps) expect(m.entries.length).toBeLessThanOrEqual(2);
    expect(net.delivered.length).toBe(before);
    net.heal();
    net.tickAll(10);
    expect(net.get("b").raft.log.lastIndex()).toBe(net.get("a").raft.log.lastIndex());
  });

  test("fast backtracking skips a divergent tail one term per round trip", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    // a leads term 2 and appends 100 entries only it has.
    net.isolate("a");
    for (let i = 0; i < 100; i++) net.get("a").node.propose(enc.encode(`lost${i}`));
    net.stabilize();
    net.get("a").up = false;
    net.heal();
    net.tickAll(30);
    const l = net.leader()!;
    expect(l).not.toBe("a");
    for (let i = 0; i < 5; i++) net.propose(l, `kept${i}`);
    net.get("a").up = true;
    net.get("a").raft.becomeFollower(net.get("a").raft.term, null);
    const rejections = () => net.delivered.filter((m) => m.type === "appResp" && m.from === "a" && m.reject).length;
    const r0 = rejections();
    net.tickAll(3);
    expect(rejections() - r0).toBeLessThanOrEqual(3);
    expect(net.get("a").appliedData().slice(-5)).toEqual(["kept0", "kept1", "kept2", "kept3", "kept4"]);
  });

  test("a follower behind the compacted log gets the snapshot, then the rest of the log", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("c");
    for (let i = 0; i < 20; i++) net.propose("a", `v${i}`);
    const a = net.get("a");
    const idx = a.raft.log.applied;
    a.storage.createSnapshot(idx, a.confState, enc.encode("state-at-" + idx));
    a.storage.compact(idx);
    net.propose("a", "after");
    net.heal();
    net.tickAll(2);
    const snaps = net.delivered.filter((m) => m.type === "snap" && m.to === "c");
    expect(snaps).toHaveLength(1);
    // c's acknowledgement of the snapshot moved the leader on without waiting for the report
    a.node.reportSnapshot("c", "finish");
    net.tickAll(2);
    const c = net.get("c");
    expect(c.storage.snapshot().metadata.index).toBe(idx);
    expect(c.appliedData()).toEqual(["after"]);
    expect(net.get("a").node.status().progress!.c!.state).toBe("replicate");
  });

  test("a failed snapshot is retried", () => {
    const net = TestNetwork.cluster(ABC);
    net.elect("a");
    net.isolate("c");
    for (let i = 0; i < 5; i++) net.propose("a", `v${i}`);
    const a = net.get("a");
    const idx = a.raft.log.applied;
    a.storage.createSnapshot(idx, a.confState, new Uint8Array());
    a.storage.compact(idx);
    net.heal();
    net.intercept = (m) => m.type !== "snap";
    net.tickAll(2);
    a.node.reportSnapshot("c", "failure");
    expect(a.node.status().progress!.c!.state).toBe("probe");
    net.intercept = null;
    net.tickAll(3);
    a.node.reportSnapshot("c", "finish");
    net.tickAll(2);
    expect(net.get("c").raft.log.lastIndex()).toBe(a.raft.log.lastIndex());
  });

  test("the uncommitted-size limit drops proposals instead of growing the log without bound", () => {
    const net = TestNetwork.cluster(ABC, { maxUncommittedEntriesSize: 1000 });
    net.elect("a");
    net.isolate("a");
    const a = net.get("a").node;
    let dropped = 0;
    for (let i = 0; i < 50; i++) {
      try {
        a.propose(new Uint8Array(100));
      } catch {
        dropped++;
      }
    }
    expect(dropped).toBeGreaterThan(30);
  });

  test("conf change entries decode", () => {
    const net = TestNetwork.cluster(ABC);
    const first = net.get("a").applied[0]!;
    expect(decodeConfChange(first.data)).toEqual({ type: "bootstrap", nodeId: "a", context: "", voters: ABC });
  });
});
