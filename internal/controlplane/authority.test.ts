import { until } from "../testing/index.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT, importJWK, type JWK } from "jose";
import { STORE_BACKENDS, type StoreUnderTest } from "../testing/stores.ts";
import { captureLogger } from "../telemetry/index.ts";
import type { Store } from "../store/index.ts";
import { AuthAuthority, type AuthorityOptions } from "./authority.ts";
import { TokenRejectedError } from "../auth/errors.ts";
import { ISSUER } from "../auth/jwt.ts";
import { API_KEYS_PREFIX, CURRENT_KEY, PUBLIC_KEYS_PREFIX, REVOCATIONS_PREFIX, SIGNING_KEYS_PREFIX } from "../auth/records.ts";

async function rejection(promise: Promise<unknown>): Promise<TokenRejectedError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenRejectedError) return error;
    throw error;
  }
  throw new Error("expected the token to be rejected");
}

/** Signs arbitrary claims with the cluster's current private key, to build tokens the authority would never issue. */
async function signWithCurrentKey(store: Store, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const current = JSON.parse((await store.get(CURRENT_KEY))!.value) as { kid: string };
  const signing = JSON.parse((await store.get(SIGNING_KEYS_PREFIX + current.kid))!.value) as { privateJwk: JWK };
  const key = await importJWK(signing.privateJwk, "EdDSA");
  return new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: current.kid, ...header }).sign(key);
}

const now = () => Math.floor(Date.now() / 1000);

