// The sidecar's credential check, on the path of every inbound call. Tiers, cheapest first:
//
//   memory  a Map lookup by token; answers synchronously (`verifyCached`), no hashing, no crypto
//   jwt     EdDSA verification against the keyring (~180 µs), then cached until min(exp, TTL)
//   redis   API keys only: decisions shared between sidecars, by SHA-256 of the token
//   control plane  introspection: API keys, and JWTs signed by a key this keyring does not know yet
//
// Revocation is checked on every answer from every tier, so a revoked credential is refused at
// once whatever is cached. Whatever leaves the process (Redis, the snapshot) is keyed by the
// token's hash; the raw token is a key of the in-memory maps only, and is never logged.
import { Keyring, TokenRejectedError, looksLikeApiKey, type TokenClaims, type TokenRejection } from "../../auth/index.ts";
import type { Logger } from "../../telemetry/index.ts";
import { REFUSALS, admitsAudience, isTokenRejection, type Decision } from "./decision.ts";
import { ControlPlaneUnavailableError } from "./errors.ts";
import { MemoryCache } from "./memory-cache.ts";
import { hashToken, parsePersisted, type PersistedDecisions } from "./persisted.ts";
import { SharedCache, type SharedCacheState } from "./shared-cache.ts";

/** What the control plane's introspection answers (POST /v1/auth/introspect). */
export type Introspection =
  | { readonly active: true; readonly claims: TokenClaims }
  | { readonly active: false; readonly reason?: TokenRejection };

/**
 * What to answer when a credential needs the control plane and none of its members can be reached:
 * - `extend-cache` (the default of the sidecar): a cached positive decision keeps being honoured
 *   past its cache TTL, never past the token's own expiry and never once revoked; an unknown
 *   credential is refused as `unavailable`.
 * - `deny`: refuse whatever the cache cannot answer within its TTL.
 * - `allow`: like `extend-cache`, but an unknown credential is ACCEPTED, unverified (subject
 *   `unverified`, no roles): fail-open, for meshes where availability matters more than
 *   authentication (development, or services whose authz policy grants `unverified` nothing
 *   sensitive). Never the right choice for a mesh exposed to untrusted callers.
 */
export type DownPolicy = "extend-cache" | "deny" | "allow";

/** The tier a lookup went to. */
export type LookupTier = "jwt" | "memory" | "redis" | "control_plane";
/**
 * `hit`: the tier answered (an acceptance or a refusal); `miss`: it could not, the next tier was
 * asked (memory: no fresh entry; jwt: the signing key is unknown; redis: no entry); `error`: the
 * tier failed (redis down, slow or garbage; control plane unreachable).
 */
export type LookupResult = "hit" | "miss" | "error";

export interface TokenVerifierOptions {
  /** The published public keys, kept current by the sidecar's control-plane client. */
  readonly keyring: Keyring;
  /** The revocations the sidecar follows on the control plane's watch, by credential id. */
  readonly isRevoked: (id: string) => boolean;
  /** Asks the control plane; throws `ControlPlaneUnavailableError` when no member can be reached. Should fail fast (a breaker) while they are down. */
  readonly introspect: (token: string) => Promise<Introspection>;
  /** The Redis shared by the sidecars; none when omitted. */
  readonly redisUrl?: string;
  /** Per-command timeout towards Redis; past it the verifier goes on without Redis. Default 75 ms. */
  readonly redisCommandTimeoutMs?: number;
  readonly memory?: {
    /** Positive decisions kept (fresh or stale). Default 10 000. */
    readonly maxEntries?: number;
    /** How long a decision is served without asking again. Default 300 000 (300 s). */
    readonly ttlMs?: number;
    /** Refusals kept, apart from the positive decisions. Default 1 000. */
    readonly maxNegativeEntries?: number;
  };
  /** How long a refusal is cached, so that a flood of bad tokens does not flood the control plane. Default 10 000. */
  readonly negativeTtlMs?: number;
  readonly downPolicy: DownPolicy;
  /** Ms since the epoch. Default Date.now. */
  readonly clock?: () => number;
  readonly logger: Logger;
  /** For metrics: one call per tier consulted. */
  readonly onLookup?: (tier: LookupTier, result: LookupResult) => void;
}

