// The cache behind the `cache` fallback: the last successful GET response per key, bounded in
// entries and bytes, least recently used first out. Only answers the fallback serves are read
// back, so the cache costs nothing on the request path beyond storing successful GETs.
import { SYSTEM_CLOCK, type Clock } from "./clock.ts";

/** A stored response. `storedAt` is on the cache's clock. */
export interface ResponseSnapshot {
  readonly status: number;
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly body: Uint8Array;
  readonly storedAt: number;
}

export interface LastGoodResponsesOptions {
  /** Most entries kept; default 1000. */
  readonly maxEntries?: number;
  /** Most bytes kept over all entries; default 16 MiB. */
  readonly maxBytes?: number;
  /** Entries larger than this are not cached; default 256 KiB. */
  readonly maxEntryBytes?: number;
  readonly clock?: Clock;
}

export const CACHE_DEFAULTS = { maxEntries: 1000, maxBytes: 16 * 1024 * 1024, maxEntryBytes: 256 * 1024 } as const;

interface Entry {
  readonly snapshot: ResponseSnapshot;
  readonly bytes: number;
}

/**
 * An LRU map from key (for the sidecar: method-less path and query of one domain) to the last
 * successful response. An entry's size is its body plus its header names and values and its key;
 * one larger than `maxEntryBytes` is not stored, and it removes the older entry for that key, since
 * that is no longer the last good response. Storing evicts least recently used entries until both
 * `maxEntries` and `maxBytes` hold. `recall(key, maxAgeMs)` returns an entry younger than
 * maxAgeMs and counts as a use; an older one is dropped.
 */
export class LastGoodResponses {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly #clock: Clock;
  // Map iteration order is insertion order: the first key is the least recently used.
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(options: LastGoodResponsesOptions = {}) {
    this.maxEntries = options.maxEntries ?? CACHE_DEFAULTS.maxEntries;
    this.maxBytes = options.maxBytes ?? CACHE_DEFAULTS.maxBytes;
    this.maxEntryBytes = Math.min(options.maxEntryBytes ?? CACHE_DEFAULTS.maxEntryBytes, this.maxBytes);
    this.#clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** The cache's time, for a snapshot's storedAt. */
  now(): number {
    return this.#clock.now();
  }

  /** Stores `snapshot` as the last good response for `key`; false if it was too large. */
  remember(key: string, snapshot: ResponseSnapshot): boolean {
    this.forget(key);
    let bytes = key.length + snapshot.body.byteLength;
    for (const [name, value] of snapshot.headers) bytes += name.length + value.length;
    if (bytes > this.maxEntryBytes) return false;
    this.#entries.set(key, { snapshot, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.maxEntries && this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
    return true;
  }

  /** The last good response for `key` if it is younger than `maxAgeMs`. */
  recall(key: string, maxAgeMs: number): ResponseSnapshot | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (this.#clock.now() - entry.snapshot.storedAt >= maxAgeMs) {
      this.#bytes -= entry.bytes;
      return undefined;
    }
    this.#entries.set(key, entry);
    return entry.snapshot;
  }

  forget(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
