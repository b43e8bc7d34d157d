// --store etcd: the control plane's state in an existing etcd cluster, through the etcd3 client's
// raw gRPC services (kv, lease, watch). Raw calls rather than the fluent builders, because the
// store needs what the builders hide: the header revision of every answer, the compact revision
// of a refused watch, and the failure branch of a compare-and-set transaction.
import { Etcd3, GRPCUnavailableError, GRPCDeadlineExceededError, type IKeyValue } from "etcd3";
import { noop } from "cockatiel";
import {
  CompactedError,
  FutureRevisionError,
  LeaseNotFoundError,
  PreconditionFailedError,
  StoreUnavailableError,
} from "./errors.ts";
import { validateKey, validatePrefix } from "./keys.ts";
import type {
  Consistency,
  DeleteOptions,
  KeyValue,
  ListResult,
  PutOptions,
  Store,
  StoreStatus,
  Watch,
  WatchEvent,
  WatchHandlers,
} from "./types.ts";

export interface EtcdStoreOptions {
  readonly endpoints: readonly string[];
  /** Every key lives under this prefix, so one etcd cluster can hold other data too. */
  readonly prefix?: string;
  /** Deadline of each call. */
  readonly requestTimeoutMs?: number;
}

const DEFAULT_PREFIX = "nagent/";
const HEALTH_PROBE_MS = 2_000;

/** Opens a Store on an etcd cluster. Connection happens lazily on the first call. */
export function createEtcdStore(options: EtcdStoreOptions): Store {
  return new EtcdStore(options);
}

class EtcdStore implements Store {
  readonly kind = "etcd" as const;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly watches = new Set<RawWatch>();
  private unready: string | undefined = "not yet connected to etcd";
  private readonly probe: ReturnType<typeof setInterval>;