/** For the status page. */
export interface VerifierStats {
  readonly entries: {
    /** Positive decisions within their cache TTL. */
    readonly fresh: number;
    /** Positive decisions past their TTL, kept for `extend-cache`. */
    readonly stale: number;
    readonly negative: number;
    /** Restored from a snapshot and not presented since. */
    readonly restored: number;
    /** Revocations remembered here (from `revoke` and the Redis channel). */
    readonly revokedIds: number;
  };
  readonly lookups: Readonly<Record<LookupTier, Readonly<Record<LookupResult, number>>>>;
  readonly redis: "disabled" | SharedCacheState;
  readonly inFlight: number;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_TTL_MS = 300_000;
const DEFAULT_MAX_NEGATIVE_ENTRIES = 1_000;
const DEFAULT_NEGATIVE_TTL_MS = 10_000;
const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 75;
/** How long a revocation heard without the credential's expiry is remembered: the longest token lifetime by default. */
const DEFAULT_REVOCATION_MEMORY_MS = 24 * 3_600_000;
const MAX_REVOKED_IDS = 100_000;
/** Longer tokens are never cached as refusals: garbage must not be able to fill memory. */
const MAX_NEGATIVE_TOKEN_LENGTH = 4_096;

const TIERS: readonly LookupTier[] = ["jwt", "memory", "redis", "control_plane"];

/**
 * Decides whether a presented credential (a JWT or an opaque `nak_` API key) is valid for an
 * audience. A cached decision is answered synchronously by `verifyCached`; `verify` goes through
 * the tiers on a miss, with concurrent misses for one token sharing one verification. Never
 * throws: Redis trouble is skipped, control-plane trouble becomes the down policy.
 */
export class TokenVerifier {
  private readonly keyring: Keyring;
  private readonly isRevoked: (id: string) => boolean;
  private readonly introspect: (token: string) => Promise<Introspection>;
  private readonly downPolicy: DownPolicy;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly onLookup: ((tier: LookupTier, result: LookupResult) => void) | undefined;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly cache: MemoryCache;
  private readonly shared: SharedCache | undefined;
  private readonly inFlight = new Map<string, Promise<Decision>>();
  /** Credential id → until when (ms) it is known revoked here, apart from `isRevoked`. */
  private readonly revokedHere = new Map<string, number>();
  private readonly counts: Record<LookupTier, Record<LookupResult, number>>;
  private controlPlane: "unknown" | "up" | "down" = "unknown";

  constructor(options: TokenVerifierOptions) {
    this.keyring = options.keyring;
    this.isRevoked = options.isRevoked;
    this.introspect = options.introspect;
    this.downPolicy = options.downPolicy;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
    this.onLookup = options.onLookup;
    this.ttlMs = options.memory?.ttlMs ?? DEFAULT_TTL_MS;
    this.negativeTtlMs = options.negativeTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    const maxEntries = options.memory?.maxEntries ?? DEFAULT_MAX_ENTRIES;
    const maxNegativeEntries = options.memory?.maxNegativeEntries ?? DEFAULT_MAX_NEGATIVE_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("memory.maxEntries must be a positive integer");
    if (!Number.isInteger(maxNegativeEntries) || maxNegativeEntries < 0) throw new RangeError("memory.maxNegativeEntries must be a non-negative integer");
    if (!(this.ttlMs > 0)) throw new RangeError("memory.ttlMs must be positive");
    if (!(this.negativeTtlMs >= 0)) throw new RangeError("negativeTtlMs must not be negative");
    this.cache = new MemoryCache({ maxEntries, maxNegativeEntries });
    this.counts = Object.fromEntries(TIERS.map((tier) => [tier, { hit: 0, miss: 0, error: 0 }])) as Record<LookupTier, Record<LookupResult, number>>;
    this.shared =
      options.redisUrl === undefined
        ? undefined
        : new SharedCache({
            url: options.redisUrl,
            logger: this.logger,
            ttlMs: this.ttlMs,
            commandTimeoutMs: options.redisCommandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
            origin: crypto.randomUUID(),
            onRevocation: (id, untilMs) => this.dropRevoked(id, untilMs),
          });
  }

