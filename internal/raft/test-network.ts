// A deterministic in-memory cluster for the unit tests: real RawNodes over MemoryStorage, a message
// queue delivered in FIFO order through the codec, with drop rules for partitions and a hook to
// intercept messages. Not used by production code.

import { decodeMessages, encodeMessages } from "./codec.ts";
import { decodeConfChange } from "./conf-change.ts";
import type { Config } from "./config.ts";
import type { Message, ReadState } from "./message.ts";
import { RawNode } from "./raw-node.ts";
import { seededRandom } from "../testing/seeded-random.ts";
import { MemoryStorage } from "./storage.ts";
import type { ConfState, Entry, NodeId } from "./types.ts";

export type NodeOptions = Partial<Omit<Config, "id" | "storage" | "random">>;

// Election timeouts in tests come from the shared seeded generator, so runs are reproducible.
export { seededRandom };

export class TestNode {
  readonly applied: Entry[] = [];
  readonly readStates: ReadState[] = [];
  confState: ConfState = { voters: [], learners: [] };
  up = true;

  constructor(
    readonly id: NodeId,
    public node: RawNode,
    public storage: MemoryStorage,
  ) {}

  get raft() {
    return this.node.raft;
  }

  /** Applied normal entries with data, decoded as text. */
  appliedData(): string[] {
    const dec = new TextDecoder();
    return this.applied.filter((e) => e.type === "normal" && e.data.length > 0).map((e) => dec.decode(e.data));
  }
}

export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Blocked directions "from->to". */
  readonly blocked = new Set<string>();
  /** Return false to drop a message (called at delivery). */
  intercept: ((m: Message) => boolean) | null = null;
  /** Every message delivered, in order (for assertions). */
  readonly delivered: Message[] = [];
  private seed = 1;

  constructor(readonly options: NodeOptions = {}) {}

  /** A cluster whose members all bootstrap with `ids` as voters. */
  static cluster(ids: readonly NodeId[], options: NodeOptions = {}): TestNetwork {
    const net = new TestNetwork(options);
    for (const id of ids) {
      const n = net.addNode(id);
      n.node.bootstrap(ids);
    }
    net.processAll();
    return net;
  }

  /** Adds a member with empty storage (a node joining later, or to bootstrap by hand). */
  addNode(id: NodeId, options: NodeOptions = {}): TestNode {
    const storage = new MemoryStorage();
    const node = new RawNode({ ...this.options, ...options, id, storage, random: seededRandom(this.seed++ * 7919) });
    const tn = new TestNode(id, node, storage);
    this.nodes.set(id, tn);
    return tn;
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Restarts a member from its storage (its unpersisted state is lost, as in a crash). */
  restart(id: NodeId, options: NodeOptions = {}): TestNode {
    const old = this.get(id);
    const storage = old.storage;
    const node = new RawNode({
      ...this.options,
      ...options,
      id,
      storage,
      random: seededRandom(this.seed++ * 7919),
      applied: storage.snapshot().metadata.index,
    });
    const tn = new TestNode(id, node, storage);
    tn.confState = storage.initialState().confState;
    this.nodes.set(id, tn);
    return tn;
  }

  /** Handles one member's Ready cycles until it has nothing left (persist, queue messages, apply). */
  process(id: NodeId): void {
    const n = this.get(id);
    if (!n.up) return;
    let guard = 0;
    while (n.node.hasReady()) {
      if (guard++ > 1000) throw new Error("ready loop does not settle");
      const rd = n.node.ready();
      if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
      for (const m of rd.messages) this.queue.push(m);
      if (rd.snapshot !== null) {
        n.confState = rd.snapshot.metadata.confState;
        n.applied.length = 0;
      }
      for (const e of rd.committedEntries) {
        n.applied.push(e);
        if (e.type === "confChange") n.confState = n.node.applyConfChange(decodeConfChange(e.data));
      }
      for (const rs of rd.readStates) n.readStates.push(rs);
      n.node.advance();
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  private deliverable(m: Message): boolean {
    const to = this.nodes.get(m.to);
    if (to === undefined || !to.up) return false;
    if (!this.nodes.get(m.from)?.up && m.from !== m.to) return false;
    if (this.blocked.has(`${m.from}->${m.to}`)) return false;
    if (this.intercept !== null && !this.intercept(m)) return false;
    return true;
  }

  /** Delivers queued messages (and everything they cause) until the network is quiet. */
  stabilize(maxMessages = 100_000): void {
    this.processAll();
    let count = 0;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (++count > maxMessages) throw new Error("network does not settle");
        if (!this.deliverable(m)) continue;
        const [copy] = decodeMessages(encodeMessages([m]));
        this.delivered.push(copy!);
        this.get(m.to).node.step(copy!);
        this.process(m.to);
      }
      this.processAll();
    }
  }

  /** Delivers only the currently queued messages (one hop), leaving their consequences queued. */
  deliverOnce(): void {
    this.processAll();
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      if (!this.deliverable(m)) continue;
      const [copy] = decodeMessages(encodeMessages([m]));
      this.delivered.push(copy!);
      this.get(m.to).node.step(copy!);
    }
    this.processAll();
  }

  /** Removes queued messages matching `pred` and returns them. */
  take(pred: (m: Message) => boolean): Message[] {
    const out = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return out;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      const n = this.get(id);
      if (n.up) n.node.tick();
    }
    this.process(id);
  }

  /** Ticks every live member `times` times, stabilizing the network after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (n.up) n.node.tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign and lets the election finish. */
  elect(id: NodeId): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  propose(id: NodeId, text: string): void {
    this.get(id).node.propose(new TextEncoder().encode(text));
    this.stabilize();
  }

  /** Cuts every link between `a` and `b` (both directions). */
  cut(a: NodeId, b: NodeId): void {
    this.blocked.add(`${a}->${b}`);
    this.blocked.add(`${b}->${a}`);
  }

  /** Cuts `id` from every other member. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  /** Splits the members into groups that cannot talk to each other. */
  partition(...groups: NodeId[][]): void {
    for (const g of groups) for (const h of groups) if (g !== h) for (const a of g) for (const b of h) this.blocked.add(`${a}->${b}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** The members that currently believe they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    const out: { id: NodeId; term: number }[] = [];
    for (const n of this.nodes.values()) if (n.up && n.raft.role === "leader") out.push({ id: n.id, term: n.raft.term });
    return out;
  }

  /** The unique leader of the highest term, or undefined. */
  leader(): NodeId | undefined {
    const ls = this.leaders().sort((a, b) => b.term - a.term);
    return ls[0]?.id;
  }
}

/** Builds a message from another member to `to` (for stepping by hand). */
export function msg(init: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    commit: 0,
    entries: [],
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: "",
    ...init,
  };
}

/** An entry with text data. */
export function textEntry(index: number, term: number, text = ""): Entry {
  return { index, term, type: "normal", data: new TextEncoder().encode(text) };
}
