// Where the authentication authority keeps its state in the replicated store, and the shape of
// each record. Public keys and revocations live under `auth/`, which sidecars watch; private
// keys, the current-key pointer and API-key hashes under `system/auth/`, which no API shows.
import type { JWK } from "jose";
import { z } from "zod";

export const PUBLIC_KEYS_PREFIX = "auth/keys/";
export const REVOCATIONS_PREFIX = "auth/revocations/";
export const SYSTEM_AUTH_PREFIX = "system/auth/";
export const SIGNING_KEYS_PREFIX = "system/auth/signing/";
export const CURRENT_KEY = "system/auth/current";
export const API_KEYS_PREFIX = "system/auth/api-keys/";

const jwk = z.custom<JWK>((value) => typeof value === "object" && value !== null && typeof (value as { kty?: unknown }).kty === "string", { error: "expected a JWK" });
const iso = z.iso.datetime();

export const publicKeyRecord = z.object({
  kid: z.string(),
  alg: z.literal("EdDSA"),
  jwk,
  createdAt: iso,
  /** Set once the key no longer signs: it stays published until every token it signed has expired. */
  retiresAt: iso.optional(),
});
export type PublicKeyRecord = z.infer<typeof publicKeyRecord>;

export const signingKeyRecord = z.object({
  kid: z.string(),
  alg: z.literal("EdDSA"),
  privateJwk: jwk,
  createdAt: iso,
});
export type SigningKeyRecord = z.infer<typeof signingKeyRecord>;

export const currentKeyRecord = z.object({
  kid: z.string(),
  rotatedAt: iso,
  previous: z.string().optional(),
  reason: z.string(),
});
export type CurrentKeyRecord = z.infer<typeof currentKeyRecord>;

export const apiKeyRecord = z.object({
  id: z.string(),
  secretHash: z.string().regex(/^[0-9a-f]{64}$/),
  subject: z.string(),
  roles: z.array(z.string()),
  audience: z.array(z.string()),
  issuedAt: z.number().int(),
  expiresAt: z.number().int(),
});
export type ApiKeyRecord = z.infer<typeof apiKeyRecord>;

export const revocationRecord = z.object({
  id: z.string(),
  kind: z.enum(["jwt", "api-key"]),
  subject: z.string(),
  revokedAt: iso,
  /** Unix seconds: after this the token is expired anyway and the record goes away with its lease. */
  expiresAt: z.number().int(),
});
export type RevocationRecord = z.infer<typeof revocationRecord>;

/** Parses a stored record with its schema; a record that does not match is an error, not a guess. */
export function parseRecord<S extends z.ZodType>(schema: S, value: string): z.output<S> {
  return schema.parse(JSON.parse(value));
}