  /**
   * The decision for the token from memory alone, or undefined when memory has no fresh one (call
   * `verify` then). No promise, no hashing, no allocation: the request pipeline answers a cached
   * credential without an await. Revocation and the audience rule (`admitsAudience`) apply.
   */
  verifyCached(token: string, audience: string): Decision | undefined {
    const entry = this.cache.positives.get(token);
    if (entry !== undefined) {
      const now = this.clock();
      if (now >= entry.freshUntil) return undefined;
      this.count("memory", "hit");
      if (this.revokedNow(entry.claims.id, now)) {
        this.cache.delete(token);
        return REFUSALS.revoked;
      }
      entry.used = true;
      return admitsAudience(entry.claims, audience) ? entry.hit : REFUSALS.wrong_audience;
    }
    if (this.cache.negativeSize === 0) return undefined;
    const refusal = this.cache.negative(token, this.clock());
    if (refusal !== undefined) this.count("memory", "hit");
    return refusal;
  }

  /**
   * Decides on the token for a service of `audience`: accepted when valid, not revoked, and its
   * audience contains `audience` or the mesh audience `nagent`. Never rejects; `{ ok: false,
   * reason: "unavailable" }` when the control plane was needed, could not be reached and the down
   * policy did not allow an answer.
   */
  async verify(token: string, audience: string): Promise<Decision> {
    const cached = this.verifyCached(token, audience);
    if (cached !== undefined) return cached;
    this.count("memory", "miss");
    let flight = this.inFlight.get(token);
    if (flight === undefined) {
      flight = this.decide(token)
        .catch((error: unknown) => {
          this.logger.error({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }, "the credential check failed unexpectedly");
          return REFUSALS.unavailable;
        })
        .finally(() => this.inFlight.delete(token));
      this.inFlight.set(token, flight);
    }
    const decision = await flight;
    if (!decision.ok || decision.source === "down-allow") return decision;
    // Checked again per caller: a revocation may have arrived while the decision was being made.
    if (this.revokedNow(decision.claims.id, this.clock())) {
      this.cache.delete(token);
      return REFUSALS.revoked;
    }
    return admitsAudience(decision.claims, audience) ? decision : REFUSALS.wrong_audience;
  }

  /**
   * A revocation arrived (the watch, or an operator): drops the cached decisions for the
   * credential id here at once, remembers the id until the credential's expiry (unix seconds,
   * when known) so no tier can serve it again, deletes its Redis entries and publishes the id on
   * the Redis channel so the other sidecars sharing that Redis drop theirs. The returned promise
   * settles once Redis was told (or could not be); it never rejects.
   */
  revoke(id: string, options: { expiresAt?: number } = {}): Promise<void> {
    const untilMs = this.dropRevoked(id, options.expiresAt === undefined ? undefined : options.expiresAt * 1000);
    return this.shared?.revoke(id, untilMs) ?? Promise.resolve();
  }

  /**
   * The positive decisions worth keeping across a restart (not expired, not revoked), for the
   * sidecar's cache dir: keyed by the token's SHA-256, with their claims; no token. JSON-serialisable.
   */
  snapshot(): PersistedDecisions {
    const now = this.clock();
    const entries: { hash: string; claims: TokenClaims }[] = [];
    for (const [token, entry] of this.cache.positives) {
      if (entry.expiresAtMs <= now || this.revokedNow(entry.claims.id, now)) continue;
      entry.hash ??= hashToken(token);
      entries.push({ hash: entry.hash, claims: entry.claims });
    }
    for (const [hash, entry] of this.cache.restored) {
      if (entry.expiresAtMs <= now || this.revokedNow(entry.claims.id, now)) this.cache.restored.delete(hash);
      else entries.push({ hash, claims: entry.claims });
    }
    return { version: 1, savedAt: now, entries };
  }