  constructor(options: EtcdStoreOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: this.timeoutMs,
      // No automatic retries: a retried compare-and-set whose first attempt committed would be
      // reported as a failure, which a linearizability check rightly calls a lie. Callers that
      // know an operation is safe to repeat retry it themselves.
      faultHandling: { global: noop, host: () => noop },
    });
    // Readiness is asked on every /readyz; answer it from a background probe, never a round trip.
    void this.checkHealth();
    this.probe = setInterval(() => void this.checkHealth(), HEALTH_PROBE_MS);
    this.probe.unref?.();
  }

  private async checkHealth(): Promise<void> {
    try {
      const status = await this.call((o) => this.client.maintenance.status(o));
      this.unready = String(status.leader) === "0" ? "etcd has no leader" : undefined;
    } catch (error) {
      this.unready = `etcd unreachable: ${(error as Error).message}`;
    }
  }

  notReadyReason(): string | undefined {
    return this.unready;
  }

  private key(key: string): Buffer {
    return Buffer.from(this.prefix + key);
  }

  private call<T>(run: (options: { deadline: number }) => Promise<T>): Promise<T> {
    return run({ deadline: Date.now() + this.timeoutMs }).catch((error: unknown) => {
      throw translate(error);
    });
  }

  async get(key: string, consistency: Consistency = "linearizable"): Promise<KeyValue | undefined> {
    validateKey(key);
    const response = await this.call((o) =>
      this.client.kv.range({ key: this.key(key), serializable: consistency === "serializable" }, o),
    );
    const kv = response.kvs[0];
    return kv ? this.toKeyValue(kv) : undefined;
  }

  async list(prefix: string, consistency: Consistency = "linearizable"): Promise<ListResult> {
    validatePrefix(prefix);
    const key = this.key(prefix);
    const response = await this.call((o) =>
      this.client.kv.range({ key, range_end: prefixEnd(key), serializable: consistency === "serializable" }, o),
    );
    return { items: response.kvs.map((kv) => this.toKeyValue(kv)), revision: Number(response.header.revision) };
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<{ revision: number }> {
    validateKey(key);
    const put = { key: this.key(key), value: Buffer.from(value), ...(options.lease ? { lease: options.lease } : {}) };
    if (options.ifModRevision === undefined) {
      const response = await this.call((o) => this.client.kv.put(put, o));
      return { revision: Number(response.header.revision) };
    }
    const expected = options.ifModRevision;
    const response = await this.call((o) =>
      this.client.kv.txn(
        {
          compare: [{ key: put.key, target: "Mod", result: "Equal", mod_revision: expected }],
          success: [{ request_put: put }],
          failure: [{ request_range: { key: put.key } }],
        },
        o,
      ),
    );
    if (!response.succeeded) throw new PreconditionFailedError(key, expected, currentModRevision(response));
    return { revision: Number(response.header.revision) };
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<{ revision: number; deleted: boolean }> {
    validateKey(key);
    const target = this.key(key);
    if (options.ifModRevision === undefined) {
      const response = await this.call((o) => this.client.kv.deleteRange({ key: target }, o));
      return { revision: Number(response.header.revision), deleted: Number(response.deleted) > 0 };
    }
    const expected = options.ifModRevision;
    const response = await this.call((o) =>
      this.client.kv.txn(
        {
          compare: [{ key: target, target: "Mod", result: "Equal", mod_revision: expected }],
          success: [{ request_delete_range: { key: target } }],
          failure: [{ request_range: { key: target } }],
        },
        o,
      ),
    );
    if (!response.succeeded) throw new PreconditionFailedError(key, expected, currentModRevision(response));
    const deleted = Number(response.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
    return { revision: Number(response.header.revision), deleted };
  }

  /**
   * etcd has no per-key history call; replaying a watch from the oldest retained revision is the
   * documented way to read one. A watch never says "that was all", so the replay stops at a
   * revision known to carry an event: the key's modRevision when it exists, otherwise the
   * current revision, watched across the whole keyspace (every revision is some key's event).
   */
  async history(key: string): Promise<readonly WatchEvent[]> {
    validateKey(key);
    const target = this.key(key);
    const response = await this.call((o) => this.client.kv.range({ key: target }, o));
    const existing = response.kvs[0];
    const stopAt = existing ? Number(existing.mod_revision) : Number(response.header.revision);
    const events: WatchEvent[] = [];
    if (stopAt === 0) return events;
    let from = 1;
    for (;;) {
      try {
        await this.replay(existing ? target : undefined, from, stopAt, (batch) => {
          for (const event of batch) if (event.key === key && event.revision <= stopAt) events.push(event);
        });
        return events;
      } catch (error) {
        if (!(error instanceof CompactedError)) throw error;
        from = error.oldest;
        events.length = 0;
      }
    }
  }

  /** Replays events of `key` (or of every key) from `from` until an event at `until` arrives. */
  private replay(key: Buffer | undefined, from: number, until: number, onEvents: (events: WatchEvent[]) => void) {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => done(new StoreUnavailableError("etcd history replay timed out")), this.timeoutMs);
      const done = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void watch.cancel();
        if (error) reject(error);
        else resolve();
      };
      const everything = Buffer.from([0]);
      const watch = new RawWatch(this.client, key ?? everything, key === undefined, from, this.prefix, {
        onEvents: (batch) => {
          onEvents(batch);
          if ((batch.at(-1)?.revision ?? 0) >= until) done();
        },
        onError: done,
      }, key === undefined ? everything : undefined);
      watch.start().catch(done);
    });
  }

  async watch(prefix: string, fromRevision: number | undefined, handlers: WatchHandlers): Promise<Watch> {
    validatePrefix(prefix);
    const current = await this.currentRevision();
    if (fromRevision !== undefined && fromRevision > current + 1) throw new FutureRevisionError(fromRevision, current);
    if (fromRevision !== undefined && fromRevision <= current) await this.refuseCompacted(prefix, fromRevision);
    const watch = new RawWatch(this.client, this.key(prefix), true, fromRevision ?? current + 1, this.prefix, {
      onEvents: (events) => handlers.onEvents(events),
      onError: (error) => {
        this.watches.delete(watch);
        handlers.onError(error);
      },
    });
    await watch.start();
    this.watches.add(watch);
    return {
      cancel: async () => {
        this.watches.delete(watch);
        await watch.cancel();
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const response = await this.call((o) => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, o));
    return String(response.ID);
  }

  async keepAlive(lease: string): Promise<number> {
    const stream = await this.call((o) => this.client.leaseClient.leaseKeepAlive(o));
    try {
      const ttl = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new StoreUnavailableError("etcd lease keep-alive timed out")), this.timeoutMs);
        stream.on("data", (response) => {
          clearTimeout(timer);
          resolve(Number(response.TTL));
        });
        stream.on("error", (error) => {
          clearTimeout(timer);
          reject(translate(error));
        });
        stream.write({ ID: lease });
      });
      if (ttl <= 0) throw new LeaseNotFoundError(lease);
      return ttl;
    } finally {
      stream.end();
    }
  }

  async revokeLease(lease: string): Promise<void> {
    try {
      await this.call((o) => this.client.leaseClient.leaseRevoke({ ID: lease }, o));
    } catch (error) {
      if (/requested lease not found/i.test((error as Error).message)) throw new LeaseNotFoundError(lease);
      throw error;
    }
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call((o) => this.client.kv.compact({ revision, physical: true }, o));
    } catch (error) {
      const message = (error as Error).message;
      if (/future revision/i.test(message)) throw new FutureRevisionError(revision, await this.currentRevision());
      // Compacting to a revision already compacted is a no-op, as it is for the raft store.
      if (!/has been compacted/i.test(message)) throw error;
    }
  }

  async status(): Promise<StoreStatus> {
    const [members, status] = await Promise.all([
      this.call((o) => this.client.cluster.memberList({}, o)),
      this.call((o) => this.client.maintenance.status(o)),
    ]);
    const leader = String(status.leader);
    return {
      kind: "etcd",
      leader: members.members.find((member) => String(member.ID) === leader)?.name ?? leader,
      term: Number(status.raftTerm),
      revision: Number(status.header.revision),
      members: members.members.map((member) => ({
        id: member.name || String(member.ID),
        url: member.clientURLs[0] ?? member.peerURLs[0] ?? "",
        role: member.isLearner ? "learner" : String(member.ID) === leader ? "leader" : "follower",
      })),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    await Promise.all([...this.watches].map((watch) => watch.cancel()));
    this.watches.clear();
    this.client.close();
  }

  /**
   * etcd accepts a watch on a compacted revision and cancels it a moment later; a point-in-time
   * range tells beforehand, and only then is a throwaway watch opened to learn the oldest revision.
   */
  private async refuseCompacted(prefix: string, fromRevision: number): Promise<void> {
    try {
      await this.call((o) => this.client.kv.range({ key: this.key(prefix), count_only: true, revision: fromRevision }, o));
      return;
    } catch (error) {
      if (!/compacted/i.test((error as Error).message)) throw error;
    }
    const probe = new RawWatch(this.client, this.key(prefix), true, fromRevision, this.prefix, {
      onEvents: () => {},
      onError: () => {},
    });
    const refused = await new Promise<Error>((resolve) => {
      probe.start().then(() => probe.onFailure(resolve), resolve);
    });
    await probe.cancel();
    throw refused instanceof CompactedError ? refused : new CompactedError(fromRevision, fromRevision + 1);
  }

  private async currentRevision(): Promise<number> {
    const response = await this.call((o) =>
      this.client.kv.range({ key: this.key("\u0000"), count_only: true }, o),
    );
    return Number(response.header.revision);
  }

  private toKeyValue(kv: IKeyValue): KeyValue {
    const lease = String(kv.lease);
    return {
      key: kv.key.toString().slice(this.prefix.length),
      value: kv.value.toString(),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
      ...(lease !== "0" ? { lease } : {}),
    };
  }
}

