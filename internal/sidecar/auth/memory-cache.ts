// The in-process tier: decisions by token, bounded, with no I/O and no clock of its own (callers
// pass `now`). Positive decisions are kept past their cache TTL, until the token itself expires,
// so that the `extend-cache` down policy has something to extend; only a fresh one answers a
// request on its own. Refusals live in a separate, smaller map so that a flood of bad tokens
// cannot push out the good decisions an outage would need.
import type { TokenClaims, TokenRejection } from "../../auth/index.ts";
import { REFUSALS, type Decision, type Refusal } from "./decision.ts";

/** A cached acceptance. */
export interface PositiveEntry {
  readonly claims: TokenClaims;
  /** The answer of a fresh hit, built once so that a hit allocates nothing. */
  readonly hit: Decision;
  /** Ms: answered without asking anyone until then; min(token expiry, decided + TTL). */
  readonly freshUntil: number;
  /** Ms: the token's own expiry, after which the entry is useless even to `extend-cache`. */
  readonly expiresAtMs: number;
  /** Hex SHA-256 of the token once somebody computed it (Redis, snapshot), so it is computed once. */
  hash: string | undefined;
  /** Second-chance bit of the CLOCK eviction: set by a hit, cleared by the sweeping hand. */
  used: boolean;
}

/** A positive decision known only by the token's hash: restored from a snapshot. */
export interface RestoredEntry {
  readonly claims: TokenClaims;
  readonly expiresAtMs: number;
}

interface NegativeEntry {
  readonly refusal: Refusal;
  readonly until: number;
}

export interface MemoryCacheOptions {
  readonly maxEntries: number;
  readonly maxNegativeEntries: number;
}

/**
 * Raw tokens are the keys (process memory only, never logged or persisted): a hit then costs one
 * Map lookup, no hashing. Eviction is CLOCK (second chance), an LRU approximation whose hit path
 * is a field write instead of a delete-and-reinsert.
 */
export class MemoryCache {
  readonly positives = new Map<string, PositiveEntry>();
  private readonly negatives = new Map<string, NegativeEntry>();
  /** By hex SHA-256 of the token. */
  readonly restored = new Map<string, RestoredEntry>();

  constructor(private readonly options: MemoryCacheOptions) {}

  get negativeSize(): number {
    return this.negatives.size;
  }

  /** The live refusal cached for the token, if any. */
  negative(token: string, now: number): Refusal | undefined {
    const entry = this.negatives.get(token);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.refusal;
    this.negatives.delete(token);
    return undefined;
  }

  /** Caches an acceptance (replacing whatever the token had); ignored when the token has already expired. */
  putPositive(token: string, claims: TokenClaims, freshUntil: number, now: number, hash?: string): PositiveEntry | undefined {
    const expiresAtMs = claims.expiresAt * 1000;
    this.negatives.delete(token);
    if (expiresAtMs <= now) {
      this.positives.delete(token);
      return undefined;
    }
    const entry: PositiveEntry = {
      claims,
      hit: Object.freeze({ ok: true as const, claims, source: "memory" as const }),
      freshUntil: Math.min(freshUntil, expiresAtMs),
      expiresAtMs,
      hash,
      used: false,
    };
    if (!this.positives.delete(token)) {
      while (this.positives.size >= this.options.maxEntries) this.evictOne(now);
    }
    this.positives.set(token, entry);
    return entry;
  }

  /** Caches a refusal until `until` (and forgets any acceptance of the token). */
  putNegative(token: string, reason: TokenRejection, until: number): void {
    this.positives.delete(token);
    if (this.options.maxNegativeEntries <= 0) return;
    if (!this.negatives.delete(token)) {
      // Oldest first: refusals earn no second chance.
      while (this.negatives.size >= this.options.maxNegativeEntries) {
        const oldest = this.negatives.keys().next();
        if (oldest.done) break;
        this.negatives.delete(oldest.value);
      }
    }
    this.negatives.set(token, { refusal: REFUSALS[reason], until });
  }

  delete(token: string): void {
    this.positives.delete(token);
    this.negatives.delete(token);
  }

  /** Keeps a decision known by hash only; bounded like the positive map. */
  putRestored(hash: string, entry: RestoredEntry): boolean {
    if (this.restored.size >= this.options.maxEntries && !this.restored.has(hash)) return false;
    this.restored.set(hash, entry);
    return true;
  }

  /**
   * Forgets every positive decision for the credential id (a revocation). Returns the latest
   * expiry (ms) among them, so the caller knows how long the revocation must be remembered.
   */
  dropId(id: string): number | undefined {
    let latest: number | undefined;
    for (const [token, entry] of this.positives) {
      if (entry.claims.id !== id) continue;
      this.positives.delete(token);
      latest = Math.max(latest ?? 0, entry.expiresAtMs);
    }
    for (const [hash, entry] of this.restored) {
      if (entry.claims.id !== id) continue;
      this.restored.delete(hash);
      latest = Math.max(latest ?? 0, entry.expiresAtMs);
    }
    return latest;
  }

  /** Entries the hand passes are re-queued once if used since its last pass; expired ones go first. */
  private evictOne(now: number): void {
    for (const [token, entry] of this.positives) {
      if (entry.used && entry.expiresAtMs > now) {
        entry.used = false;
        // Re-inserting moves it behind the hand; this loop reaches it again only after every other entry.
        this.positives.delete(token);
        this.positives.set(token, entry);
        continue;
      }
      this.positives.delete(token);
      return;
    }
  }
}
