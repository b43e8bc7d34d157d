// The sidecar's credential check: what the inbound pipeline's authenticate layer calls.
export { REFUSALS, admitsAudience, type Decision, type DecisionSource, type Refusal, type RefusalReason } from "./decision.ts";
export { ControlPlaneUnavailableError } from "./errors.ts";
export { hashToken, type PersistedDecisions } from "./persisted.ts";
export { BY_ID_PREFIX, DECISION_PREFIX, REVOCATION_CHANNEL } from "./shared-cache.ts";
export {
  TokenVerifier,
  type DownPolicy,
  type Introspection,
  type LookupResult,
  type LookupTier,
  type TokenVerifierOptions,
  type VerifierStats,
} from "./verifier.ts";
