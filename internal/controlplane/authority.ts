// The global authentication authority, run by every control-plane member on the shared store:
// any member can sign (the signing key is replicated), rotate (a compare-and-set on the
// current-key pointer decides the one winner), introspect and revoke. Each member mirrors the
// keys, API keys and revocations in memory, so that checking the credential of an API request
// costs no store round trip; introspection, which sidecars rely on for their caches, reads the
// store linearizably so a revocation acknowledged anywhere is seen everywhere at once.
import { randomBytes } from "node:crypto";
import { decodeJwt, type JWK } from "jose";
import { Counter, Gauge, type Registry } from "prom-client";
import { PreconditionFailedError, PrefixMirror, StoreUnavailableError, type Store } from "../store/index.ts";
import type { Logger } from "../telemetry/index.ts";
import { looksLikeApiKey, newApiKey, parseApiKey, secretMatches } from "../auth/api-keys.ts";
import { AuthorityUnavailableError, InvalidTokenRequestError, TokenRejectedError } from "../auth/errors.ts";
import { ALGORITHM, CLOCK_TOLERANCE_SECONDS, DEFAULT_AUDIENCE, Keyring, forgetSigningKey, generateSigningKey, signJwt, type TokenClaims } from "../auth/jwt.ts";
import {
  API_KEYS_PREFIX,
  CURRENT_KEY,
  PUBLIC_KEYS_PREFIX,
  REVOCATIONS_PREFIX,
  SIGNING_KEYS_PREFIX,
  SYSTEM_AUTH_PREFIX,
  apiKeyRecord,
  currentKeyRecord,
  parseRecord,
  publicKeyRecord,
  revocationRecord,
  signingKeyRecord,
  type ApiKeyRecord,
  type CurrentKeyRecord,
  type PublicKeyRecord,
  type RevocationRecord,
  type SigningKeyRecord,
} from "../auth/records.ts";

/** How long past its last token's expiry a retired public key stays published (clock skew, a member that signed late). */
const RETIRE_MARGIN_SECONDS = 300;

export interface AuthorityOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Sign with a new key this often. */
  readonly keyRotationIntervalMs: number;
  /** Longest lifetime of a JWT; also how long a retired key stays published. */
  readonly maxTokenTtlSeconds: number;
  readonly maxApiKeyTtlSeconds: number;
  readonly defaultTokenTtlSeconds: number;
  readonly registry?: Registry;
}

export interface TokenRequest {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly audience?: readonly string[];
  readonly ttlSeconds?: number;
  readonly kind?: "jwt" | "api-key";
}

export interface IssuedToken {
  readonly token: string;
  readonly kind: "jwt" | "api-key";
  readonly id: string;
  /** Unix seconds. */
  readonly expiresAt: number;
}

export interface KeyStatus {
  readonly current: string;
  readonly rotatedAt: string;
  readonly rotationIntervalSeconds: number;
  readonly nextRotationAt: string;
  readonly maxTokenTtlSeconds: number;
  readonly keys: readonly { kid: string; alg: string; createdAt: string; state: "current" | "previous"; retiresAt?: string }[];
}

type PublicAuthRecord = { type: "key"; record: PublicKeyRecord } | { type: "revocation"; record: RevocationRecord };
type SystemAuthRecord =
  | { type: "signing"; record: SigningKeyRecord }
  | { type: "current"; record: CurrentKeyRecord }
  | { type: "api-key"; record: ApiKeyRecord };

function parsePublic(value: string, key: string): PublicAuthRecord {
  if (key.startsWith(PUBLIC_KEYS_PREFIX)) return { type: "key", record: parseRecord(publicKeyRecord, value) };
  if (key.startsWith(REVOCATIONS_PREFIX)) return { type: "revocation", record: parseRecord(revocationRecord, value) };
  throw new Error(`unexpected key ${key} under auth/`);
}

