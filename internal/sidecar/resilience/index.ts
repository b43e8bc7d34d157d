// The sidecar's resilience runtime: what the calling sidecar does around every call to a target
// domain (deadline, retries within a budget, circuit breaker, outlier ejection, fallback),
// compiled once per policy change by compileResilience. Pure TypeScript over the http1 message
// types, AbortController and timers, with time, timers and randomness injected.
// domain-resilience.ts says why this is written by hand rather than with cockatiel.
export { CircuitBreaker, type BreakerOutcome, type BreakerState, type BreakerStats, type CircuitBreakerOptions } from "./circuit-breaker.ts";
export { SYSTEM_CLOCK, SYSTEM_TIMERS, type Clock, type Timers } from "./clock.ts";
export {
  compileResilience,
  type Attempt,
  type AttemptContext,
  type AttemptError,
  type AttemptResult,
  type DomainResilience,
  type FailureReason,
  type FallbackType,
  type ResilienceOptions,
  type ResilienceSnapshot,
  type ResilientRequest,
  type ResilientResult,
  type RetryEvent,
} from "./domain-resilience.ts";
export { ERROR_STATUS, type AttemptOutcomeLabel, type AttemptRecord, type ResilienceErrorCode } from "./error-response.ts";
export { FALLBACK_HEADER } from "./fallback.ts";
export { CACHE_DEFAULTS, LastGoodResponses, type LastGoodResponsesOptions, type ResponseSnapshot } from "./last-good-responses.ts";
export { OutlierDetector, type OutlierDetectorOptions } from "./outlier-detector.ts";
export { RetryBudget, type RetryBudgetOptions } from "./retry-budget.ts";
export { RollingCounts, WINDOW_BUCKETS } from "./rolling-window.ts";