  /**
   * Loads a snapshot (as read back from the cache dir: validated here), dropping expired and
   * revoked entries; answers how many were kept. Restored decisions are stale from the start:
   * they answer only when the control plane is unreachable and the down policy extends the cache.
   * Since they are known by hash only, a presented token is recognised by hashing it, on that
   * path only.
   */
  restore(snapshot: PersistedDecisions | unknown): number {
    const now = this.clock();
    let kept = 0;
    for (const { hash, claims } of parsePersisted(snapshot)) {
      const expiresAtMs = claims.expiresAt * 1000;
      if (expiresAtMs <= now || this.revokedNow(claims.id, now)) continue;
      if (this.cache.putRestored(hash, { claims, expiresAtMs })) kept++;
    }
    return kept;
  }

  stats(): VerifierStats {
    const now = this.clock();
    let fresh = 0;
    for (const entry of this.cache.positives.values()) if (now < entry.freshUntil) fresh++;
    const lookups = Object.fromEntries(TIERS.map((tier) => [tier, { ...this.counts[tier] }])) as Record<LookupTier, Record<LookupResult, number>>;
    return {
      entries: {
        fresh,
        stale: this.cache.positives.size - fresh,
        negative: this.cache.negativeSize,
        restored: this.cache.restored.size,
        revokedIds: this.revokedHere.size,
      },
      lookups,
      redis: this.shared?.state ?? "disabled",
      inFlight: this.inFlight.size,
    };
  }

  /** Quits the Redis connections. The verifier keeps answering from memory and the control plane. */
  async close(): Promise<void> {
    await this.shared?.close();
  }

  private async decide(token: string): Promise<Decision> {
    if (looksLikeApiKey(token)) return this.decideApiKey(token);
    return this.decideJwt(token);
  }

  private async decideJwt(token: string): Promise<Decision> {
    let claims: TokenClaims;
    try {
      claims = await this.keyring.verify(token, { now: new Date(this.clock()) });
    } catch (error) {
      if (error instanceof TokenRejectedError && error.reason !== "unknown_key") {
        this.count("jwt", "hit");
        return this.refuse(token, error.reason);
      }
      // A key rotated in a moment ago may not have reached this keyring; the control plane knows every key.
      this.count("jwt", "miss");
      return this.askControlPlane(token, undefined);
    }
    this.count("jwt", "hit");
    return this.accept(token, claims, "jwt", this.clock() + this.ttlMs, undefined);
  }

  private async decideApiKey(token: string): Promise<Decision> {
    const hash = hashToken(token);
    if (this.shared !== undefined) {
      try {
        const found = await this.shared.get(hash);
        const now = this.clock();
        if (found !== undefined && found.claims.expiresAt * 1000 > now && found.freshUntil > now) {
          this.count("redis", "hit");
          return this.accept(token, found.claims, "redis", Math.min(found.freshUntil, now + this.ttlMs), hash);
        }
        this.count("redis", "miss");
      } catch {
        // Logged by the shared cache, once per change of its state.
        this.count("redis", "error");
      }
    }
    return this.askControlPlane(token, hash);
  }

  private async askControlPlane(token: string, hash: string | undefined): Promise<Decision> {
    let answer: Introspection;
    try {
      answer = await this.introspect(token);
    } catch (error) {
      this.count("control_plane", "error");
      this.controlPlaneDown(error);
      return this.whenDown(token, hash);
    }
    this.count("control_plane", "hit");
    this.controlPlaneUp();
    if (!answer.active) {
      const reason = isTokenRejection(answer.reason) ? answer.reason : looksLikeApiKey(token) ? "unknown_api_key" : "unknown_key";
      return this.refuse(token, reason);
    }
    const now = this.clock();
    const freshUntil = Math.min(now + this.ttlMs, answer.claims.expiresAt * 1000);
    const decision = this.accept(token, answer.claims, "control_plane", freshUntil, hash);
    if (decision.ok && hash !== undefined && this.shared !== undefined) void this.shared.put(hash, { claims: answer.claims, freshUntil }, freshUntil - now);
    return decision;
  }

