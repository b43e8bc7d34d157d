// Signed tokens: EdDSA (Ed25519) JWTs issued by the control plane and verified wherever a public
// key is known (every control-plane member, every sidecar from its cached JWKS). jose does the
// cryptography and the claim checks; this file fixes our choices: one algorithm, our issuer,
// the claims we put in, and a rejection reason for every way a token can be wrong.
import { SignJWT, decodeProtectedHeader, errors, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from "jose";
import { TokenRejectedError } from "./errors.ts";

/** The only signing algorithm we issue or accept; `alg: none` and every other alg are refused. */
export const ALGORITHM = "EdDSA";
export const ISSUER = "nagent";
/** The audience of mesh-wide tokens, and the one the control plane's API requires. */
export const DEFAULT_AUDIENCE = "nagent";
/** Clocks of different machines disagree a little; tokens are accepted this much early or late. */
export const CLOCK_TOLERANCE_SECONDS = 5;

/** What a valid token says, whichever kind it is. */
export interface TokenClaims {
  readonly kind: "jwt" | "api-key";
  /** The JWT's jti or the API key's id: what a revocation names. */
  readonly id: string;
  readonly subject: string;
  readonly roles: readonly string[];
  readonly audience: readonly string[];
  /** Unix seconds. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** A signing key pair as JWKs: the private one stays in the store's hidden prefix. */
export interface SigningKeyMaterial {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/** A new Ed25519 key pair. */
export async function generateSigningKey(kid: string): Promise<SigningKeyMaterial> {
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { crv: "Ed25519", extractable: true });
  return { kid, privateJwk: await exportJWK(privateKey), publicJwk: await publicJwkOf(await exportJWK(publicKey), kid) };
}

async function publicJwkOf(jwk: JWK, kid: string): Promise<JWK> {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid, alg: ALGORITHM, use: "sig" };
}

/** Imported private keys by kid, so signing does not re-import a JWK each time. */
const importedPrivate = new Map<string, Promise<CryptoKey | Uint8Array>>();

/** Signs the claims with the key; `id` becomes the jti. */
export async function signJwt(key: { kid: string; privateJwk: JWK }, claims: Omit<TokenClaims, "kind">): Promise<string> {
  let imported = importedPrivate.get(key.kid);
  if (!imported) {
    imported = importJWK(key.privateJwk, ALGORITHM);
    importedPrivate.set(key.kid, imported);
  }
  return new SignJWT({ roles: [...claims.roles] })
    .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: "JWT" })
    .setIssuer(ISSUER)
    .setSubject(claims.subject)
    .setAudience([...claims.audience])
    .setJti(claims.id)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .sign(await imported);
}

/** Forgets an imported private key once it no longer signs. */
export function forgetSigningKey(kid: string): void {
  importedPrivate.delete(kid);
}

export interface VerifyOptions {
  /** Required audience; the token's aud must contain it. */
  readonly audience?: string;
  /** For tests: the time to judge expiry against. */
  readonly now?: Date;
}

/**
 * The public keys a verifier trusts, by kid. The control plane fills it from the store, a sidecar
 * from its cached JWKS; both call `verify`, so a token means the same everywhere.
 */
export class Keyring {
  private readonly keys = new Map<string, { jwk: JWK; key: Promise<CryptoKey | Uint8Array> }>();

  /** Adds or replaces a key (a JWK with kid). */
  set(jwk: JWK): void {
    if (typeof jwk.kid !== "string") throw new TypeError("a public key needs a kid");
    const known = this.keys.get(jwk.kid);
    if (known && known.jwk.x === jwk.x) return;
    this.keys.set(jwk.kid, { jwk, key: importJWK({ ...jwk, alg: ALGORITHM }, ALGORITHM) });
  }

  delete(kid: string): void {
    this.keys.delete(kid);
  }

  /** Makes the ring hold exactly these keys. */
  replace(jwks: readonly JWK[]): void {
    const keep = new Set(jwks.map((jwk) => jwk.kid));
    for (const kid of [...this.keys.keys()]) if (!keep.has(kid)) this.keys.delete(kid);
    for (const jwk of jwks) this.set(jwk);
  }

  has(kid: string): boolean {
    return this.keys.has(kid);
  }

  get size(): number {
    return this.keys.size;
  }

  /** The keys as a JWKS document. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.keys.values()].map((entry) => entry.jwk) };
  }

  /** The kid a token names, or undefined if it has none (or is not a JWS at all). */
  static kidOf(token: string): string | undefined {
    try {
      const kid = decodeProtectedHeader(token).kid;
      return typeof kid === "string" ? kid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Checks signature, algorithm, issuer, expiry and (when asked) audience. Revocation is the
   * caller's to check, on the claims' id. Throws TokenRejectedError with the reason.
   */
  async verify(token: string, options: VerifyOptions = {}): Promise<TokenClaims> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch (error) {
      throw new TokenRejectedError("malformed", "the token is not a JWT", { cause: error });
    }
    if (header.alg !== ALGORITHM) {
      throw new TokenRejectedError("unsupported_algorithm", `tokens must be signed with ${ALGORITHM}, not ${String(header.alg)}`);
    }
    const entry = typeof header.kid === "string" ? this.keys.get(header.kid) : undefined;
    if (!entry) throw new TokenRejectedError("unknown_key", `the token's signing key ${String(header.kid)} is not (or no longer) published`);
    let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      ({ payload } = await jwtVerify(token, await entry.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["sub", "exp", "iat", "jti", "aud"],
        ...(options.audience !== undefined ? { audience: options.audience } : {}),
        ...(options.now ? { currentDate: options.now } : {}),
      }));
    } catch (error) {
      throw rejection(error);
    }
    const roles = payload.roles;
    if (!Array.isArray(roles) || !roles.every((role) => typeof role === "string")) {
      throw new TokenRejectedError("malformed", "the token's roles claim is not a list of strings");
    }
    return {
      kind: "jwt",
      id: payload.jti!,
      subject: payload.sub!,
      roles,
      audience: typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []),
      issuedAt: payload.iat!,
      expiresAt: payload.exp!,
    };
  }
}

function rejection(error: unknown): TokenRejectedError {
  if (error instanceof errors.JWTExpired) return new TokenRejectedError("expired", "the token has expired", { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return new TokenRejectedError("wrong_audience", "the token is not meant for this audience", { cause: error });
    if (error.claim === "iss") return new TokenRejectedError("wrong_issuer", "the token was not issued by this mesh", { cause: error });
    if (error.claim === "nbf" || error.claim === "iat") {
      return new TokenRejectedError("not_yet_valid", "the token is not valid yet", { cause: error });
    }
    return new TokenRejectedError("malformed", `the token's ${error.claim} claim is invalid`, { cause: error });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenRejectedError("bad_signature", "the token's signature does not verify", { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new TokenRejectedError("unsupported_algorithm", `tokens must be signed with ${ALGORITHM}`, { cause: error });
  }
  return new TokenRejectedError("malformed", "the token is not a valid JWT", { cause: error });
}
