// The verifier against a real Redis (the test harness starts one) and real EdDSA JWTs. The control
// plane is a scripted `introspect` function: that function is this module's boundary (in the
// sidecar it is the control-plane client calling POST /v1/auth/introspect), so scripting it tests
// everything this module decides without a control plane cluster.
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { SignJWT, importJWK } from "jose";
import Redis from "ioredis";
import { createHash, randomBytes } from "node:crypto";
import { DEFAULT_AUDIENCE, Keyring, type TokenClaims } from "../../auth/index.ts";
import { generateSigningKey, signJwt, type SigningKeyMaterial } from "../../auth/jwt.ts";
import { captureLogger } from "../../telemetry/index.ts";
import { startRedis, until, type RedisServer } from "../../testing/index.ts";
import {
  BY_ID_PREFIX,
  ControlPlaneUnavailableError,
  DECISION_PREFIX,
  TokenVerifier,
  admitsAudience,
  type Decision,
  type Introspection,
  type LookupResult,
  type LookupTier,
  type TokenVerifierOptions,
} from "./index.ts";

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Stands in for the control plane behind `introspect`. */
class ScriptedControlPlane {
  readonly known = new Map<string, TokenClaims>();
  calls = 0;
  down = false;
  delayMs = 0;

  readonly introspect = async (token: string): Promise<Introspection> => {
    this.calls++;
    if (this.delayMs > 0) await Bun.sleep(this.delayMs);
    if (this.down) throw new ControlPlaneUnavailableError("no control-plane member answered", { endpoints: ["http://127.0.0.1:1"] });
    const claims = this.known.get(token);
    return claims ? { active: true, claims } : { active: false };
  };
}

let signingKey: SigningKeyMaterial;
/** A key the verifiers' keyring does not hold: "rotated in a moment ago". */
let newerKey: SigningKeyMaterial;
let redis: RedisServer;
let admin: Redis;

beforeAll(async () => {
  [signingKey, newerKey, redis] = await Promise.all([generateSigningKey("sidecar-auth-test-1"), generateSigningKey("sidecar-auth-test-2"), startRedis()]);
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
}, 30_000);

afterAll(async () => {
  await admin?.quit();
  await redis?.stop();
});