  /** The down policy, once the control plane could not be asked. */
  private whenDown(token: string, hash: string | undefined): Decision {
    if (this.downPolicy === "deny") return REFUSALS.unavailable;
    const now = this.clock();
    const stale = this.staleEntry(token, hash, now);
    if (stale !== undefined) {
      if (stale.expiresAtMs <= now) return REFUSALS.expired;
      if (this.revokedNow(stale.claims.id, now)) return REFUSALS.revoked;
      return { ok: true, claims: stale.claims, source: "stale-cache" };
    }
    if (this.downPolicy === "extend-cache") return REFUSALS.unavailable;
    const seconds = Math.floor(now / 1000);
    const claims: TokenClaims = {
      kind: looksLikeApiKey(token) ? "api-key" : "jwt",
      id: "",
      subject: "unverified",
      roles: [],
      audience: [],
      issuedAt: seconds,
      expiresAt: seconds,
    };
    return { ok: true, claims, source: "down-allow" };
  }

  /** The positive decision kept for the token past its TTL: in memory, or restored from a snapshot (found by hash). */
  private staleEntry(token: string, hash: string | undefined, now: number): { claims: TokenClaims; expiresAtMs: number } | undefined {
    const kept = this.cache.positives.get(token);
    if (kept !== undefined) return kept;
    if (this.cache.restored.size === 0) return undefined;
    const key = hash ?? hashToken(token);
    const restored = this.cache.restored.get(key);
    if (restored === undefined) return undefined;
    this.cache.restored.delete(key);
    // Known by the token from now on; still stale (fresh until 0), so only an outage serves it.
    this.cache.putPositive(token, restored.claims, 0, now, key);
    return restored;
  }

  private accept(token: string, claims: TokenClaims, source: "jwt" | "redis" | "control_plane", freshUntil: number, hash: string | undefined): Decision {
    const now = this.clock();
    // Before caching or sharing anything: a revoked credential must not be written back to any tier.
    if (this.revokedNow(claims.id, now)) return this.refuse(token, "revoked");
    this.cache.putPositive(token, claims, freshUntil, now, hash);
    if (hash !== undefined) this.cache.restored.delete(hash);
    return { ok: true, claims, source };
  }

  private refuse(token: string, reason: TokenRejection): Decision {
    // A token not valid yet may become valid within the negative TTL: not worth caching.
    if (reason !== "not_yet_valid" && token.length <= MAX_NEGATIVE_TOKEN_LENGTH && this.negativeTtlMs > 0) {
      this.cache.putNegative(token, reason, this.clock() + this.negativeTtlMs);
    } else {
      this.cache.delete(token);
    }
    return REFUSALS[reason];
  }

  private revokedNow(id: string, now: number): boolean {
    if (this.isRevoked(id)) return true;
    if (this.revokedHere.size === 0) return false;
    const until = this.revokedHere.get(id);
    if (until === undefined) return false;
    if (until > now) return true;
    this.revokedHere.delete(id);
    return false;
  }

  /** Drops the id's decisions and remembers it as revoked; answers until when (ms). */
  private dropRevoked(id: string, untilMs: number | undefined): number {
    const now = this.clock();
    const latestExpiry = this.cache.dropId(id);
    const until = untilMs ?? latestExpiry ?? now + DEFAULT_REVOCATION_MEMORY_MS;
    if (until > now) {
      this.revokedHere.delete(id);
      if (this.revokedHere.size >= MAX_REVOKED_IDS) {
        const oldest = this.revokedHere.keys().next();
        if (!oldest.done) this.revokedHere.delete(oldest.value);
      }
      this.revokedHere.set(id, until);
    }
    return until;
  }

  private count(tier: LookupTier, result: LookupResult): void {
    this.counts[tier][result]++;
    this.onLookup?.(tier, result);
  }

  private controlPlaneDown(error: unknown): void {
    if (this.controlPlane === "down") return;
    this.controlPlane = "down";
    const expected = error instanceof ControlPlaneUnavailableError;
    this.logger.warn(
      { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), downPolicy: this.downPolicy },
      expected ? "the control plane cannot be reached for introspection; applying the down policy" : "introspection failed unexpectedly; applying the down policy",
    );
  }

  private controlPlaneUp(): void {
    if (this.controlPlane === "down") this.logger.info("the control plane answers introspection again");
    this.controlPlane = "up";
  }
}