interface RawWatchHandlers {
  onEvents(events: WatchEvent[]): void;
  onError(error: Error): void;
}

/**
 * One etcd watch stream. The high-level etcd3 Watcher reconnects silently and drops the compact
 * revision of a refused watch; a raw stream reports both, and the SSE layer above resumes with
 * Last-Event-ID instead.
 */
class RawWatch {
  private stream: Awaited<ReturnType<Etcd3["watchClient"]["watch"]>> | undefined;
  private cancelled = false;
  private failureListener: ((error: Error) => void) | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly key: Buffer,
    private readonly prefix: boolean,
    private readonly fromRevision: number,
    private readonly namespace: string,
    private readonly handlers: RawWatchHandlers,
    /** An explicit range end; "\0" selects every key from `key` on. */
    private readonly rangeEnd?: Buffer,
  ) {}

  async start(): Promise<void> {
    const stream = await this.client.watchClient.watch();
    this.stream = stream;
    await new Promise<void>((resolve, reject) => {
      let created = false;
      stream.on("data", (response) => {
        if (response.canceled) {
          const compacted = Number(response.compact_revision);
          const error =
            compacted > 0
              ? new CompactedError(this.fromRevision, compacted)
              : new StoreUnavailableError(`etcd cancelled the watch: ${response.cancel_reason || "no reason given"}`);
          if (!created) reject(error);
          else this.fail(error);
          return;
        }
        if (response.created && !created) {
          created = true;
          resolve();
        }
        if (response.events.length > 0) this.deliver(response.events);
      });
      stream.on("error", (error) => {
        const translated = translate(error);
        if (!created) reject(translated);
        else this.fail(translated);
      });
      stream.on("end", () => {
        if (!created) reject(new StoreUnavailableError("etcd ended the watch stream"));
        else this.fail(new StoreUnavailableError("etcd ended the watch stream"));
      });
      stream.write({
        create_request: {
          key: this.key,
          ...(this.rangeEnd ? { range_end: this.rangeEnd } : this.prefix ? { range_end: prefixEnd(this.key) } : {}),
          start_revision: this.fromRevision,
        },
      });
    });
  }

  /** Calls `listener` with the error that ends this watch (used to read a refusal's compact revision). */
  onFailure(listener: (error: Error) => void): void {
    this.failureListener = listener;
  }

  /** etcd sends the events of a revision together; hand them over grouped by revision. */
  private deliver(events: { type: unknown; kv: IKeyValue }[]): void {
    if (this.cancelled) return;
    let batch: WatchEvent[] = [];
    for (const { type, kv } of events) {
      const revision = Number(kv.mod_revision);
      if (batch.length > 0 && batch[0]!.revision !== revision) {
        this.handlers.onEvents(batch);
        batch = [];
      }
      const raw = kv.key.toString();
      if (!raw.startsWith(this.namespace)) continue;
      const key = raw.slice(this.namespace.length);
      const isDelete = type === "Delete" || type === 1;
      batch.push(isDelete ? { type: "delete", key, revision } : { type: "put", key, value: kv.value.toString(), revision });
    }
    if (batch.length > 0) this.handlers.onEvents(batch);
  }

  private fail(error: Error): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.stream?.cancel();
    this.failureListener?.(error);
    this.handlers.onError(error);
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.stream?.cancel();
  }
}

function currentModRevision(response: { responses: { response_range?: { kvs: IKeyValue[] } | null }[] }): number {
  const kv = response.responses[0]?.response_range?.kvs[0];
  return kv ? Number(kv.mod_revision) : 0;
}

/** The range_end that selects every key starting with `key`: the key with its last byte incremented. */
function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function translate(error: unknown): Error {
  if (error instanceof GRPCUnavailableError || error instanceof GRPCDeadlineExceededError) {
    return new StoreUnavailableError(`etcd unavailable: ${error.message}`, { cause: error });
  }
  if (error instanceof Error && /deadline|unavailable|ECONNREFUSED|No connection established/i.test(error.message)) {
    return new StoreUnavailableError(`etcd unavailable: ${error.message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
