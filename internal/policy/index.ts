// Policies the control plane stores and pushes to sidecars: their validated schemas, the authz
// evaluator and the circuit-breaker trip-expression compiler. Pure: no I/O, no runtime-specific
// APIs, so the same code runs in the control plane, the sidecar and on Node.
export { PolicyValidationError, TripExpressionError } from "./errors.ts";
export {
  POLICY_KINDS,
  formatPath,
  isPolicyKind,
  validateAuthz,
  validatePolicy,
  validateResilience,
  type Policy,
  type PolicyKind,
  type PolicyValidation,
  type Validation,
} from "./validate.ts";
export {
  IDEMPOTENT_METHODS,
  RESILIENCE_DEFAULTS,
  backoffDelayMs,
  failureStatusMatcher,
  isRetryable,
  type AttemptOutcome,
  type Backoff,
  type CircuitBreakerPolicy,
  type FallbackPolicy,
  type OutlierDetectionPolicy,
  type ResiliencePolicy,
  type ResiliencePolicyInput,
  type RetryPolicy,
  type StatusClass,
} from "./resilience.ts";
export type { AuthzPolicy, AuthzPolicyInput, AuthzRule } from "./authz.ts";
export {
  authorize,
  compileAuthz,
  type Authorizer,
  type AuthzDecision,
  type AuthzRequest,
  type NamedAuthzPolicy,
} from "./authorize.ts";
export { isCanonicalPath, pathHasPrefix } from "./path-prefix.ts";
export {
  MAX_TRIP_LENGTH,
  TRIP_VARIABLES,
  compileTrip,
  parseTrip,
  type TripComparator,
  type TripNode,
  type TripOperand,
  type TripPredicate,
  type TripStats,
  type TripVariable,
} from "./trip.ts";
export type { JsonValue } from "./fields.ts";
export { domainName } from "./fields.ts";
