// What the credential check answers, and the audience rule it applies to every accepted token.
import { DEFAULT_AUDIENCE, type TokenClaims, type TokenRejection } from "../../auth/index.ts";

/** Where an accepted credential's claims came from. */
export type DecisionSource =
  /** Verified here just now against the keyring: no network. */
  | "jwt"
  /** This process's cache, within its TTL. */
  | "memory"
  /** The Redis shared by the sidecars: another sidecar (or this one) introspected it. */
  | "redis"
  /** Introspected just now. */
  | "control_plane"
  /** The control plane is unreachable and the down policy is `extend-cache`: a cached positive decision past its cache TTL, but not past the token's expiry and not revoked. */
  | "stale-cache"
  /** The control plane is unreachable and the down policy is `allow`: NOT verified (fail-open). */
  | "down-allow";

/** Why a credential was refused: the token's fault, or `unavailable` when no one could decide. */
export type RefusalReason = TokenRejection | "unavailable";

/** The answer of the credential check. Decision objects are shared between calls: do not mutate them. */
export type Decision =
  | { readonly ok: true; readonly claims: TokenClaims; readonly source: DecisionSource }
  | { readonly ok: false; readonly reason: RefusalReason };

/** A refusal. */
export type Refusal = Extract<Decision, { ok: false }>;

/**
 * The audience rule of the mesh: a token is accepted by a service when its audience names that
 * service's audience, or the mesh-wide audience `nagent` (DEFAULT_AUDIENCE), which every token is
 * issued with unless its issuer narrowed it. Applied after the cache, on every call, so one cached
 * decision serves every audience the token is presented to.
 */
export function admitsAudience(claims: TokenClaims, audience: string): boolean {
  const list = claims.audience;
  for (let i = 0; i < list.length; i++) {
    const named = list[i];
    if (named === audience || named === DEFAULT_AUDIENCE) return true;
  }
  return false;
}

const REASONS: readonly RefusalReason[] = [
  "malformed",
  "unsupported_algorithm",
  "unknown_key",
  "bad_signature",
  "expired",
  "not_yet_valid",
  "wrong_issuer",
  "wrong_audience",
  "revoked",
  "unknown_api_key",
  "unavailable",
];

/** One frozen refusal per reason, so refusing allocates nothing. */
export const REFUSALS: Readonly<Record<RefusalReason, Refusal>> = Object.freeze(
  Object.fromEntries(REASONS.map((reason) => [reason, Object.freeze({ ok: false as const, reason })])) as Record<RefusalReason, Refusal>,
);

/** True for the reasons `TokenRejectedError` and the control plane can give. */
export function isTokenRejection(value: unknown): value is TokenRejection {
  return typeof value === "string" && value !== "unavailable" && (REASONS as readonly string[]).includes(value);
}