describe.each(STORE_BACKENDS)("authentication authority on the $name store", (backend) => {
  let underTest: StoreUnderTest;
  let store: Store;
  const authorities: AuthAuthority[] = [];
  const { logger } = captureLogger("silent");

  function authority(overrides: Partial<AuthorityOptions> = {}): AuthAuthority {
    const created = new AuthAuthority({
      store,
      logger,
      keyRotationIntervalMs: 24 * 3600_000,
      maxTokenTtlSeconds: 3600,
      maxApiKeyTtlSeconds: 86_400,
      defaultTokenTtlSeconds: 600,
      ...overrides,
    });
    authorities.push(created);
    return created;
  }

  // Two members of one cluster: two authorities on the same store.
  let a: AuthAuthority;
  let b: AuthAuthority;

  beforeAll(async () => {
    underTest = await backend.open();
    store = underTest.store;
    a = authority();
    b = authority();
    await Promise.all([a.start(), b.start()]);
  });
  afterAll(async () => {
    await Promise.all(authorities.map((each) => each.stop()));
    await underTest.cleanup();
  });

  test("members starting together create exactly one signing key, and both publish it", async () => {
    const published = await store.list(PUBLIC_KEYS_PREFIX);
    expect(published.items.length).toBe(1);
    expect((await store.list(SIGNING_KEYS_PREFIX)).items.length).toBe(1);
    await until(() => a.jwks().keys.length === 1 && b.jwks().keys.length === 1);
    const [jwk] = a.jwks().keys;
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(jwk).not.toHaveProperty("d");
    expect(a.notReadyReason()).toBeUndefined();
  });

  test("a token issued by one member is accepted and introspected by the other", async () => {
    const issued = await a.issue({ subject: "agent-7", roles: ["caller"], ttlSeconds: 120 });
    expect(issued.kind).toBe("jwt");
    expect(issued.expiresAt - now()).toBeGreaterThan(110);
    const claims = await b.authenticate(issued.token);
    expect(claims).toMatchObject({ kind: "jwt", id: issued.id, subject: "agent-7", roles: ["caller"], audience: ["nagent"] });
    expect(await b.introspect(issued.token)).toMatchObject({ active: true, claims: { subject: "agent-7" } });
  });

  test("forged, expired, wrong-issuer, wrong-audience and alg=none tokens are refused", async () => {
    const good = await a.issue({ subject: "s", roles: ["r"] });
    const [head, body, signature] = good.token.split(".");
    const flipped = `${signature!.startsWith("A") ? "B" : "A"}${signature!.slice(1)}`;
    expect((await rejection(a.authenticate(`${head}.${body}.${flipped}`))).reason).toBe("bad_signature");
    const otherBody = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), roles: ["admin"] })).toString("base64url");
    expect((await rejection(a.authenticate(`${head}.${otherBody}.${signature}`))).reason).toBe("bad_signature");

    const base = { sub: "s", roles: ["r"], aud: ["nagent"], jti: "x1", iss: ISSUER };
    const expired = await signWithCurrentKey(store, { ...base, iat: now() - 3600, exp: now() - 60 });
    expect((await rejection(a.authenticate(expired))).reason).toBe("expired");
    const otherIssuer = await signWithCurrentKey(store, { ...base, iss: "someone-else", iat: now(), exp: now() + 60 });
    expect((await rejection(a.authenticate(otherIssuer))).reason).toBe("wrong_issuer");
    const unknownKid = await signWithCurrentKey(store, { ...base, iat: now(), exp: now() + 60 }, { kid: "no-such-key" });
    expect((await rejection(a.authenticate(unknownKid))).reason).toBe("unknown_key");

    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${body}.`;
    expect((await rejection(a.authenticate(none))).reason).toBe("unsupported_algorithm");
    expect((await rejection(a.authenticate("not-a-token"))).reason).toBe("malformed");
    expect(await a.introspect(none)).toEqual({ active: false, reason: "unsupported_algorithm" });

    const forDomain = await a.issue({ subject: "s", roles: ["r"], audience: ["execution"] });
    expect((await rejection(a.authenticate(forDomain.token))).reason).toBe("wrong_audience");
    expect(await a.introspect(forDomain.token, "execution")).toMatchObject({ active: true });
    expect(await a.introspect(forDomain.token, "state")).toEqual({ active: false, reason: "wrong_audience" });
  });

  test("a revoked token is inactive on every member at once, and the revocation is published", async () => {
    const issued = await a.issue({ subject: "agent-9", roles: ["caller"], ttlSeconds: 300 });
    expect(await a.revoke(issued.token)).toEqual({ id: issued.id, kind: "jwt", alreadyExpired: false });
    // Introspection reads the store: no waiting for the other member's mirror.
    expect(await b.introspect(issued.token)).toEqual({ active: false, reason: "revoked" });
    const record = await store.get(REVOCATIONS_PREFIX + issued.id);
    expect(JSON.parse(record!.value)).toMatchObject({ id: issued.id, kind: "jwt", subject: "agent-9", expiresAt: issued.expiresAt });
    expect(record!.lease).toBeDefined();
    await until(async () => (await b.authenticate(issued.token).catch((error: TokenRejectedError) => error.reason)) === "revoked");
  });

  test("API keys: accepted, stored only as a hash, revoked at once", async () => {
    const issued = await a.issue({ subject: "batch-job", roles: ["caller"], kind: "api-key", ttlSeconds: 3600 });
    expect(issued.token).toMatch(/^nak_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const secret = issued.token.split("_").slice(2).join("_");
    const everything = await store.list("");
    expect(everything.items.some((item) => item.value.includes(secret))).toBe(false);
    const stored = await store.get(API_KEYS_PREFIX + issued.id);
    expect(JSON.parse(stored!.value)).toMatchObject({ subject: "batch-job", secretHash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    expect(await b.introspect(issued.token)).toMatchObject({ active: true, claims: { kind: "api-key", subject: "batch-job" } });
    await until(async () => (await b.authenticate(issued.token).then((claims) => claims.subject).catch(() => "")) === "batch-job");
    const wrongSecret = issued.token.slice(0, -4) + (issued.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect(await b.introspect(wrongSecret)).toEqual({ active: false, reason: "unknown_api_key" });

    expect(await a.revoke(issued.token)).toMatchObject({ id: issued.id, kind: "api-key" });
    expect(await b.introspect(issued.token)).toEqual({ active: false, reason: "unknown_api_key" });
    expect(await store.get(REVOCATIONS_PREFIX + issued.id)).toBeDefined();
  });

  test("a TTL over the maximum is refused", async () => {
    await expect(a.issue({ subject: "s", roles: [], ttlSeconds: 3601 })).rejects.toThrow("ttlSeconds must be at most 3600");
  });

  test("rotation keeps old tokens valid until they expire and signs new ones with the new key", async () => {
    const before = await a.issue({ subject: "old", roles: ["r"] });
    const oldKid = a.keyStatus().current;
    const rotated = await b.rotate("request");
    expect(rotated.previous).toBe(oldKid);
    expect(rotated.current).not.toBe(oldKid);
    await until(() => a.keyStatus().current === rotated.current && a.jwks().keys.length === 2);

    const after = await a.issue({ subject: "new", roles: ["r"] });
    const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
    expect(kidOf(after.token)).toBe(rotated.current);
    expect(kidOf(before.token)).toBe(oldKid);
    expect((await a.authenticate(before.token)).subject).toBe("old");
    expect((await b.authenticate(after.token)).subject).toBe("new");

    // The old key no longer signs (its private half is gone) and leaves the JWKS with its lease.
    expect(await store.get(SIGNING_KEYS_PREFIX + oldKid)).toBeUndefined();
    const retired = await store.get(PUBLIC_KEYS_PREFIX + oldKid);
    expect(retired!.lease).toBeDefined();
    const previous = a.keyStatus().keys.find((key) => key.kid === oldKid);
    expect(previous?.state).toBe("previous");
    const retiresIn = Date.parse(previous?.retiresAt ?? "") - Date.now();
    expect(retiresIn).toBeGreaterThan(3600_000);
  });

  test("two members rotating at once end with one new current key", async () => {
    const [x, y] = await Promise.all([a.rotate("request"), b.rotate("request")]);
    expect(x.current).toBe(y.current);
    expect((await store.list(SIGNING_KEYS_PREFIX)).items.map((item) => item.key)).toEqual([SIGNING_KEYS_PREFIX + x.current]);
  });

  test("keys rotate on schedule", async () => {
    const scheduled = authority({ keyRotationIntervalMs: 1_000 });
    await scheduled.start();
    const first = scheduled.keyStatus().current;
    await until(() => scheduled.keyStatus().current !== first, { timeoutMs: 8_000 });
    expect(Date.parse(scheduled.keyStatus().nextRotationAt) - Date.parse(scheduled.keyStatus().rotatedAt)).toBe(1_000);
    await scheduled.stop();
  });
});