/** One test's world: a clock, a scripted control plane, the revocations the watch delivered, logs. */
function world() {
  let now = Date.now();
  const cp = new ScriptedControlPlane();
  const revoked = new Set<string>();
  const capture = captureLogger("debug");
  const issued: string[] = [];
  const lookups: `${LookupTier}:${LookupResult}`[] = [];
  const keyring = new Keyring();
  keyring.set(signingKey.publicJwk);
  const verifiers: TokenVerifier[] = [];
  const seconds = () => Math.floor(now / 1000);

  return {
    cp,
    revoked,
    keyring,
    issued,
    lookups,
    logs: capture.lines,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    verifier(overrides: Partial<TokenVerifierOptions> = {}): TokenVerifier {
      const verifier = new TokenVerifier({
        keyring,
        isRevoked: (id) => revoked.has(id),
        introspect: cp.introspect,
        downPolicy: "extend-cache",
        clock: () => now,
        logger: capture.logger,
        onLookup: (tier, result) => lookups.push(`${tier}:${result}`),
        ...overrides,
      });
      verifiers.push(verifier);
      return verifier;
    },
    async jwt(claims: Partial<Omit<TokenClaims, "kind">> = {}, key: SigningKeyMaterial = signingKey): Promise<{ token: string; id: string }> {
      const id = claims.id ?? randomBytes(8).toString("hex");
      const token = await signJwt(key, {
        id,
        subject: "node-1",
        roles: ["node"],
        audience: [DEFAULT_AUDIENCE],
        issuedAt: seconds(),
        expiresAt: seconds() + 3_600,
        ...claims,
      });
      issued.push(token);
      return { token, id };
    },
    /** A `nak_` key the scripted control plane knows. */
    apiKey(claims: Partial<Omit<TokenClaims, "kind">> = {}): { token: string; id: string; claims: TokenClaims } {
      const id = claims.id ?? randomBytes(8).toString("hex");
      const token = `nak_${id}_${randomBytes(32).toString("base64url")}`;
      const full: TokenClaims = {
        kind: "api-key",
        id,
        subject: "agent-1",
        roles: ["agent"],
        audience: [DEFAULT_AUDIENCE],
        issuedAt: seconds(),
        expiresAt: seconds() + 3_600,
        ...claims,
      };
      cp.known.set(token, full);
      issued.push(token);
      return { token, id, claims: full };
    },
    /** A well-formed key the control plane has never issued. */
    unknownApiKey(): string {
      const token = `nak_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;
      issued.push(token);
      return token;
    },
    async close(): Promise<void> {
      await Promise.all(verifiers.map((verifier) => verifier.close()));
      // Whatever happened, no raw token reached a log line.
      const logged = JSON.stringify(capture.lines());
      for (const token of issued) expect(logged.includes(token)).toBe(false);
    },
  };
}

type World = ReturnType<typeof world>;
let current: World | undefined;
function newWorld(): World {
  current = world();
  return current;
}
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function accepted(decision: Decision | undefined): Extract<Decision, { ok: true }> {
  if (!decision?.ok) throw new Error(`expected an acceptance, got ${JSON.stringify(decision)}`);
  return decision;
}

describe("the audience rule", () => {
  const claims = (audience: string[]): TokenClaims => ({ kind: "jwt", id: "j", subject: "s", roles: [], audience, issuedAt: 0, expiresAt: 1 });

  test("a token is for a service when its audience names the service or the mesh (nagent)", () => {
    expect(admitsAudience(claims(["execution"]), "execution")).toBe(true);
    expect(admitsAudience(claims(["execution"]), "communication")).toBe(false);
    expect(admitsAudience(claims([DEFAULT_AUDIENCE]), "communication")).toBe(true);
    expect(admitsAudience(claims(["other", DEFAULT_AUDIENCE]), "execution")).toBe(true);
    expect(admitsAudience(claims([]), "execution")).toBe(false);
  });

  test("applies to cached decisions too: one cached token, judged per audience", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const { token } = await w.jwt({ audience: ["execution"] });
    expect(accepted(await verifier.verify(token, "execution")).source).toBe("jwt");
    expect(await verifier.verify(token, "communication")).toEqual({ ok: false, reason: "wrong_audience" });
    expect(verifier.verifyCached(token, "communication")).toEqual({ ok: false, reason: "wrong_audience" });
    expect(accepted(verifier.verifyCached(token, "execution")).source).toBe("memory");
    const mesh = await w.jwt();
    expect(accepted(await verifier.verify(mesh.token, "anything")).source).toBe("jwt");
  });
});

describe("JWTs", () => {
  test("are verified once, then served from memory, synchronously", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const verify = spyOn(w.keyring, "verify");
    const { token, id } = await w.jwt();
    expect(verifier.verifyCached(token, "execution")).toBeUndefined();
    const first = accepted(await verifier.verify(token, "execution"));
    expect(first).toMatchObject({ source: "jwt", claims: { kind: "jwt", id, subject: "node-1", roles: ["node"] } });
    for (let i = 0; i < 5; i++) expect(accepted(await verifier.verify(token, "execution")).source).toBe("memory");
    const sync = verifier.verifyCached(token, "execution");
    expect(sync instanceof Promise).toBe(false);
    expect(accepted(sync).claims).toEqual(first.claims);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(w.cp.calls).toBe(0);
    expect(w.lookups.filter((l) => l === "memory:hit")).toHaveLength(6);
    expect(verifier.stats().lookups.jwt.hit).toBe(1);
  });

  test("a cached JWT is verified again after the memory TTL, and never served past its expiry", async () => {
    const w = newWorld();
    const verifier = w.verifier({ memory: { ttlMs: 60_000 } });
    const verify = spyOn(w.keyring, "verify");
    const { token } = await w.jwt();
    await verifier.verify(token, "x");
    w.advance(61_000);
    expect(verifier.verifyCached(token, "x")).toBeUndefined();
    expect(accepted(await verifier.verify(token, "x")).source).toBe("jwt");
    expect(verify).toHaveBeenCalledTimes(2);

    const short = await w.jwt({ expiresAt: Math.floor(w.now() / 1000) + 10 });
    expect(accepted(await verifier.verify(short.token, "x")).source).toBe("jwt");
    expect(accepted(verifier.verifyCached(short.token, "x")).source).toBe("memory");
    w.advance(11_000);
    expect(verifier.verifyCached(short.token, "x")).toBeUndefined();
    w.advance(10_000); // past the 5 s clock tolerance too
    expect(await verifier.verify(short.token, "x")).toEqual({ ok: false, reason: "expired" });
  });

  test("expired, forged, alg=none, wrong issuer and garbage tokens are refused with their reason", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const seconds = Math.floor(w.now() / 1000);

    const expired = await w.jwt({ issuedAt: seconds - 3_600, expiresAt: seconds - 60 });
    expect(await verifier.verify(expired.token, "x")).toEqual({ ok: false, reason: "expired" });

    // Same kid as the trusted key, signed by another private key.
    const impostor = await generateSigningKey(signingKey.kid);
    const forged = await new SignJWT({ roles: ["admin"] })
      .setProtectedHeader({ alg: "EdDSA", kid: signingKey.kid, typ: "JWT" })
      .setIssuer("nagent")
      .setSubject("mallory")
      .setAudience(["nagent"])
      .setJti("forged")
      .setIssuedAt(seconds)
      .setExpirationTime(seconds + 600)
      .sign(await importJWK(impostor.privateJwk, "EdDSA"));
    w.issued.push(forged);
    expect(await verifier.verify(forged, "x")).toEqual({ ok: false, reason: "bad_signature" });

    const payload = { iss: "nagent", sub: "mallory", aud: ["nagent"], jti: "none", roles: ["admin"], iat: seconds, exp: seconds + 600 };
    const algNone = `${b64({ alg: "none", typ: "JWT", kid: signingKey.kid })}.${b64(payload)}.`;
    w.issued.push(algNone);
    expect(await verifier.verify(algNone, "x")).toEqual({ ok: false, reason: "unsupported_algorithm" });

    // A genuine token's signature over altered claims.
    const genuine = await w.jwt();
    const [header, , signature] = genuine.token.split(".");
    const tampered = `${header}.${b64({ ...payload, jti: "tampered" })}.${signature}`;
    w.issued.push(tampered);
    expect(await verifier.verify(tampered, "x")).toEqual({ ok: false, reason: "bad_signature" });

    const foreignIssuer = await new SignJWT({ roles: [] })
      .setProtectedHeader({ alg: "EdDSA", kid: signingKey.kid })
      .setIssuer("someone-else")
      .setSubject("s")
      .setAudience(["nagent"])
      .setJti("i")
      .setIssuedAt(seconds)
      .setExpirationTime(seconds + 600)
      .sign(await importJWK(signingKey.privateJwk, "EdDSA"));
    expect(await verifier.verify(foreignIssuer, "x")).toEqual({ ok: false, reason: "wrong_issuer" });

    expect(await verifier.verify("not-a-jwt", "x")).toEqual({ ok: false, reason: "malformed" });
    expect(await verifier.verify("", "x")).toEqual({ ok: false, reason: "malformed" });

    const other = await w.jwt({ audience: ["billing"] });
    expect(await verifier.verify(other.token, "execution")).toEqual({ ok: false, reason: "wrong_audience" });
    expect(w.cp.calls).toBe(0);
  });

  test("refusals are cached for negativeTtlMs", async () => {
    const w = newWorld();
    const verifier = w.verifier({ negativeTtlMs: 5_000 });
    const verify = spyOn(w.keyring, "verify");
    const seconds = Math.floor(w.now() / 1000);
    const expired = await w.jwt({ issuedAt: seconds - 3_600, expiresAt: seconds - 60 });
    for (let i = 0; i < 3; i++) expect(await verifier.verify(expired.token, "x")).toEqual({ ok: false, reason: "expired" });
    expect(verifier.verifyCached(expired.token, "x")).toEqual({ ok: false, reason: "expired" });
    expect(verify).toHaveBeenCalledTimes(1);
    w.advance(5_001);
    expect(verifier.verifyCached(expired.token, "x")).toBeUndefined();
    expect(await verifier.verify(expired.token, "x")).toEqual({ ok: false, reason: "expired" });
    expect(verify).toHaveBeenCalledTimes(2);
    expect(verifier.stats().entries.negative).toBe(1);
  });

  test("a JWT signed by a key the keyring does not know yet is introspected, once", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const rotated = await w.jwt({}, newerKey);
    const decoded = await new Keyring().verify(rotated.token).catch(() => undefined);
    expect(decoded).toBeUndefined();
    // What the control plane, which knows every key, answers.
    const keyring = new Keyring();
    keyring.set(newerKey.publicJwk);
    w.cp.known.set(rotated.token, await keyring.verify(rotated.token));

    expect(accepted(await verifier.verify(rotated.token, "x")).source).toBe("control_plane");
    expect(accepted(await verifier.verify(rotated.token, "x")).source).toBe("memory");
    expect(w.cp.calls).toBe(1);
    expect(w.lookups).toContain("jwt:miss");

    const unknown = await w.jwt({}, await generateSigningKey("sidecar-auth-test-unpublished"));
    expect(await verifier.verify(unknown.token, "x")).toEqual({ ok: false, reason: "unknown_key" });
    expect(await verifier.verify(unknown.token, "x")).toEqual({ ok: false, reason: "unknown_key" });
    expect(w.cp.calls).toBe(2);
  });

  test("concurrent misses for one token share one verification", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const verify = spyOn(w.keyring, "verify");
    const { token } = await w.jwt();
    const decisions = await Promise.all(Array.from({ length: 10 }, () => verifier.verify(token, "x")));
    expect(decisions.every((decision) => decision.ok && decision.source === "jwt")).toBe(true);
    expect(verify).toHaveBeenCalledTimes(1);
  });
});

describe("API keys", () => {
  test("introspected by one sidecar, a Redis hit for another: keyed by hash, TTL bounded by expiry", async () => {
    const w = newWorld();
    const a = w.verifier({ redisUrl: redis.url });
    const b = w.verifier({ redisUrl: redis.url });
    const key = w.apiKey({ expiresAt: Math.floor(w.now() / 1000) + 60 });
    await until(() => a.stats().redis === "up" && b.stats().redis === "up", { what: "both verifiers connected", intervalMs: 10 });

    expect(accepted(await a.verify(key.token, "x"))).toEqual({ ok: true, claims: key.claims, source: "control_plane" });
    expect(w.cp.calls).toBe(1);
    await until(async () => (await admin.exists(DECISION_PREFIX + sha256(key.token))) === 1, { what: "the shared decision", intervalMs: 5 });

    const callsBefore = w.cp.calls;
    expect(accepted(await b.verify(key.token, "x"))).toEqual({ ok: true, claims: key.claims, source: "redis" });
    expect(accepted(await b.verify(key.token, "x")).source).toBe("memory");
    expect(w.cp.calls).toBe(callsBefore);

    const stored = await admin.keys("nagent:*");
    expect(stored).toContain(DECISION_PREFIX + sha256(key.token));
    expect(stored).toContain(BY_ID_PREFIX + key.id);
    const secret = key.token.split("_").slice(2).join("_"); // base64url may hold "_" itself
    for (const name of stored) {
      expect(name.includes(secret)).toBe(false);
      const value = (await admin.type(name)) === "string" ? await admin.get(name) : JSON.stringify(await admin.smembers(name));
      expect(value!.includes(key.token)).toBe(false);
      expect(value!.includes(secret)).toBe(false);
    }
    const ttl = await admin.pttl(DECISION_PREFIX + sha256(key.token));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    const long = w.apiKey();
    await a.verify(long.token, "x");
    await until(async () => (await admin.pttl(DECISION_PREFIX + sha256(long.token))) > 0, { what: "the second shared decision", intervalMs: 5 });
    expect(await admin.pttl(DECISION_PREFIX + sha256(long.token))).toBeLessThanOrEqual(300_000);
    expect(await admin.pttl(DECISION_PREFIX + sha256(long.token))).toBeGreaterThan(60_000);
  });

  test("memory first, TTL 300 s, then Redis and the control plane again", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const key = w.apiKey();
    expect(accepted(await verifier.verify(key.token, "x")).source).toBe("control_plane");
    expect(accepted(verifier.verifyCached(key.token, "x")).source).toBe("memory");
    w.advance(299_000);
    expect(accepted(verifier.verifyCached(key.token, "x")).source).toBe("memory");
    w.advance(2_000);
    expect(verifier.verifyCached(key.token, "x")).toBeUndefined();
    expect(accepted(await verifier.verify(key.token, "x")).source).toBe("control_plane");
    expect(w.cp.calls).toBe(2);
  });

  test("an unknown key is refused and the refusal cached briefly", async () => {
    const w = newWorld();
    const verifier = w.verifier({ negativeTtlMs: 10_000 });
    const token = w.unknownApiKey();
    for (let i = 0; i < 5; i++) expect(await verifier.verify(token, "x")).toEqual({ ok: false, reason: "unknown_api_key" });
    expect(w.cp.calls).toBe(1);
    w.advance(10_001);
    await verifier.verify(token, "x");
    expect(w.cp.calls).toBe(2);
  });

  test("concurrent misses share one introspection (single-flight)", async () => {
    const w = newWorld();
    const verifier = w.verifier({ redisUrl: redis.url });
    await until(() => verifier.stats().redis === "up", { intervalMs: 10 });
    w.cp.delayMs = 30;
    const key = w.apiKey();
    const pending = Array.from({ length: 10 }, () => verifier.verify(key.token, "x"));
    expect(verifier.stats().inFlight).toBe(1);
    const decisions = await Promise.all(pending);
    expect(decisions.every((decision) => decision.ok && decision.source === "control_plane")).toBe(true);
    expect(w.cp.calls).toBe(1);
    expect(verifier.stats().inFlight).toBe(0);
    expect(w.lookups.filter((l) => l === "redis:miss")).toHaveLength(1);
  });

  test("the memory cache is bounded by maxEntries", async () => {
    const w = newWorld();
    const verifier = w.verifier({ memory: { maxEntries: 3 } });
    const keys = Array.from({ length: 6 }, () => w.apiKey());
    for (const key of keys.slice(0, 3)) await verifier.verify(key.token, "x");
    expect(verifier.verifyCached(keys[0]!.token, "x")?.ok).toBe(true); // recently used
    await verifier.verify(keys[3]!.token, "x");
    expect(verifier.verifyCached(keys[0]!.token, "x")?.ok).toBe(true);
    expect(verifier.verifyCached(keys[1]!.token, "x")).toBeUndefined(); // the least recently used went
    for (const key of keys.slice(4)) await verifier.verify(key.token, "x");
    const { entries } = verifier.stats();
    expect(entries.fresh + entries.stale).toBe(3);
    expect(verifier.verifyCached(keys[5]!.token, "x")?.ok).toBe(true);
  });
});

describe("revocation", () => {
  test("revoke(id) on one sidecar refuses at once there and, through the Redis channel, on the other", async () => {
    const w = newWorld();
    // Neither sidecar's watch has delivered the revocation yet: only revoke() and the channel can stop it.
    const a = w.verifier({ redisUrl: redis.url, isRevoked: () => false });
    const b = w.verifier({ redisUrl: redis.url, isRevoked: () => false });
    await until(() => a.stats().redis === "up" && b.stats().redis === "up", { intervalMs: 10 });
    const key = w.apiKey();
    const jwt = await w.jwt();
    await a.verify(key.token, "x");
    await until(async () => (await admin.exists(DECISION_PREFIX + sha256(key.token))) === 1, { intervalMs: 5 });
    expect(accepted(await b.verify(key.token, "x")).source).toBe("redis");
    await a.verify(jwt.token, "x");
    await b.verify(jwt.token, "x");

    const started = performance.now();
    const published = a.revoke(key.id);
    expect(a.verifyCached(key.token, "x")).toBeUndefined();
    expect(await a.verify(key.token, "x")).toEqual({ ok: false, reason: "revoked" });
    await published;
    await until(() => b.verifyCached(key.token, "x") === undefined, { what: "B dropping the revoked key", intervalMs: 1, timeoutMs: 2_000 });
    const elapsed = performance.now() - started;
    expect(await b.verify(key.token, "x")).toEqual({ ok: false, reason: "revoked" });
    expect(elapsed).toBeLessThan(500);
    expect(await admin.exists(DECISION_PREFIX + sha256(key.token), BY_ID_PREFIX + key.id)).toBe(0);

    await a.revoke(jwt.id);
    await until(() => b.verifyCached(jwt.token, "x")?.ok !== true, { what: "B dropping the revoked JWT", intervalMs: 1, timeoutMs: 2_000 });
    expect(await b.verify(jwt.token, "x")).toEqual({ ok: false, reason: "revoked" });
    expect(await a.verify(jwt.token, "x")).toEqual({ ok: false, reason: "revoked" });
    expect(b.stats().entries.revokedIds).toBe(2);
  });

  test("isRevoked wins over every tier", async () => {
    const w = newWorld();
    const a = w.verifier({ redisUrl: redis.url });
    await until(() => a.stats().redis === "up", { intervalMs: 10 });

    // memory
    const cached = await w.jwt();
    await a.verify(cached.token, "x");
    w.revoked.add(cached.id);
    expect(a.verifyCached(cached.token, "x")).toEqual({ ok: false, reason: "revoked" });
    expect(await a.verify(cached.token, "x")).toEqual({ ok: false, reason: "revoked" });

    // jwt: verified afresh
    const fresh = await w.jwt();
    w.revoked.add(fresh.id);
    expect(await a.verify(fresh.token, "x")).toEqual({ ok: false, reason: "revoked" });

    // redis: a decision another sidecar shared before the revocation
    const shared = w.apiKey();
    await a.verify(shared.token, "x");
    await until(async () => (await admin.exists(DECISION_PREFIX + sha256(shared.token))) === 1, { intervalMs: 5 });
    w.revoked.add(shared.id);
    const c = w.verifier({ redisUrl: redis.url });
    await until(() => c.stats().redis === "up", { intervalMs: 10 });
    const callsBefore = w.cp.calls;
    expect(await c.verify(shared.token, "x")).toEqual({ ok: false, reason: "revoked" });
    expect(w.lookups.at(-1)).toBe("redis:hit");
    expect(w.cp.calls).toBe(callsBefore);

    // control plane: it still called the key active (the revocation is racing through the watch)
    const introspected = w.apiKey();
    w.revoked.add(introspected.id);
    expect(await a.verify(introspected.token, "x")).toEqual({ ok: false, reason: "revoked" });
    expect(w.lookups.at(-1)).toBe("control_plane:hit");

    // stale cache, while the control plane is down
    const stale = w.apiKey();
    await a.verify(stale.token, "x");
    w.advance(301_000);
    w.cp.down = true;
    expect(accepted(await a.verify(stale.token, "x")).source).toBe("stale-cache");
    w.revoked.add(stale.id);
    expect(await a.verify(stale.token, "x")).toEqual({ ok: false, reason: "revoked" });
  });
});

describe("Redis trouble never fails a request", () => {
  test("garbage in Redis is skipped, counted and logged once; the control plane answers", async () => {
    const w = newWorld();
    const verifier = w.verifier({ redisUrl: redis.url });
    await until(() => verifier.stats().redis === "up", { intervalMs: 10 });
    const keys = [w.apiKey(), w.apiKey()];
    for (const key of keys) await admin.set(DECISION_PREFIX + sha256(key.token), "{not json");
    for (const key of keys) expect(accepted(await verifier.verify(key.token, "x")).source).toBe("control_plane");
    expect(verifier.stats().lookups.redis.error).toBe(2);
    expect(w.cp.calls).toBe(2);
    expect(w.logs().filter((line) => String(line.msg).includes("cannot read"))).toHaveLength(1);
    // The introspected decision replaced the garbage.
    await until(async () => (await admin.get(DECISION_PREFIX + sha256(keys[0]!.token)))?.startsWith("{\"v\":1") === true, { intervalMs: 5 });
  });

  test("a slow Redis costs at most the command timeout", async () => {
    const w = newWorld();
    const verifier = w.verifier({ redisUrl: redis.url, redisCommandTimeoutMs: 50 });
    await until(() => verifier.stats().redis === "up", { intervalMs: 10 });
    await admin.call("CLIENT", "PAUSE", "600", "ALL");
    const key = w.apiKey();
    const started = performance.now();
    expect(accepted(await verifier.verify(key.token, "x")).source).toBe("control_plane");
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(400);
    expect(verifier.stats().lookups.redis.error).toBe(1);
    await Bun.sleep(650);
    const after = w.apiKey();
    await until(async () => (await verifier.verify(after.token, "x")).ok && w.lookups.includes("redis:miss"), { intervalMs: 20, what: "redis answering again" });
    const messages = w.logs().map((line) => String(line.msg));
    expect(messages.filter((msg) => msg.startsWith("the shared token cache (Redis) is unreachable"))).toHaveLength(1);
    expect(messages.filter((msg) => msg.startsWith("the shared token cache (Redis) is reachable again"))).toHaveLength(1);
  });

  test("Redis killed mid-test: memory and the control plane carry on, quickly, and it is logged once", async () => {
    const w = newWorld();
    const own = await startRedis();
    try {
      const verifier = w.verifier({ redisUrl: own.url });
      await until(() => verifier.stats().redis === "up", { intervalMs: 10 });
      const warm = w.apiKey();
      await verifier.verify(warm.token, "x");
      await own.stop();

      expect(accepted(await verifier.verify(warm.token, "x")).source).toBe("memory");
      let slowest = 0;
      for (let i = 0; i < 30; i++) {
        const key = w.apiKey();
        const started = performance.now();
        const decision = await verifier.verify(key.token, "x");
        slowest = Math.max(slowest, performance.now() - started);
        expect(accepted(decision).source).toBe("control_plane");
        expect(accepted(await verifier.verify(key.token, "x")).source).toBe("memory");
      }
      expect(slowest).toBeLessThan(400);
      expect(verifier.stats().lookups.redis.error).toBe(30);
      expect(verifier.stats().redis).toBe("down");
      await Bun.sleep(300); // a few reconnect attempts
      const messages = w.logs().map((line) => String(line.msg));
      expect(messages.filter((msg) => msg.startsWith("the shared token cache (Redis) is unreachable"))).toHaveLength(1);
      expect(messages.filter((msg) => msg.startsWith("the revocation channel (Redis) is unreachable"))).toHaveLength(1);
      // revoke() still works locally.
      await verifier.revoke(warm.id);
      expect(await verifier.verify(warm.token, "x")).toEqual({ ok: false, reason: "revoked" });
      const closing = performance.now();
      await verifier.close();
      expect(performance.now() - closing).toBeLessThan(500);
    } finally {
      await own.stop();
    }
  });
});

describe("when the control plane is unreachable", () => {
  test("extend-cache serves a stale positive decision, never past the token's expiry, never once revoked", async () => {
    const w = newWorld();
    const verifier = w.verifier({ downPolicy: "extend-cache" });
    const seconds = Math.floor(w.now() / 1000);
    const key = w.apiKey();
    const short = w.apiKey({ expiresAt: seconds + 400 });
    await verifier.verify(key.token, "x");
    await verifier.verify(short.token, "x");
    w.cp.down = true;
    w.advance(301_000); // past the 300 s cache TTL
    expect(verifier.verifyCached(key.token, "x")).toBeUndefined();
    expect(accepted(await verifier.verify(key.token, "x"))).toEqual({ ok: true, claims: key.claims, source: "stale-cache" });
    expect(accepted(await verifier.verify(short.token, "x")).source).toBe("stale-cache");
    expect(await verifier.verify(key.token, "wrong")).toMatchObject({ ok: true }); // the mesh audience
    expect(verifier.stats().entries.stale).toBe(2);
    w.advance(100_000); // short has expired
    expect(await verifier.verify(short.token, "x")).toEqual({ ok: false, reason: "expired" });
    expect(accepted(await verifier.verify(key.token, "x")).source).toBe("stale-cache");
    w.revoked.add(key.id);
    expect(await verifier.verify(key.token, "x")).toEqual({ ok: false, reason: "revoked" });
    // Never seen: nothing to extend.
    expect(await verifier.verify(w.apiKey().token, "x")).toEqual({ ok: false, reason: "unavailable" });
    // Logged once for the whole outage, once for its end.
    w.cp.down = false;
    expect(accepted(await verifier.verify(w.apiKey().token, "x")).source).toBe("control_plane");
    const messages = w.logs().map((line) => String(line.msg));
    expect(messages.filter((msg) => msg.startsWith("the control plane cannot be reached"))).toHaveLength(1);
    expect(messages.filter((msg) => msg.startsWith("the control plane answers introspection again"))).toHaveLength(1);
    // Seven of the answers above needed the control plane while it was down.
    expect(w.lookups.filter((l) => l === "control_plane:error")).toHaveLength(7);
  });

  test("extend-cache serves a stale JWT whose key has left the keyring", async () => {
    const w = newWorld();
    const verifier = w.verifier();
    const { token } = await w.jwt();
    await verifier.verify(token, "x");
    w.keyring.delete(signingKey.kid);
    w.cp.down = true;
    w.advance(301_000);
    expect(accepted(await verifier.verify(token, "x")).source).toBe("stale-cache");
  });

  test("deny refuses what the cache cannot answer within its TTL", async () => {
    const w = newWorld();
    const verifier = w.verifier({ downPolicy: "deny" });
    const key = w.apiKey();
    await verifier.verify(key.token, "x");
    w.cp.down = true;
    expect(accepted(await verifier.verify(key.token, "x")).source).toBe("memory");
    w.advance(301_000);
    expect(await verifier.verify(key.token, "x")).toEqual({ ok: false, reason: "unavailable" });
    expect(await verifier.verify(w.apiKey().token, "x")).toEqual({ ok: false, reason: "unavailable" });
  });

  test("allow accepts an unknown credential as unverified (fail-open), but prefers real claims and honours revocations", async () => {
    const w = newWorld();
    const verifier = w.verifier({ downPolicy: "allow" });
    const known = w.apiKey();
    await verifier.verify(known.token, "x");
    w.cp.down = true;
    const decision = accepted(await verifier.verify(w.unknownApiKey(), "x"));
    expect(decision.source).toBe("down-allow");
    expect(decision.claims).toMatchObject({ kind: "api-key", id: "", subject: "unverified", roles: [] });
    w.advance(301_000);
    expect(accepted(await verifier.verify(known.token, "x")).source).toBe("stale-cache");
    w.revoked.add(known.id);
    expect(await verifier.verify(known.token, "x")).toEqual({ ok: false, reason: "revoked" });
    // A JWT the keyring can judge never depends on the control plane.
    const seconds = Math.floor(w.now() / 1000);
    const expired = await w.jwt({ issuedAt: seconds - 100, expiresAt: seconds - 50 });
    expect(await verifier.verify(expired.token, "x")).toEqual({ ok: false, reason: "expired" });
  });
});

describe("snapshot and restore", () => {
  test("round trip: hashes and claims only, expiry honoured, restored decisions serve an outage", async () => {
    const w = newWorld();
    const a = w.verifier();
    const seconds = Math.floor(w.now() / 1000);
    const long = w.apiKey();
    const short = w.apiKey({ expiresAt: seconds + 100 });
    const revoked = w.apiKey();
    const jwt = await w.jwt();
    const refused = w.unknownApiKey();
    for (const token of [long.token, short.token, revoked.token, jwt.token, refused]) await a.verify(token, "x");
    await a.revoke(revoked.id);

    const written = JSON.stringify(a.snapshot());
    for (const token of w.issued) expect(written.includes(token)).toBe(false);
    // The secret is everything after `nak_<id>_`; base64url may hold "_" itself.
    for (const token of w.issued.filter((t) => t.startsWith("nak_"))) expect(written.includes(token.split("_").slice(2).join("_"))).toBe(false);
    const read = JSON.parse(written) as { entries: { hash: string; claims: TokenClaims }[] };
    expect(read.entries.map((entry) => entry.hash).sort()).toEqual([long.token, short.token, jwt.token].map(sha256).sort());
    expect(read.entries.find((entry) => entry.hash === sha256(long.token))?.claims).toEqual(long.claims);

    // A sidecar restarted 200 s later, while the control plane is down.
    w.advance(200_000);
    w.cp.down = true;
    const callsBefore = w.cp.calls;
    const b = w.verifier();
    expect(b.restore(JSON.parse(written))).toBe(2); // short expired meanwhile
    expect(b.stats().entries.restored).toBe(2);
    expect(b.verifyCached(long.token, "x")).toBeUndefined(); // restored decisions are stale from the start
    expect(accepted(await b.verify(long.token, "x"))).toEqual({ ok: true, claims: long.claims, source: "stale-cache" });
    expect(accepted(await b.verify(long.token, "x")).source).toBe("stale-cache");
    expect(await b.verify(short.token, "x")).toEqual({ ok: false, reason: "unavailable" });
    expect(await b.verify(revoked.token, "x")).toEqual({ ok: false, reason: "unavailable" });
    expect(w.cp.calls - callsBefore).toBe(4);

    // Once the control plane is back, it decides again.
    w.cp.down = false;
    expect(accepted(await b.verify(long.token, "x")).source).toBe("control_plane");
    expect(b.stats().entries.restored).toBe(1); // the JWT, not presented yet
  });

  test("restore drops expired and revoked entries and ignores what it cannot read", async () => {
    const w = newWorld();
    const a = w.verifier();
    const key = w.apiKey();
    const other = w.apiKey();
    await a.verify(key.token, "x");
    await a.verify(other.token, "x");
    const snapshot = a.snapshot();
    const b = w.verifier();
    w.revoked.add(other.id);
    expect(b.restore(snapshot)).toBe(1);
    w.advance(3_601_000);
    expect(w.verifier().restore(snapshot)).toBe(0);
    const c = w.verifier();
    expect(c.restore(undefined)).toBe(0);
    expect(c.restore({ version: 2, savedAt: 0, entries: [] })).toBe(0);
    expect(c.restore({ version: 1, savedAt: 0, entries: [{ hash: "not-a-hash", claims: key.claims }, { hash: sha256("x") }] })).toBe(0);
    expect(c.stats().entries.restored).toBe(0);
  });
});

test("the constructor refuses nonsensical bounds", () => {
  const w = newWorld();
  expect(() => w.verifier({ memory: { maxEntries: 0 } })).toThrow(RangeError);
  expect(() => w.verifier({ memory: { ttlMs: 0 } })).toThrow(RangeError);
});
