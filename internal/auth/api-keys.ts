// Opaque API keys: `nak_<id>_<secret>`. The id finds the record; only a hash of the secret is
// stored. SHA-256 rather than a slow password hash because the secret is 256 random bits: there
// is nothing to brute-force, and introspection stays cheap.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const PREFIX = "nak_";
const FORMAT = /^nak_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  readonly id: string;
  readonly token: string;
  /** Hex SHA-256 of the secret part, the only form that is stored. */
  readonly secretHash: string;
}

/** A fresh key: 64-bit id, 256-bit secret. */
export function newApiKey(): NewApiKey {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, token: `${PREFIX}${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** True when the text has the shape of an API key (as opposed to a JWT). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(PREFIX);
}

/** The id and secret of a well-formed key, or undefined. */
export function parseApiKey(token: string): { id: string; secret: string } | undefined {
  const match = FORMAT.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Compares in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret), "hex");
  const expected = Buffer.from(storedHash, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
