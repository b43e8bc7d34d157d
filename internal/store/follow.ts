// Keeping an in-memory copy of one prefix of the store, in the manner of a Kubernetes informer:
// list, then watch from the revision after the list, and list again whenever the watch cannot
// continue (compaction, a snapshot install, a backend that went away). Control-plane members use
// it for the signing keys, revocations and API keys they check on every request.
import type { Logger } from "../telemetry/index.ts";
import { CompactedError, StoreUnavailableError } from "./errors.ts";
import type { KeyValue, Store, Watch, WatchEvent } from "./types.ts";

export interface FollowHandlers {
  /** The whole prefix as of `revision`: at the start, and again after the watch had to be re-opened. */
  onReset(items: readonly KeyValue[], revision: number): void;
  /** The changes of one revision, in order, after the last reset. */
  onEvents(events: readonly WatchEvent[]): void;
}

export interface FollowOptions {
  readonly logger: Logger;
  /** First pause before listing again after a failure; doubles up to `maxRetryMs`. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

export interface Follower {
  /** Resolves once the first list has been delivered and the watch after it is open. */
  readonly synced: Promise<void>;
  /** True once the first reset has been delivered. */
  readonly isSynced: boolean;
  /** The revision of the latest reset or event delivered. */
  readonly revision: number;
  stop(): Promise<void>;
}

/** Follows `prefix` until stopped; never throws, retrying with backoff while the store is unavailable. */
export function followPrefix(store: Store, prefix: string, handlers: FollowHandlers, options: FollowOptions): Follower {
  const retryMs = options.retryMs ?? 100;
  const maxRetryMs = options.maxRetryMs ?? 2_000;
  let stopped = false;
  let watch: Watch | undefined;
  let revision = 0;
  let synced = false;
  let markSynced: () => void = () => {};
  const syncedPromise = new Promise<void>((resolve) => {
    markSynced = resolve;
  });
  let wakeRetry: (() => void) | undefined;
  let failures = 0;

  const run = async () => {
    while (!stopped) {
      try {
        const listed = await store.list(prefix);
        if (stopped) return;
        revision = listed.revision;
        handlers.onReset(listed.items, listed.revision);
        const ended = new Promise<Error>((resolve) => {
          void store
            .watch(prefix, listed.revision + 1, {
              onEvents(events) {
                if (stopped) return;
                const last = events[events.length - 1];
                if (last) revision = last.revision;
                handlers.onEvents(events);
              },
              onError: resolve,
            })
            .then(
              (opened) => {
                watch = opened;
                if (stopped) void opened.cancel();
                failures = 0;
                if (!synced) {
                  synced = true;
                  markSynced();
                }
              },
              resolve,
            );
          wakeRetry = () => resolve(new Error("stopped"));
        });
        const error = await ended;
        await watch?.cancel();
        watch = undefined;
        if (stopped) return;
        logFailure(error);
      } catch (error) {
        if (stopped) return;
        logFailure(error as Error);
      }
      failures++;
      const pause = Math.min(maxRetryMs, retryMs * 2 ** Math.min(failures - 1, 10));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause * (0.5 + Math.random() / 2));
        wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };

  const logFailure = (error: Error) => {
    // Compaction and an unavailable backend are expected now and then; anything else is a bug.
    const expected = error instanceof CompactedError || error instanceof StoreUnavailableError;
    const line = { prefix, err: error, failures };
    if (expected) options.logger.debug(line, "following the store again from a fresh list");
    else options.logger.warn(line, "following the store failed; listing again");
  };

  void run();
  return {
    synced: syncedPromise,
    get isSynced() {
      return synced;
    },
    get revision() {
      return revision;
    },
    async stop() {
      stopped = true;
      wakeRetry?.();
      await watch?.cancel();
    },
  };
}

/**
 * The keys under a prefix as parsed values, kept current by `followPrefix`. Values that do not
 * parse are left out (and logged), so one bad record cannot stop a member from serving.
 */
export class PrefixMirror<T> {
  private readonly entries = new Map<string, { value: T; modRevision: number }>();
  private readonly follower: Follower;
  private readonly listeners = new Set<(key: string, value: T | undefined) => void>();

  constructor(
    store: Store,
    readonly prefix: string,
    private readonly parse: (value: string, key: string) => T,
    private readonly options: FollowOptions,
  ) {
    this.follower = followPrefix(
      store,
      prefix,
      {
        onReset: (items) => {
          const before = new Set(this.entries.keys());
          this.entries.clear();
          for (const item of items) {
            this.set(item.key, item.value, item.modRevision);
            before.delete(item.key);
          }
          for (const key of before) this.notify(key, undefined);
        },
        onEvents: (events) => {
          for (const event of events) {
            if (event.type === "put" && event.value !== undefined) this.set(event.key, event.value, event.revision);
            else if (this.entries.delete(event.key)) this.notify(event.key, undefined);
          }
        },
      },
      options,
    );
  }

  private set(key: string, raw: string, modRevision: number): void {
    let value: T;
    try {
      value = this.parse(raw, key);
    } catch (error) {
      this.options.logger.error({ key, err: error }, "ignoring a stored record that does not parse");
      if (this.entries.delete(key)) this.notify(key, undefined);
      return;
    }
    this.entries.set(key, { value, modRevision });
    this.notify(key, value);
  }

  private notify(key: string, value: T | undefined): void {
    for (const listener of this.listeners) listener(key, value);
  }

  /** Calls `listener` after every change of a key (value undefined: deleted). */
  onChange(listener: (key: string, value: T | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get synced(): Promise<void> {
    return this.follower.synced;
  }

  get isSynced(): boolean {
    return this.follower.isSynced;
  }

  /** The value under the full key (prefix included). */
  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  modRevision(key: string): number | undefined {
    return this.entries.get(key)?.modRevision;
  }

  values(): T[] {
    return [...this.entries.values()].map((entry) => entry.value);
  }

  get size(): number {
    return this.entries.size;
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }
}