function parseSystem(value: string, key: string): SystemAuthRecord {
  if (key.startsWith(SIGNING_KEYS_PREFIX)) return { type: "signing", record: parseRecord(signingKeyRecord, value) };
  if (key === CURRENT_KEY) return { type: "current", record: parseRecord(currentKeyRecord, value) };
  if (key.startsWith(API_KEYS_PREFIX)) return { type: "api-key", record: parseRecord(apiKeyRecord, value) };
  throw new Error(`unexpected key ${key} under system/auth/`);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const isoOf = (ms: number) => new Date(ms).toISOString();

/** A key id that sorts by creation time and is unique across members. */
function newKid(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export class AuthAuthority {
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly publicMirror: PrefixMirror<PublicAuthRecord>;
  private readonly systemMirror: PrefixMirror<SystemAuthRecord>;
  /** The published keys, as verifiers see them. */
  readonly keyring = new Keyring();
  private readonly metrics;
  private rotationTimer: ReturnType<typeof setInterval> | undefined;
  private rotating: Promise<unknown> | undefined;
  private bootstrapped = false;
  private stopped = false;

  constructor(private readonly options: AuthorityOptions) {
    this.store = options.store;
    this.logger = options.logger;
    const registers = options.registry ? [options.registry] : [];
    this.metrics = {
      issued: new Counter({ name: "nagent_auth_tokens_issued_total", help: "Tokens and API keys issued.", labelNames: ["kind"], registers }),
      introspections: new Counter({ name: "nagent_auth_introspections_total", help: "Introspection answers by result.", labelNames: ["result"], registers }),
      revocations: new Counter({ name: "nagent_auth_revocations_total", help: "Tokens and API keys revoked.", labelNames: ["kind"], registers }),
      rotations: new Counter({ name: "nagent_auth_key_rotations_total", help: "Signing-key rotations this member performed.", labelNames: ["reason"], registers }),
      keyAge: new Gauge({
        name: "nagent_auth_signing_key_age_seconds",
        help: "Age of the current signing key.",
        registers,
        collect: () => {
          const current = this.currentRecord();
          if (current) this.metrics.keyAge.set((Date.now() - Date.parse(current.rotatedAt)) / 1000);
        },
      }),
    };
    const mirrorOptions = { logger: this.logger };
    this.publicMirror = new PrefixMirror(this.store, "auth/", parsePublic, mirrorOptions);
    this.systemMirror = new PrefixMirror(this.store, SYSTEM_AUTH_PREFIX, parseSystem, mirrorOptions);
    this.publicMirror.onChange((key, value) => {
      if (!key.startsWith(PUBLIC_KEYS_PREFIX)) return;
      const kid = key.slice(PUBLIC_KEYS_PREFIX.length);
      if (value?.type === "key") this.keyring.set({ ...value.record.jwk, kid });
      else this.keyring.delete(kid);
    });
    this.systemMirror.onChange((key, value) => {
      if (key.startsWith(SIGNING_KEYS_PREFIX) && value === undefined) forgetSigningKey(key.slice(SIGNING_KEYS_PREFIX.length));
    });
  }

  /** Loads the state, creates the first signing key if the cluster has none, and starts the rotation schedule. */
  async start(): Promise<void> {
    await Promise.all([this.publicMirror.synced, this.systemMirror.synced]);
    while (!this.stopped && !this.currentRecord()) {
      try {
        await this.rotate("bootstrap");
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        await Bun.sleep(200);
      }
    }
    this.bootstrapped = true;
    const checkEvery = Math.min(30_000, Math.max(250, this.options.keyRotationIntervalMs / 10));
    this.rotationTimer = setInterval(() => void this.rotateIfDue(), checkEvery);
    this.rotationTimer.unref?.();
  }

  /** Why this member cannot sign or verify yet, or undefined. */
  notReadyReason(): string | undefined {
    if (!this.publicMirror.isSynced || !this.systemMirror.isSynced) return "loading the signing keys";
    if (!this.bootstrapped || !this.currentSigningKey()) return "creating the first signing key";
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rotationTimer) clearInterval(this.rotationTimer);
    await this.rotating?.catch(() => {});
    await Promise.all([this.publicMirror.stop(), this.systemMirror.stop()]);
  }

  private currentRecord(): CurrentKeyRecord | undefined {
    const entry = this.systemMirror.get(CURRENT_KEY);
    return entry?.type === "current" ? entry.record : undefined;
  }

  private currentSigningKey(): SigningKeyRecord | undefined {
    const current = this.currentRecord();
    const entry = current ? this.systemMirror.get(SIGNING_KEYS_PREFIX + current.kid) : undefined;
    return entry?.type === "signing" ? entry.record : undefined;
  }

  private async rotateIfDue(): Promise<void> {
    const current = this.currentRecord();
    if (this.stopped || this.rotating || !current) return;
    if (Date.now() - Date.parse(current.rotatedAt) < this.options.keyRotationIntervalMs) return;
    try {
      await this.rotate("schedule");
    } catch (error) {
      this.logger.warn({ err: error }, "scheduled signing-key rotation failed; will try again");
    }
  }

  /**
   * Starts signing with a new key. The previous key stays published (with a lease that ends it)
   * until every token it signed has expired. Two members rotating at once: the compare-and-set
   * on the current-key pointer lets one win; the loser removes its key and answers the winner's.
   */
  async rotate(reason: "bootstrap" | "schedule" | "request"): Promise<{ current: string; previous: string | null }> {
    const run = this.rotateOnce(reason);
    this.rotating = run;
    try {
      return await run;
    } finally {
      this.rotating = undefined;
    }
  }

  private async rotateOnce(reason: "bootstrap" | "schedule" | "request"): Promise<{ current: string; previous: string | null }> {
    const pointer = await this.store.get(CURRENT_KEY);
    const previous = pointer ? parseRecord(currentKeyRecord, pointer.value) : undefined;
    // Another member may have bootstrapped or rotated since this one decided to.
    const fresh = previous && (reason === "bootstrap" || Date.now() - Date.parse(previous.rotatedAt) < this.options.keyRotationIntervalMs);
    if (reason !== "request" && fresh) {
      return { current: previous.kid, previous: previous.previous ?? null };
    }
    const kid = newKid();
    const material = await generateSigningKey(kid);
    const createdAt = isoOf(Date.now());
    await this.store.put(SIGNING_KEYS_PREFIX + kid, JSON.stringify({ kid, alg: ALGORITHM, privateJwk: material.privateJwk, createdAt } satisfies SigningKeyRecord));
    await this.store.put(PUBLIC_KEYS_PREFIX + kid, JSON.stringify({ kid, alg: ALGORITHM, jwk: material.publicJwk, createdAt } satisfies PublicKeyRecord));
    const next: CurrentKeyRecord = { kid, rotatedAt: createdAt, reason, ...(previous ? { previous: previous.kid } : {}) };
    try {
      await this.store.put(CURRENT_KEY, JSON.stringify(next), { ifModRevision: pointer?.modRevision ?? 0 });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      await this.store.delete(SIGNING_KEYS_PREFIX + kid);
      await this.store.delete(PUBLIC_KEYS_PREFIX + kid);
      const winner = await this.store.get(CURRENT_KEY);
      const record = winner ? parseRecord(currentKeyRecord, winner.value) : undefined;
      return { current: record?.kid ?? kid, previous: record?.previous ?? null };
    }
    this.metrics.rotations.inc({ reason });
    this.logger.info({ kid, previous: previous?.kid, reason }, "signing key rotated");
    await this.retireAllBut(kid);
    return { current: kid, previous: previous?.kid ?? null };
  }

  /**
   * Every key but the current one stops signing (its private half is deleted) and is scheduled
   * to leave the JWKS. Covering all of them, not only the previous one, also cleans up after a
   * member that died in the middle of a rotation.
   */
  private async retireAllBut(current: string): Promise<void> {
    const retireSeconds = this.options.maxTokenTtlSeconds + RETIRE_MARGIN_SECONDS;
    const signing = await this.store.list(SIGNING_KEYS_PREFIX);
    for (const item of signing.items) {
      if (item.key !== SIGNING_KEYS_PREFIX + current) await this.store.delete(item.key);
    }
    const published = await this.store.list(PUBLIC_KEYS_PREFIX);
    for (const item of published.items) {
      const record = parseRecord(publicKeyRecord, item.value);
      if (record.kid === current || record.retiresAt !== undefined) continue;
      const lease = await this.store.grantLease(retireSeconds);
      const retired: PublicKeyRecord = { ...record, retiresAt: isoOf(Date.now() + retireSeconds * 1000) };
      try {
        await this.store.put(item.key, JSON.stringify(retired), { ifModRevision: item.modRevision, lease });
      } catch (error) {
        await this.store.revokeLease(lease).catch(() => {});
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
  }

  /** Issues a JWT (default) or an opaque API key. */
  async issue(request: TokenRequest): Promise<IssuedToken> {
    const kind = request.kind ?? "jwt";
    const max = kind === "jwt" ? this.options.maxTokenTtlSeconds : this.options.maxApiKeyTtlSeconds;
    const ttl = request.ttlSeconds ?? Math.min(this.options.defaultTokenTtlSeconds, max);
    if (ttl > max) throw new InvalidTokenRequestError("ttlSeconds", `ttlSeconds must be at most ${max} for a${kind === "jwt" ? " JWT" : "n API key"}, got ${ttl}`);
    const audience = request.audience && request.audience.length > 0 ? [...request.audience] : [DEFAULT_AUDIENCE];
    const issuedAt = nowSeconds();
    const expiresAt = issuedAt + ttl;
    if (kind === "api-key") {
      const key = newApiKey();
      const lease = await this.store.grantLease(ttl);
      const record: ApiKeyRecord = { id: key.id, secretHash: key.secretHash, subject: request.subject, roles: [...request.roles], audience, issuedAt, expiresAt };
      await this.store.put(API_KEYS_PREFIX + key.id, JSON.stringify(record), { ifModRevision: 0, lease });
      this.metrics.issued.inc({ kind });
      return { token: key.token, kind, id: key.id, expiresAt };
    }
    const signing = this.currentSigningKey();
    if (!signing) throw new AuthorityUnavailableError("no signing key is loaded yet");
    const id = randomBytes(12).toString("base64url");
    const token = await signJwt(signing, { id, subject: request.subject, roles: request.roles, audience, issuedAt, expiresAt });
    this.metrics.issued.inc({ kind });
    return { token, kind, id, expiresAt };
  }

  /**
   * The claims of a valid credential for an API request, from this member's memory (with one
   * store read when a key or API key is newer than the mirror). Throws TokenRejectedError.
   */
  async authenticate(token: string, audience: string = DEFAULT_AUDIENCE): Promise<TokenClaims> {
    if (looksLikeApiKey(token)) {
      const claims = await this.checkApiKey(token, audience, "mirror");
      return claims;
    }
    const claims = await this.verifyJwt(token, audience);
    if (this.publicMirror.get(REVOCATIONS_PREFIX + claims.id)) throw new TokenRejectedError("revoked", "the token has been revoked");
    return claims;
  }

  /** RFC 7662 in spirit: the claims of an active token, or the reason it is not active. Linearizable. */
  async introspect(token: string, audience?: string): Promise<{ active: true; claims: TokenClaims } | { active: false; reason: string }> {
    try {
      let claims: TokenClaims;
      if (looksLikeApiKey(token)) {
        claims = await this.checkApiKey(token, audience, "store");
      } else {
        claims = await this.verifyJwt(token, audience);
        if (await this.store.get(REVOCATIONS_PREFIX + claims.id)) throw new TokenRejectedError("revoked", "the token has been revoked");
      }
      this.metrics.introspections.inc({ result: "active" });
      return { active: true, claims };
    } catch (error) {
      if (!(error instanceof TokenRejectedError)) throw error;
      this.metrics.introspections.inc({ result: "inactive" });
      return { active: false, reason: error.reason };
    }
  }

  /**
   * Revokes a JWT (a revocation record, kept until the token would have expired) or an API key
   * (its record is deleted, and a revocation is published so sidecars drop cached decisions).
   * A forged or malformed token is refused; an expired one needs nothing and says so.
   */
  async revoke(token: string): Promise<{ id: string; kind: "jwt" | "api-key"; alreadyExpired: boolean }> {
    let claims: TokenClaims;
    if (looksLikeApiKey(token)) {
      claims = await this.checkApiKey(token, undefined, "store");
      await this.store.delete(API_KEYS_PREFIX + claims.id);
    } else {
      try {
        claims = await this.verifyJwt(token, undefined);
      } catch (error) {
        if (error instanceof TokenRejectedError && error.reason === "expired") {
          return { id: String(decodeJwt(token).jti ?? ""), kind: "jwt", alreadyExpired: true };
        }
        throw error;
      }
    }
    const remaining = claims.expiresAt - nowSeconds() + CLOCK_TOLERANCE_SECONDS;
    if (remaining <= 0) return { id: claims.id, kind: claims.kind, alreadyExpired: true };
    const record: RevocationRecord = { id: claims.id, kind: claims.kind, subject: claims.subject, revokedAt: isoOf(Date.now()), expiresAt: claims.expiresAt };
    const lease = await this.store.grantLease(remaining + 60);
    await this.store.put(REVOCATIONS_PREFIX + claims.id, JSON.stringify(record), { lease });
    this.metrics.revocations.inc({ kind: claims.kind });
    this.logger.info({ id: claims.id, kind: claims.kind, subject: claims.subject }, "credential revoked");
    return { id: claims.id, kind: claims.kind, alreadyExpired: false };
  }

  private async verifyJwt(token: string, audience: string | undefined): Promise<TokenClaims> {
    const options = audience === undefined ? {} : { audience };
    try {
      return await this.keyring.verify(token, options);
    } catch (error) {
      // A key published a moment ago by another member may not have reached this mirror yet.
      const kid = Keyring.kidOf(token);
      if (!(error instanceof TokenRejectedError) || error.reason !== "unknown_key" || kid === undefined) throw error;
      const stored = await this.store.get(PUBLIC_KEYS_PREFIX + kid).catch(() => undefined);
      if (!stored) throw error;
      this.keyring.set({ ...parseRecord(publicKeyRecord, stored.value).jwk, kid });
      return this.keyring.verify(token, options);
    }
  }

  private async checkApiKey(token: string, audience: string | undefined, source: "mirror" | "store"): Promise<TokenClaims> {
    const parsed = parseApiKey(token);
    if (!parsed) throw new TokenRejectedError("malformed", "the API key is malformed");
    let record: ApiKeyRecord | undefined;
    const mirrored = this.systemMirror.get(API_KEYS_PREFIX + parsed.id);
    if (source === "mirror" && mirrored?.type === "api-key") record = mirrored.record;
    else {
      const stored = await this.store.get(API_KEYS_PREFIX + parsed.id);
      record = stored ? parseRecord(apiKeyRecord, stored.value) : undefined;
    }
    if (!record || !secretMatches(parsed.secret, record.secretHash)) throw new TokenRejectedError("unknown_api_key", "unknown or revoked API key");
    if (record.expiresAt + CLOCK_TOLERANCE_SECONDS < nowSeconds()) throw new TokenRejectedError("expired", "the API key has expired");
    if (audience !== undefined && !record.audience.includes(audience)) {
      throw new TokenRejectedError("wrong_audience", "the API key is not meant for this audience");
    }
    return { kind: "api-key", id: record.id, subject: record.subject, roles: record.roles, audience: record.audience, issuedAt: record.issuedAt, expiresAt: record.expiresAt };
  }

  /** The published public keys, current and retiring. */
  jwks(): { keys: JWK[] } {
    return this.keyring.jwks();
  }

  keyStatus(): KeyStatus {
    const current = this.currentRecord();
    if (!current) throw new AuthorityUnavailableError("no signing key is loaded yet");
    const keys = this.publicMirror
      .values()
      .flatMap((entry) => (entry.type === "key" ? [entry.record] : []))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((record) => ({
        kid: record.kid,
        alg: record.alg,
        createdAt: record.createdAt,
        state: record.kid === current.kid ? ("current" as const) : ("previous" as const),
        ...(record.retiresAt ? { retiresAt: record.retiresAt } : {}),
      }));
    return {
      current: current.kid,
      rotatedAt: current.rotatedAt,
      rotationIntervalSeconds: this.options.keyRotationIntervalMs / 1000,
      nextRotationAt: isoOf(Date.parse(current.rotatedAt) + this.options.keyRotationIntervalMs),
      maxTokenTtlSeconds: this.options.maxTokenTtlSeconds,
      keys,
    };
  }
}

