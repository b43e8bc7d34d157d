// --store raft: the integrated store. This is the driver around the pure Raft core
// (internal/raft): it owns the clock (a ticker), the disk (internal/wal), the network (transport)
// and the state machine (internal/kv), and turns the Store interface into proposals, ReadIndex
// barriers and local reads.
//
// One loop handles Ready batches strictly in order: persist (one fsync for everything that
// arrived during the previous fsync: group commit comes from the loop itself), then send, then
// apply, then advance. Messages go out only after the state they depend on is durable, so a
// crash can never make a member forget a vote or an entry it acknowledged.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { Hono } from "hono";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import {
  ConfChangeRejectedError,
  MemoryStorage,
  ProposalDroppedError,
  RawNode,
  ReadIndexDroppedError,
  decodeConfChange,
  decodeMessages,
  encodeMessages,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type Ready,
} from "../raft/index.ts";
import {
  CompactedError as KvCompactedError,
  FutureRevisionError as KvFutureRevisionError,
  KvStateMachine,
  LeaseTimers,
  decodeCommand,
  encodeCommand,
  isFailure,
  type ApplyResult,
  type Command,
  type KvEvent,
} from "../kv/index.ts";
import { openWal, type Wal } from "../wal/index.ts";
import {
  CompactedError,
  FutureRevisionError,
  LeaseNotFoundError,
  MemberExistsError,
  MembershipChangeError,
  PreconditionFailedError,
  StoreUnavailableError,
  UnknownMemberError,
  validateKey,
  validatePrefix,
  type ClusterAdmin,
  type Consistency,
  type DeleteOptions,
  type KeyValue,
  type ListResult,
  type MemberStatus,
  type PutOptions,
  type Store,
  type StoreStatus,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from "../store/index.ts";
import type { Logger } from "../telemetry/index.ts";
import { encodeBackup, type BackupMember } from "./backup.ts";
import { lineageOffered, readClusterLineage, transportClusterId, writeClusterLineage } from "./cluster-identity.ts";
import { decodeEntry, decodeSnapshot, encodeEntry, encodeSnapshot } from "./payload.ts";
import { forceNewCluster } from "./restore.ts";
import { Transport, type MessageCodec } from "./transport.ts";

export interface RaftStoreOptions {
  readonly id: string;
  /** Founding members (this one included) with their URLs; ignored after the first start. */
  readonly peers: readonly { readonly id: string; readonly url: string }[];
  readonly dataDir: string;
  /** Start empty and wait to be added by the cluster, instead of founding one. */
  readonly join?: boolean;
  /** Members of different clusters refuse each other's messages. */
  readonly clusterToken?: string;
  /**
   * Disaster recovery after a lost quorum: rewrite the membership of the existing log so that this
   * member is the only voter, keeping every entry, and run as a one-member cluster.
   */
  readonly forceNewCluster?: boolean;
  readonly peerToken?: string;
  /** The Raft clock's granularity. */
  readonly tickMs?: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTicks?: number;
  /** Ticks of silence before a follower campaigns (randomized up to twice this). */
  readonly electionTicks?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEntries?: number;
  /** Keep this many revisions of history watchable; older ones are compacted. */
  readonly retainRevisions?: number;
  readonly requestTimeoutMs?: number;
  readonly logger: Logger;
  readonly registry: Registry;
}

const DEFAULT_TICK_MS = 100;
const DEFAULT_ELECTION_TICKS = 10;
/** Entries kept in the log behind a snapshot, so a briefly lagging follower needs no snapshot. */
const LOG_TAIL_AFTER_SNAPSHOT = 5_000;
/** A learner within this many entries of the leader's log is promoted to voter. */
const PROMOTION_LAG = 100;
/** A member whose applied index trails its commit index by more than this is not ready. */
const READY_LAG = 1_000;
/** How often a proposal refused for want of a leader is offered again while one is elected. */
const LEADER_WAIT_POLL_MS = 10;
/** A ReadIndex request that got no answer is issued again after this long (the leader may have changed). */
const READ_RETRY_MS = 300;

interface Pending {
  resolve(result: ApplyResult): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** A proposal waiting for a leader to take it (RaftStore.hold). */
interface HeldProposal {
  /** One proposal, or a batch forwarded by another member (taken or refused together). */
  readonly data: readonly Uint8Array[];
  /** Date.now() after which a refusal is final. */
  readonly until: number;
  /** False once nobody waits for it any more (the request timed out or the store closed). */
  wanted(): boolean;
  /** Told when the proposal is refused for good. */
  refused(error: unknown): void;
}

interface ReadRound {
  readonly context: string;
  readonly waiters: { resolve(): void; reject(error: Error): void }[];
  index: number | undefined;
  retry: ReturnType<typeof setTimeout> | undefined;
}

const codec: MessageCodec<Message> = {
  encode: (messages) => encodeMessages([...messages]),
  decode: (bytes) => decodeMessages(bytes),
  snapshotData: (m) => (m.type === "snap" && m.snapshot ? m.snapshot.data : undefined),
  withSnapshotData: (m, data) => (m.snapshot ? { ...m, snapshot: { ...m.snapshot, data } } : m),
  to: (m) => m.to,
};

/**
 * Opens (or founds) this member's Raft store: replays the write-ahead log and the newest
 * snapshot, then starts ticking. Mount its member endpoints with `mount(app)` before clients
 * arrive; the store is ready once `notReadyReason()` answers undefined.
 */
export async function openRaftStore(options: RaftStoreOptions): Promise<RaftStore> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const lineage = readClusterLineage(options.dataDir);
  const opened = await openWal(options.dataDir, {
    metadata: new TextEncoder().encode(JSON.stringify({ member: options.id, cluster: options.clusterToken ?? "" })),
  });
  const { wal } = opened;
  let { state } = opened;
  if (state.repaired) {
    options.logger.warn({ ...state.repaired }, "cut a torn record off the end of the write-ahead log");
  }
  if (options.forceNewCluster) {
    try {
      const forced = await forceNewCluster(wal, state, options.id);
      state = forced.state;
      options.logger.warn(
        { removed: forced.removed, lastIndex: state.entries.at(-1)?.index ?? state.snapshot?.metadata.index ?? 0, commit: state.hardState.commit },
        "--force-new-cluster: this member is now the only voter of a new one-member cluster; every entry in its log is kept and will be committed. Never let the old members run again with their old data",
      );
    } catch (error) {
      await wal.close();
      throw error;
    }
  }
  return new RaftStore(options, wal, state, lineage);
}

type WalState = Awaited<ReturnType<typeof openWal>>["state"];

export class RaftStore implements Store {
  readonly kind = "raft" as const;
  readonly cluster: ClusterAdmin;
  private readonly id: string;
  private readonly storage = new MemoryStorage();
  private readonly node: RawNode;
  private readonly kv = new KvStateMachine();
  private readonly leaseTimers = new LeaseTimers({ now: () => Date.now() });
  private readonly transport: Transport<Message>;
  private readonly members = new Map<string, string>();
  private confState: ConfState = { voters: [], learners: [] };
  private applied = 0;
  private snapshotIndex = 0;
  private readonly pending = new Map<string, Pending>();
  /** Proposals the core refused for want of a leader, offered again until one takes them (see hold). */
  private readonly held: HeldProposal[] = [];
  private heldTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly requestPrefix: string;
  private requestCounter = 0;
  private readRound: ReadRound | undefined;
  private nextReadRound: ReadRound | undefined;
  private readonly appliedWaiters: { index: number; resolve(): void }[] = [];
  private readonly watchers = new Set<() => void>();
  private wake: (() => void) | undefined;
  private closed = false;
  private removed = false;
  private campaignAlone: boolean;
  private role = "follower";
  private persistedTerm: number;
  private persistedVote: string | null;
  private loopDone: Promise<void>;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly housekeeping: ReturnType<typeof setInterval>;
  private readonly timeoutMs: number;
  private readonly electionTimeoutMs: number;
  private readonly snapshotEntries: number;
  private readonly retainRevisions: number;
  private readonly metrics: ReturnType<typeof raftMetrics>;

  constructor(
    private readonly options: RaftStoreOptions,
    private readonly wal: Wal,
    state: WalState,
    private lineage: string | undefined,
  ) {
    this.id = options.id;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.snapshotEntries = options.snapshotEntries ?? 10_000;
    this.retainRevisions = options.retainRevisions ?? 10_000;
    this.requestPrefix = `${options.id}/${randomBytes(4).toString("hex")}/`;
    this.metrics = raftMetrics(options.registry);
    for (const peer of options.peers) this.members.set(peer.id, peer.url);

    const fresh = state.snapshot === undefined && state.entries.length === 0 && state.hardState.term === 0;
    if (state.snapshot) {
      this.storage.applySnapshot(state.snapshot);
      this.restoreSnapshot(state.snapshot.data);
      this.confState = state.snapshot.metadata.confState;
      this.snapshotIndex = state.snapshot.metadata.index;
      this.applied = state.snapshot.metadata.index;
    }
    this.storage.setHardState(state.hardState);
    this.persistedTerm = state.hardState.term;
    this.persistedVote = state.hardState.vote;
    if (state.entries.length > 0) this.storage.append(state.entries);
    // A restored snapshot made without --peers does not know this member's URL.
    const own = options.peers.find((peer) => peer.id === options.id);
    if (!this.members.get(options.id) && own) this.members.set(options.id, own.url);
    if (options.forceNewCluster) {
      // The old members are no longer members: their requests are refused from the first moment.
      for (const id of [...this.members.keys()]) if (id !== options.id) this.members.delete(id);
    }

    this.node = new RawNode({
      id: options.id,
      storage: this.storage,
      random: Math.random,
      electionTick: options.electionTicks ?? DEFAULT_ELECTION_TICKS,
      heartbeatTick: options.heartbeatTicks ?? 1,
      applied: this.applied,
      checkQuorum: true,
      preVote: true,
    });
    if (fresh && !options.join) {
      this.node.bootstrap([...options.peers.map((peer) => peer.id)].sort());
      options.logger.info({ members: options.peers.map((p) => p.id) }, "founded a new cluster");
    }

    this.transport = new Transport<Message>({
      self: options.id,
      clusterId: transportClusterId(options.clusterToken ?? "nagent", lineage),
      adoptClusterId: (offered) => this.adoptLineage(offered),
      ...(options.peerToken ? { peerToken: options.peerToken } : {}),
      memberUrl: (id) => this.members.get(id),
      codec,
      deliver: (_from, messages) => {
        for (const message of messages) {
          if (message.type === "prop" && message.entries.every((entry) => entry.type === "normal")) this.takeForwarded(message.entries);
          else this.node.step(message);
        }
        this.notify();
      },
      reportUnreachable: (peer) => {
        this.node.reportUnreachable(peer);
        this.notify();
      },
      reportSnapshot: (peer, ok) => {
        this.node.reportSnapshot(peer, ok ? "finish" : "failure");
        this.notify();
      },
      logger: options.logger,
      registry: options.registry,
      requestTimeoutMs: this.timeoutMs,
    });

    this.cluster = {
      addMember: (id, url) => this.addMember(id, url),
      removeMember: (id) => this.removeMember(id),
      transferLeadership: (to) => this.transferLeadership(to),
    };

    const tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.electionTimeoutMs = tickMs * (options.electionTicks ?? DEFAULT_ELECTION_TICKS);
    this.ticker = setInterval(() => {
      this.node.tick();
      // While the loop waits for an fsync, a leader's heartbeats go out now rather than with the
      // next Ready: a slow disk must not look like a dead leader (see RawNode.takeHeartbeats).
      const heartbeats = this.node.takeHeartbeats();
      if (heartbeats.length > 0) this.transport.send(heartbeats);
      this.notify();
    }, tickMs);
    this.housekeeping = setInterval(() => this.leaderHousekeeping(), 200);
    this.loopDone = this.loop();
    // A one-member cluster need not wait out an election timeout to lead itself; it campaigns as
    // soon as its founding entry is applied (a member does not campaign with one pending).
    this.campaignAlone = !options.join && ((this.confState.voters.length <= 1 && options.peers.length === 1) || options.forceNewCluster === true);
  }

  /**
   * A member that joins with an empty log takes on the lineage of the restored cluster that adds
   * it (it has nothing to protect yet); any other member refuses a cluster id that is not its own.
   */
  private adoptLineage(offered: string): boolean {
    if (!this.options.join || this.lineage !== undefined || this.applied > 0 || this.storage.lastIndex() > 0) return false;
    const lineage = lineageOffered(this.options.clusterToken ?? "nagent", offered);
    if (lineage === undefined) return false;
    writeClusterLineage(this.options.dataDir, lineage);
    this.lineage = lineage;
    this.options.logger.info({ cluster: offered }, "joined a cluster restored from a backup");
    return true;
  }

  /**
   * A backup of the state machine (see backup.ts) that holds every write acknowledged before the
   * call: taken after a ReadIndex barrier, the state and its index read in the same instant.
   */
  async backup(): Promise<Uint8Array> {
    await this.readBarrier();
    const state = this.kv.snapshot();
    const stats = this.kv.stats();
    const index = this.applied;
    let term: number;
    try {
      term = this.storage.term(index);
    } catch {
      term = this.node.status().term;
    }
    const members: BackupMember[] = [
      ...this.confState.voters.map((id) => ({ id, url: this.members.get(id) ?? "", role: "voter" as const })),
      ...this.confState.learners.map((id) => ({ id, url: this.members.get(id) ?? "", role: "learner" as const })),
    ].sort((a, b) => a.id.localeCompare(b.id));
    return encodeBackup(
      { revision: stats.currentRevision, raftIndex: index, raftTerm: term, members, takenBy: this.id, takenAt: new Date().toISOString(), keyCount: stats.keys },
      state,
    );
  }

  /** Mounts the member-to-member endpoints (they carry their own authentication). */
  mount(app: Hono<any>): void {
    this.transport.mount(app);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  // ---------------------------------------------------------------------------------------------
  // The Ready loop.

  private async loop(): Promise<void> {
    while (!this.closed) {
      if (!this.node.hasReady()) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const ready = this.node.ready();
      try {
        await this.handleReady(ready);
      } catch (error) {
        // A write-ahead log that failed is fail-stop: nothing more may be acknowledged.
        this.options.logger.fatal({ err: error }, "the raft store stopped: its write-ahead log failed");
        this.closed = true;
        this.failAll(new StoreUnavailableError(`the store stopped: ${(error as Error).message}`));
        throw error;
      }
      this.node.advance();
      if (this.campaignAlone && this.applied > 0) {
        this.campaignAlone = false;
        if (this.confState.voters.length === 1 && this.confState.voters[0] === this.id) this.node.campaign();
      }
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    if (ready.softState) {
      this.role = ready.softState.role;
      this.onSoftState(ready.softState.leader, ready.softState.role);
    }
    // A leader may replicate while it writes its own log (Raft thesis §10.2.1): appends do not
    // depend on the leader's copy being durable, and nothing is applied or acknowledged before
    // this Ready's fsync completes, which is also before any later Ready can tell a member that
    // these entries are committed. Everyone else sends only after persisting (votes, acks).
    const termOrVoteChanged =
      ready.hardState !== null && (ready.hardState.term !== this.persistedTerm || ready.hardState.vote !== this.persistedVote);
    const sendFirst = this.role === "leader" && !termOrVoteChanged && ready.snapshot === null;
    if (sendFirst) this.transport.send(ready.messages);
    if (ready.hardState) {
      this.persistedTerm = ready.hardState.term;
      this.persistedVote = ready.hardState.vote;
    }
    const persist = ready.entries.length > 0 || ready.snapshot !== null || (ready.mustSync && ready.hardState !== null);
    if (persist) {
      const started = performance.now();
      if (ready.snapshot) void this.wal.saveSnapshot(ready.snapshot).catch(() => {});
      await this.wal.save(ready.hardState ?? undefined, [...ready.entries]);
      this.metrics.fsyncSeconds.observe((performance.now() - started) / 1000);
    }
    if (ready.snapshot) this.storage.applySnapshot(ready.snapshot);
    if (ready.entries.length > 0) this.storage.append(ready.entries);
    if (ready.hardState) this.storage.setHardState(ready.hardState);

    if (!sendFirst) this.transport.send(ready.messages);

    if (ready.snapshot) {
      this.restoreSnapshot(ready.snapshot.data);
      this.confState = ready.snapshot.metadata.confState;
      this.applied = ready.snapshot.metadata.index;
      this.snapshotIndex = ready.snapshot.metadata.index;
      this.metrics.snapshotsInstalled.inc();
      this.options.logger.info({ index: this.applied }, "installed a snapshot from the leader");
    }
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    for (const state of ready.readStates) this.onReadState(state.context, state.index);
    this.releaseAppliedWaiters();
    this.metrics.applied.set(this.applied);

    if (ready.hardState) {
      this.metrics.term.set(ready.hardState.term);
      this.metrics.commit.set(ready.hardState.commit);
    }
    if (this.applied - this.snapshotIndex >= this.snapshotEntries) await this.takeSnapshot();
  }

  private applyEntry(entry: Entry): void {
    this.applied = entry.index;
    if (entry.type === "confChange") {
      this.applyConfChange(decodeConfChange(entry.data));
      return;
    }
    if (entry.data.length === 0) return; // a new leader's empty entry
    const { requestId, command: bytes } = decodeEntry(entry.data);
    let command: Command | undefined;
    let result: ApplyResult;
    try {
      command = decodeCommand(bytes);
      result = this.kv.apply(command);
    } catch {
      result = this.kv.apply(bytes); // answers a deterministic "malformed" failure
    }
    if (command) this.leaseTimers.observe(command, result);
    const waiting = this.pending.get(requestId);
    if (waiting) {
      this.pending.delete(requestId);
      clearTimeout(waiting.timer);
      waiting.resolve(result);
    }
  }

  private applyConfChange(change: ConfChange): void {
    this.confState = this.node.applyConfChange(change);
    if (change.type === "removeNode") {
      this.members.delete(change.nodeId);
      if (change.nodeId === this.id) {
        this.removed = true;
        this.options.logger.warn("this member was removed from the cluster");
      }
    } else if (change.context !== "") {
      this.members.set(change.nodeId, change.context);
    }
    this.options.logger.info({ change: change.type, member: change.nodeId, voters: this.confState.voters, learners: this.confState.learners }, "membership changed");
  }

  private onSoftState(leader: string | null, role: string): void {
    this.metrics.isLeader.set(role === "leader" ? 1 : 0);
    this.options.logger.info({ leader, role }, "raft role changed");
    if (role === "leader") {
      this.metrics.leaderChanges.inc();
      // A new leader restarts every lease's clock, so a leader change never expires a lease early.
      this.leaseTimers.promote(this.kv.leases());
    } else {
      this.leaseTimers.demote();
    }
  }

  private restoreSnapshot(data: Uint8Array): void {
    const payload = decodeSnapshot(data);
    this.kv.restore(payload.state);
    this.members.clear();
    for (const [id, url] of Object.entries(payload.members)) this.members.set(id, url);
    // Watchers cannot follow across a restore; they end, and SSE clients resume by revision.
    for (const end of [...this.watchers]) end();
  }

  private async takeSnapshot(): Promise<void> {
    const data = encodeSnapshot({ members: Object.fromEntries(this.members), state: this.kv.snapshot() });
    // The membership as of the snapshot's index (changes take effect when appended, so the
    // newest one in the log may be later than what has been applied).
    const snapshot = this.storage.createSnapshot(this.applied, this.node.confStateAt(this.applied), data);
    await this.wal.saveSnapshot(snapshot);
    this.snapshotIndex = this.applied;
    const compactTo = this.applied - LOG_TAIL_AFTER_SNAPSHOT;
    if (compactTo > this.storage.firstIndex()) {
      this.storage.compact(compactTo);
      await this.wal.releaseTo(compactTo);
    }
    this.metrics.snapshots.inc();
    this.options.logger.info({ index: this.applied, bytes: data.length }, "took a snapshot");
  }

  /** Leader duties on a timer: expire leases, promote caught-up learners, compact old history. */
  private leaderHousekeeping(): void {
    if (this.closed) return;
    const status = this.node.status();
    if (status.role !== "leader") return;
    const expired = this.leaseTimers.expired(Date.now(), 1000);
    if (expired.length > 0) {
      // With the renewal counts seen now: a keep-alive applied before this expiry cancels it.
      const renewals = expired.map((id) => this.kv.lease(id)?.renewals ?? 0);
      void this.propose({ op: "leaseExpire", ids: expired, renewals }).catch(() => {});
    }
    const compactTo = this.kv.suggestCompaction(this.retainRevisions, Math.max(1, this.retainRevisions / 10));
    if (compactTo !== undefined) void this.propose({ op: "compact", revision: compactTo }).catch(() => {});
    for (const learner of this.confState.learners) {
      const progress = status.progress?.[learner];
      if (progress && progress.recentActive && progress.match + PROMOTION_LAG >= status.lastIndex) {
        try {
          this.node.proposeConfChange({ type: "addVoter", nodeId: learner, context: this.members.get(learner) ?? "" });
          this.options.logger.info({ member: learner, match: progress.match }, "promoting a caught-up learner to voter");
          this.notify();
        } catch (error) {
          if (!(error instanceof ConfChangeRejectedError)) throw error;
        }
        break;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Proposals and reads.

  private available(): void {
    if (this.closed) throw new StoreUnavailableError("the store is closed");
    if (this.removed) throw new StoreUnavailableError("this member was removed from the cluster");
  }

  /**
   * Proposes a command and resolves with its result once this member has applied it. On a
   * follower the core forwards the proposal to the leader. A timeout means the outcome is unknown.
   * A proposal refused for want of a leader is held while one is elected (see hold); past that,
   * the write fails as unavailable.
   */
  private propose(command: Command): Promise<ApplyResult> {
    this.available();
    const requestId = this.requestPrefix + (++this.requestCounter).toString(36);
    const data = encodeEntry(requestId, encodeCommand(command));
    return new Promise<ApplyResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        this.metrics.proposals.inc({ result: "timeout" });
        reject(new StoreUnavailableError(`no answer from the cluster within ${this.timeoutMs} ms; the write may or may not have been applied`));
      }, this.timeoutMs);
      this.pending.set(requestId, {
        resolve: (result) => {
          this.metrics.proposals.inc({ result: "applied" });
          resolve(result);
        },
        reject,
        timer,
      });
      this.hold({
        data: [data],
        until: Date.now() + this.leaderWaitMs(),
        // Settled meanwhile: timed out, or failed by close().
        wanted: () => this.pending.has(requestId),
        refused: (error) => {
          clearTimeout(timer);
          this.pending.delete(requestId);
          this.metrics.proposals.inc({ result: "dropped" });
          const leader = error instanceof ProposalDroppedError ? "no leader is known" : (error as Error).message;
          reject(new StoreUnavailableError(`cannot write now: ${leader}`, { cause: error }));
        },
      });
    });
  }

  /**
   * Proposals another member forwarded here, taking this member for the leader. If one cannot be
   * taken now (a leadership transfer is under way, or this member has just stepped down) the core
   * would drop it without a word, and the member that forwarded it would wait out its whole request
   * timeout; instead it is held like a local one and, once a leader is known, appended here or
   * forwarded on to it.
   */
  private takeForwarded(entries: readonly Entry[]): void {
    this.hold({ data: entries.map((entry) => entry.data), until: Date.now() + this.leaderWaitMs(), wanted: () => !this.closed, refused: () => {} });
  }

  /** How long a proposal is held while no leader takes it: two election timeouts, within half a request's time. */
  private leaderWaitMs(): number {
    return Math.min(2 * this.electionTimeoutMs, this.timeoutMs / 2);
  }

  /**
   * Offers a proposal to the core now or, when proposals are already held or the core refuses it
   * for want of a leader (no leader is known, or the leader is handing over), holds it and offers
   * it again every few milliseconds, in order, until it is taken or its time is up, as etcd holds
   * proposals while its cluster elects. A refused proposal was never appended, so offering it
   * again cannot apply it twice; a leader change is then a short wait, not a failed write.
   */
  private hold(proposal: HeldProposal): void {
    if (this.held.length === 0 && this.offer(proposal)) return;
    this.held.push(proposal);
    this.heldTimer ??= setTimeout(() => this.offerHeld(), LEADER_WAIT_POLL_MS);
  }

  private offerHeld(): void {
    this.heldTimer = undefined;
    while (this.held.length > 0 && this.offer(this.held[0]!)) this.held.shift();
    if (this.held.length > 0 && !this.closed) this.heldTimer = setTimeout(() => this.offerHeld(), LEADER_WAIT_POLL_MS);
  }

  /** One offer: true when the proposal is settled (taken, refused for good, or no longer wanted), false to hold it. */
  private offer(proposal: HeldProposal): boolean {
    if (!proposal.wanted()) return true;
    try {
      this.node.proposeAll(proposal.data);
    } catch (error) {
      if (error instanceof ProposalDroppedError && !this.closed && Date.now() < proposal.until) return false;
      proposal.refused(error);
      return true;
    }
    this.notify();
    return true;
  }

  /**
   * Waits until this member's state reflects every write acknowledged before the call (ReadIndex).
   * Reads that arrive while a round is in flight wait for the next round: the index of a round
   * that started before a read began could miss a write that completed just before it.
   */
  private readBarrier(): Promise<void> {
    this.available();
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      if (!this.readRound) {
        this.readRound = this.startReadRound([waiter]);
      } else {
        this.nextReadRound ??= { context: "", waiters: [], index: undefined, retry: undefined };
        this.nextReadRound.waiters.push(waiter);
      }
    });
  }

  private startReadRound(waiters: ReadRound["waiters"]): ReadRound {
    const round: ReadRound = { context: `${this.requestPrefix}r${++this.requestCounter}`, waiters, index: undefined, retry: undefined };
    const deadline = Date.now() + this.timeoutMs;
    const issue = () => {
      if (round.index !== undefined || this.readRound !== round) return;
      if (Date.now() > deadline) {
        this.finishReadRound(round, new StoreUnavailableError(`no read index from a leader within ${this.timeoutMs} ms`));
        return;
      }
      try {
        this.node.readIndex(round.context);
        this.notify();
      } catch (error) {
        if (!(error instanceof ReadIndexDroppedError)) throw error;
      }
      round.retry = setTimeout(issue, READ_RETRY_MS);
    };
    queueMicrotask(issue);
    return round;
  }

  private onReadState(context: string, index: number): void {
    const round = this.readRound;
    if (!round || round.context !== context || round.index !== undefined) return;
    round.index = index;
    clearTimeout(round.retry);
    if (this.applied >= index) this.finishReadRound(round);
    else this.appliedWaiters.push({ index, resolve: () => this.finishReadRound(round) });
  }

  private finishReadRound(round: ReadRound, error?: Error): void {
    if (this.readRound !== round) return;
    clearTimeout(round.retry);
    for (const waiter of round.waiters) (error ? waiter.reject(error) : waiter.resolve());
    const next = this.nextReadRound;
    this.nextReadRound = undefined;
    this.readRound = next ? this.startReadRound(next.waiters) : undefined;
  }

  private releaseAppliedWaiters(): void {
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const waiter = this.appliedWaiters[i]!;
      if (this.applied >= waiter.index) {
        this.appliedWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private async consistent(consistency: Consistency): Promise<void> {
    if (consistency === "linearizable") await this.readBarrier();
    else this.available();
  }

  private failAll(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
    for (const round of [this.readRound, this.nextReadRound]) {
      if (!round) continue;
      clearTimeout(round.retry);
      for (const waiter of round.waiters) waiter.reject(error);
    }
    this.readRound = undefined;
    this.nextReadRound = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Store.

  async get(key: string, consistency: Consistency = "linearizable"): Promise<KeyValue | undefined> {
    validateKey(key);
    await this.consistent(consistency);
    return this.kv.get(key);
  }

  async list(prefix: string, consistency: Consistency = "linearizable"): Promise<ListResult> {
    validatePrefix(prefix);
    await this.consistent(consistency);
    return this.kv.range(prefix);
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<{ revision: number }> {
    validateKey(key);
    const result = await this.propose({
      op: "put",
      key,
      value,
      ...(options.lease !== undefined ? { lease: options.lease } : {}),
      ...(options.ifModRevision !== undefined ? { ifModRevision: options.ifModRevision } : {}),
    });
    return { revision: this.success(result, key, options.ifModRevision, options.lease).revision };
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<{ revision: number; deleted: boolean }> {
    validateKey(key);
    const result = await this.propose({
      op: "delete",
      key,
      ...(options.ifModRevision !== undefined ? { ifModRevision: options.ifModRevision } : {}),
    });
    const success = this.success(result, key, options.ifModRevision);
    return { revision: success.revision, deleted: "deleted" in success ? success.deleted : false };
  }

  /** Turns a failed apply into the Store's typed errors. */
  private success(result: ApplyResult, key: string, expected?: number, lease?: string) {
    if (!isFailure(result)) return result;
    switch (result.failed) {
      case "compare":
        throw new PreconditionFailedError(key, expected ?? 0, result.currentModRevision);
      case "leaseNotFound":
        throw new LeaseNotFoundError(lease ?? result.id);
      default:
        throw new StoreUnavailableError(`the store refused the command: ${JSON.stringify(result)}`);
    }
  }

  async history(key: string): Promise<readonly WatchEvent[]> {
    validateKey(key);
    await this.readBarrier();
    return this.kv.history(key).map(toWatchEvent);
  }

  async watch(prefix: string, fromRevision: number | undefined, handlers: WatchHandlers): Promise<Watch> {
    validatePrefix(prefix);
    this.available();
    let cancel: (() => void) | undefined;
    const end = () => {
      cancel?.();
      this.watchers.delete(end);
      handlers.onError(new StoreUnavailableError("the watch ended because this member installed a snapshot; resume from the last revision seen"));
    };
    try {
      cancel = this.kv.watch(prefix, fromRevision, (events) => handlers.onEvents(events.map(toWatchEvent)));
    } catch (error) {
      if (error instanceof KvCompactedError) throw new CompactedError(error.requested, error.compactRevision);
      if (error instanceof KvFutureRevisionError) throw new FutureRevisionError(error.requested, error.currentRevision);
      throw error;
    }
    this.watchers.add(end);
    return {
      cancel: async () => {
        cancel?.();
        this.watchers.delete(end);
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const id = `${Date.now().toString(36)}${randomBytes(6).toString("hex")}`;
    const result = await this.propose({ op: "leaseGrant", id, ttlSeconds });
    this.success(result, "", undefined, id);
    return id;
  }

  async keepAlive(lease: string): Promise<number> {
    // The leader knows the deadline: renewing a lease it already proposed to expire would race.
    if (this.leaseTimers.isLeader && (this.leaseTimers.remainingMs(lease) ?? 1) <= 0) throw new LeaseNotFoundError(lease);
    const result = await this.propose({ op: "leaseKeepAlive", id: lease });
    const success = this.success(result, "", undefined, lease);
    return "ttlSeconds" in success ? success.ttlSeconds : 0;
  }

  async revokeLease(lease: string): Promise<void> {
    this.success(await this.propose({ op: "leaseRevoke", id: lease }), "", undefined, lease);
  }

  async compact(revision: number): Promise<void> {
    const result = await this.propose({ op: "compact", revision });
    if (isFailure(result) && result.failed === "futureRevision") throw new FutureRevisionError(revision, result.currentRevision);
    if (isFailure(result) && result.failed === "compacted") return;
    this.success(result, "");
  }

  async status(): Promise<StoreStatus> {
    const status = this.node.status();
    const ids = [...new Set([...this.confState.voters, ...this.confState.learners, ...this.members.keys()])].sort();
    const members: MemberStatus[] = ids.map((id) => {
      const learner = this.confState.learners.includes(id);
      const role: MemberStatus["role"] =
        id === this.id
          ? status.role === "preCandidate"
            ? "candidate"
            : learner
              ? "learner"
              : (status.role as MemberStatus["role"])
          : id === status.leader
            ? "leader"
            : learner
              ? "learner"
              : "follower";
      const progress = status.progress?.[id];
      return {
        id,
        url: this.members.get(id) ?? "",
        role,
        ...(id === this.id ? { commitIndex: status.commit, appliedIndex: this.applied } : {}),
        ...(progress && id !== this.id ? { matchIndex: progress.match } : {}),
      };
    });
    return { kind: "raft", leader: status.leader, term: status.term, revision: this.kv.currentRevision, members };
  }

  notReadyReason(): string | undefined {
    if (this.closed) return "the store is closed";
    if (this.removed) return "this member was removed from the cluster";
    const status = this.node.status();
    if (status.leader === null) return "no leader";
    if (status.commit - this.applied > READY_LAG) return `catching up: applied ${this.applied} of ${status.commit}`;
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership.

  private async waitUntil(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + this.timeoutMs * 2;
    while (!condition()) {
      if (Date.now() > deadline) throw new StoreUnavailableError(`timed out waiting for ${what}`);
      await Bun.sleep(20);
    }
  }

  private proposeChange(change: ConfChange): void {
    this.available();
    try {
      this.node.proposeConfChange(change);
    } catch (error) {
      if (error instanceof ConfChangeRejectedError) throw new MembershipChangeError(error.message);
      if (error instanceof ProposalDroppedError) throw new StoreUnavailableError("no leader is known", { cause: error });
      throw error;
    }
    this.notify();
  }

  private async addMember(id: string, url: string): Promise<void> {
    if (this.confState.voters.includes(id) || this.confState.learners.includes(id)) throw new MemberExistsError(id);
    this.proposeChange({ type: "addLearner", nodeId: id, context: url });
    await this.waitUntil(() => this.confState.learners.includes(id) || this.confState.voters.includes(id), `${id} to join`);
  }

  private async removeMember(id: string): Promise<void> {
    const isVoter = this.confState.voters.includes(id);
    if (!isVoter && !this.confState.learners.includes(id)) throw new UnknownMemberError(id);
    if (isVoter && this.confState.voters.length === 1) throw new MembershipChangeError("cannot remove the last voting member");
    this.proposeChange({ type: "removeNode", nodeId: id, context: "" });
    await this.waitUntil(() => !this.confState.voters.includes(id) && !this.confState.learners.includes(id), `${id} to leave`);
  }

  private async transferLeadership(to?: string): Promise<string> {
    this.available();
    const status = this.node.status();
    const target =
      to ??
      this.confState.voters
        .filter((id) => id !== status.leader)
        .sort((a, b) => (status.progress?.[b]?.match ?? 0) - (status.progress?.[a]?.match ?? 0))[0];
    if (!target) throw new MembershipChangeError("there is no other voter to hand leadership to");
    if (!this.confState.voters.includes(target)) throw new UnknownMemberError(target);
    if (status.leader === target) return target;
    this.node.transferLeadership(target);
    this.notify();
    await this.waitUntil(() => this.node.status().leader === target, `leadership to move to ${target}`);
    return target;
  }

  /**
   * Before a graceful stop: a leader hands leadership to the most caught-up voter (so the cluster
   * does not wait out an election timeout), then the member-to-member streams are closed so the
   * port can drain.
   */
  async prepareToStop(): Promise<void> {
    if (this.closed) return;
    const status = this.node.status();
    if (status.role === "leader" && this.confState.voters.length > 1) {
      try {
        // Bounded by two election timeouts: a stop must not wait on a cluster that is stopping too.
        const bound = 2 * this.electionTimeoutMs;
        const to = await Promise.race([this.transferLeadership(), Bun.sleep(bound).then(() => undefined)]);
        this.options.logger.info({ to }, "handed leadership over before stopping");
      } catch (error) {
        this.options.logger.warn({ err: (error as Error).message }, "could not hand leadership over before stopping");
      }
    }
    this.transport.closeStreams();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    clearInterval(this.housekeeping);
    clearTimeout(this.heldTimer);
    this.held.length = 0;
    this.failAll(new StoreUnavailableError("the store is closed"));
    for (const end of [...this.watchers]) end();
    this.notify();
    await this.loopDone.catch(() => {});
    this.transport.close();
    await this.wal.close();
  }
}

/**
 * The state machine hands every watcher the same event objects; so does this, so that the watch
 * API can encode each event once for all of its streams.
 */
const watchEvents = new WeakMap<KvEvent, WatchEvent>();

function toWatchEvent(event: KvEvent): WatchEvent {
  let converted = watchEvents.get(event);
  if (!converted) {
    converted =
      event.type === "put"
        ? { type: "put", key: event.key, value: event.value, revision: event.revision }
        : { type: "delete", key: event.key, revision: event.revision };
    watchEvents.set(event, converted);
  }
  return converted;
}

function raftMetrics(registry: Registry) {
  const registers = [registry];
  return {
    term: new Gauge({ name: "nagent_raft_term", help: "Current Raft term of this member.", registers }),
    commit: new Gauge({ name: "nagent_raft_commit_index", help: "Highest log index known committed.", registers }),
    applied: new Gauge({ name: "nagent_raft_applied_index", help: "Highest log index applied to the state machine.", registers }),
    isLeader: new Gauge({ name: "nagent_raft_is_leader", help: "1 while this member is the leader.", registers }),
    leaderChanges: new Counter({ name: "nagent_raft_leader_changes_total", help: "Times this member became leader.", registers }),
    proposals: new Counter({ name: "nagent_raft_proposals_total", help: "Proposals by outcome.", labelNames: ["result"], registers }),
    snapshots: new Counter({ name: "nagent_raft_snapshots_total", help: "Snapshots taken by this member.", registers }),
    snapshotsInstalled: new Counter({ name: "nagent_raft_snapshots_installed_total", help: "Snapshots received from a leader and installed.", registers }),
    fsyncSeconds: new Histogram({
      name: "nagent_raft_wal_sync_duration_seconds",
      help: "Time to write and fsync one Ready batch to the write-ahead log.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
}
