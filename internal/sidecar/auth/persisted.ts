// The forms in which decisions leave this process: a Redis value, and the snapshot written to the
// sidecar's cache dir. Both are keyed by the hex SHA-256 of the token and never hold the token.
// Whatever is read back is validated: Redis is shared and the cache dir outlives versions.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { TokenClaims } from "../../auth/index.ts";

/** Hex SHA-256 of a token: the only form of a token that is stored or sent anywhere. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

const tokenHash = z.string().regex(/^[0-9a-f]{64}$/);

const tokenClaims = z.object({
  kind: z.enum(["jwt", "api-key"]),
  id: z.string(),
  subject: z.string(),
  roles: z.array(z.string()),
  audience: z.array(z.string()),
  issuedAt: z.number(),
  expiresAt: z.number(),
});

/** The snapshot of positive decisions that `TokenVerifier.snapshot()` returns: JSON-serialisable. */
export interface PersistedDecisions {
  readonly version: 1;
  /** Ms since the epoch, by the verifier's clock. */
  readonly savedAt: number;
  /** `hash` is the hex SHA-256 of the token; `claims.expiresAt` (unix seconds) bounds the entry. */
  readonly entries: readonly { readonly hash: string; readonly claims: TokenClaims }[];
}

const persistedDecisions = z.object({
  version: z.literal(1),
  savedAt: z.number(),
  entries: z.array(z.unknown()),
});
const persistedEntry = z.object({ hash: tokenHash, claims: tokenClaims });

/**
 * The valid entries of a snapshot read back from disk; an unknown version or shape yields none, a
 * malformed entry is skipped.
 */
export function parsePersisted(value: unknown): { hash: string; claims: TokenClaims }[] {
  const parsed = persistedDecisions.safeParse(value);
  if (!parsed.success) return [];
  const entries: { hash: string; claims: TokenClaims }[] = [];
  for (const raw of parsed.data.entries) {
    const entry = persistedEntry.safeParse(raw);
    if (entry.success) entries.push(entry.data);
  }
  return entries;
}

/** What Redis holds under a token's hash: the claims, and until when (ms) the decision may be served without asking again. */
export interface SharedDecision {
  readonly claims: TokenClaims;
  readonly freshUntil: number;
}

const sharedDecision = z.object({ v: z.literal(1), claims: tokenClaims, freshUntil: z.number() });

export function encodeShared(decision: SharedDecision): string {
  return JSON.stringify({ v: 1, claims: decision.claims, freshUntil: decision.freshUntil });
}

/** Throws `GarbageError` for anything that is not a decision this version wrote. */
export function decodeShared(raw: string): SharedDecision {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new GarbageError("the shared cache holds something that is not JSON", { cause: error });
  }
  const parsed = sharedDecision.safeParse(json);
  if (!parsed.success) throw new GarbageError("the shared cache holds something that is not a decision", { cause: parsed.error });
  return { claims: parsed.data.claims, freshUntil: parsed.data.freshUntil };
}

/** A value read from the shared cache that this version cannot use. */
export class GarbageError extends Error {
  override readonly name = "GarbageError";
}
