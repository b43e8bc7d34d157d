// The resilience policy: what the caller's sidecar does around every call to one target domain
// (deadline, retries, circuit breaker, outlier ejection, fallback). Modelled on Dapr's Resiliency
// spec and Istio's DestinationRule; the operator reference is docs/policies.md.
import { z } from "zod";
import { boolean, decimal, domainName, integer, jsonValue, milliseconds, oneOf, section, show, uniqueList } from "./fields.ts";
import { headerMap, statusCode } from "./http-fields.ts";
import { parseTrip } from "./trip.ts";
import { TripExpressionError } from "./errors.ts";

const HOUR_MS = 3_600_000;
const MAX_BACKOFF_MS = 300_000;

/** Defaults that apply when a section is present but a field is left out. */
export const RESILIENCE_DEFAULTS = {
  retry: {
    maxAttempts: 3,
    backoff: { type: "exponential", initialMs: 100, multiplier: 2, jitter: "full", maxMsFactor: 10 },
    retryOn: { connectFailure: true, reset: true, timeout: true, statusCodes: [502, 503, 504] },
    retryNonIdempotent: false,
    budget: { ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 },
  },
  circuitBreaker: {
    trip: "consecutiveFailures >= 5",
    windowMs: 10_000,
    openMs: 30_000,
    halfOpenRequests: 1,
    failureStatusCodes: ["5xx"],
  },
  outlierDetection: { consecutiveFailures: 5, ejectionMs: 30_000, maxEjectionPercent: 50 },
  cacheFallback: { maxAgeMs: 60_000 },
} as const;

/** Methods retried when retryNonIdempotent is false (RFC 9110 idempotent methods). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

const D = RESILIENCE_DEFAULTS;

function multiplier() {
  const expected = (issue: { input?: unknown }) =>
    `expected a multiplier above 1 and at most 10 (type: constant gives a fixed delay), got ${show(issue.input)}`;
  return z.number({ error: expected }).gt(1, { error: expected }).max(10, { error: expected });
}

const backoff = section({
  type: oneOf(["constant", "exponential"]).default(D.retry.backoff.type),
  initialMs: milliseconds(1, 60_000).default(D.retry.backoff.initialMs),
  maxMs: milliseconds(1, MAX_BACKOFF_MS).optional(),
  multiplier: multiplier().optional(),
  jitter: oneOf(["none", "full", "equal"]).default(D.retry.backoff.jitter),
})
  .superRefine((b, ctx) => {
    if (b.type === "constant") {
      for (const field of ["maxMs", "multiplier"] as const) {
        if (b[field] !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [field],
            message: "applies to exponential backoff only; constant backoff always waits initialMs",
            input: b[field],
          });
        }
      }
      return;
    }
    if (b.maxMs !== undefined && b.maxMs < b.initialMs) {
      ctx.addIssue({ code: "custom", path: ["maxMs"], message: `must be at least initialMs (${b.initialMs}), got ${b.maxMs}`, input: b.maxMs });
    }
  })
  .transform((b) =>
    b.type === "constant"
      ? { type: "constant" as const, initialMs: b.initialMs, jitter: b.jitter }
      : {
          type: "exponential" as const,
          initialMs: b.initialMs,
          maxMs: b.maxMs ?? Math.min(b.initialMs * D.retry.backoff.maxMsFactor, MAX_BACKOFF_MS),
          multiplier: b.multiplier ?? D.retry.backoff.multiplier,
          jitter: b.jitter,
        },
  );

// Other 4xx answers say the request itself is wrong; sending it again cannot help.
const RETRY_STATUS = "429 or a status code from 500 to 599";
const retryStatusCodes = uniqueList(
  statusCode(429, 599, RETRY_STATUS).refine((code) => code === 429 || code >= 500, {
    error: (issue) => `expected ${RETRY_STATUS}, got ${show(issue.input)}`,
  }),
  { noun: "status code", allowEmpty: true },
);

const retry = section({
  maxAttempts: integer(1, 10, "a number of attempts (the first included)").default(D.retry.maxAttempts),
  perTryTimeoutMs: milliseconds(1, HOUR_MS).optional(),
  backoff: backoff.prefault({}),
  retryOn: section({
    connectFailure: boolean().default(D.retry.retryOn.connectFailure),
    reset: boolean().default(D.retry.retryOn.reset),
    timeout: boolean().default(D.retry.retryOn.timeout),
    statusCodes: retryStatusCodes.default(() => [...D.retry.retryOn.statusCodes]),
  }).prefault({}),
  retryNonIdempotent: boolean().default(D.retry.retryNonIdempotent),
  budget: section({
    ratio: decimal(0, 1, "a fraction").default(D.retry.budget.ratio),
    minRetriesPerSecond: integer(0, 10_000).default(D.retry.budget.minRetriesPerSecond),
    windowMs: milliseconds(1000, MAX_BACKOFF_MS).default(D.retry.budget.windowMs),
  }).prefault({}),
});

/** A trip expression: validated by parsing it, kept as written for the sidecar to compile. */
function tripExpression() {
  return z.string({ error: (issue) => `expected a trip expression such as "consecutiveFailures >= 5", got ${show(issue.input)}` }).superRefine((text, ctx) => {
    try {
      parseTrip(text);
    } catch (error) {
      if (!(error instanceof TripExpressionError)) throw error;
      ctx.addIssue({ code: "custom", message: error.message, input: text });
    }
  });
}

const STATUS_CLASSES = ["4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
const FAILURE_STATUS = 'a status code from 100 to 599, "4xx" or "5xx"';
const failureStatusMessage = (issue: { input?: unknown }) => `expected ${FAILURE_STATUS}, got ${show(issue.input)}`;

const failureStatusCodes = uniqueList(
  z.union([statusCode(100, 599, FAILURE_STATUS), z.enum(STATUS_CLASSES, { error: failureStatusMessage })], { error: failureStatusMessage }),
  { noun: "status code", allowEmpty: true },
).superRefine((codes, ctx) => {
  codes.forEach((code, index) => {
    if (typeof code !== "number") return;
    const cls = `${Math.floor(code / 100)}xx`;
    if ((codes as readonly unknown[]).includes(cls)) {
      ctx.addIssue({ code: "custom", path: [index], message: `${code} is already covered by "${cls}"`, input: code });
    }
  });
});

const circuitBreaker = section({
  trip: tripExpression().default(D.circuitBreaker.trip),
  windowMs: milliseconds(1000, HOUR_MS).default(D.circuitBreaker.windowMs),
  openMs: milliseconds(1, HOUR_MS).default(D.circuitBreaker.openMs),
  halfOpenRequests: integer(1, 1000).default(D.circuitBreaker.halfOpenRequests),
  failureStatusCodes: failureStatusCodes.default(() => [...D.circuitBreaker.failureStatusCodes]),
});

const outlierDetection = section({
  consecutiveFailures: integer(1, 1000).default(D.outlierDetection.consecutiveFailures),
  ejectionMs: milliseconds(1, HOUR_MS).default(D.outlierDetection.ejectionMs),
  maxEjectionPercent: integer(0, 100, "a percentage").default(D.outlierDetection.maxEjectionPercent),
});

const FALLBACK_TYPES = ["static", "domain", "cache"] as const;

const fallback = z.discriminatedUnion(
  "type",
  [
    section({
      type: z.literal("static"),
      status: statusCode(200, 599),
      headers: headerMap().optional(),
      body: jsonValue(65_536).optional(),
    }),
    section({ type: z.literal("domain"), domain: domainName() }),
    section({ type: z.literal("cache"), maxAgeMs: milliseconds(1, 24 * HOUR_MS).default(D.cacheFallback.maxAgeMs) }),
  ],
  {
    error: (issue) =>
      typeof issue.input === "object" && issue.input !== null && !Array.isArray(issue.input)
        ? `expected one of ${FALLBACK_TYPES.join(", ")}, got ${show((issue.input as { type?: unknown }).type)}`
        : `expected an object with a type (${FALLBACK_TYPES.join(", ")}), got ${show(issue.input)}`,
  },
);

export const resilienceSchema = section(
  {
    target: section({ domain: domainName() }),
    timeoutMs: milliseconds(1, HOUR_MS).optional(),
    retry: retry.optional(),
    circuitBreaker: circuitBreaker.optional(),
    outlierDetection: outlierDetection.optional(),
    fallback: fallback.optional(),
  },
  "a resilience policy object",
).superRefine((policy, ctx) => {
  const perTry = policy.retry?.perTryTimeoutMs;
  if (perTry !== undefined && policy.timeoutMs !== undefined && perTry > policy.timeoutMs) {
    ctx.addIssue({
      code: "custom",
      path: ["retry", "perTryTimeoutMs"],
      message: `must not exceed timeoutMs (${policy.timeoutMs}), got ${perTry}`,
      input: perTry,
    });
  }
  if (policy.fallback?.type === "domain" && policy.fallback.domain === policy.target.domain) {
    ctx.addIssue({
      code: "custom",
      path: ["fallback", "domain"],
      message: `must differ from target.domain (${policy.target.domain}); a fallback to the failing domain cannot help`,
      input: policy.fallback.domain,
    });
  }
});

/** A resilience policy as validated, with every default applied: what sidecars consume. */
export type ResiliencePolicy = z.output<typeof resilienceSchema>;
/** A resilience policy as an operator writes it. */
export type ResiliencePolicyInput = z.input<typeof resilienceSchema>;
export type RetryPolicy = NonNullable<ResiliencePolicy["retry"]>;
export type Backoff = RetryPolicy["backoff"];
export type CircuitBreakerPolicy = NonNullable<ResiliencePolicy["circuitBreaker"]>;
export type OutlierDetectionPolicy = NonNullable<ResiliencePolicy["outlierDetection"]>;
export type FallbackPolicy = NonNullable<ResiliencePolicy["fallback"]>;

/** Why an attempt failed, as far as the retry rule is concerned. */
export type AttemptOutcome =
  | { readonly kind: "connectFailure" | "reset" | "timeout" }
  | { readonly kind: "status"; readonly status: number };

/**
 * Whether an attempt that ended with `outcome` may be retried under `retry` (attempt count and
 * budget aside). A connect failure is retried for any method, since the request never left;
 * resets, per-try timeouts and status codes only for idempotent methods, unless
 * retryNonIdempotent is set.
 */
export function isRetryable(retry: RetryPolicy, method: string, outcome: AttemptOutcome): boolean {
  if (outcome.kind === "connectFailure") return retry.retryOn.connectFailure;
  if (!retry.retryNonIdempotent && !IDEMPOTENT_METHODS.has(method)) return false;
  if (outcome.kind === "status") return retry.retryOn.statusCodes.includes(outcome.status);
  return retry.retryOn[outcome.kind];
}

/**
 * The wait before retry number `retry` (1 for the first retry): initialMs for constant backoff,
 * min(maxMs, initialMs × multiplier^(retry−1)) for exponential, then jittered: "full" draws from
 * [0, d), "equal" from [d/2, d), "none" keeps d. `random` returns numbers in [0, 1).
 */
export function backoffDelayMs(backoff: Backoff, retry: number, random: () => number): number {
  const base =
    backoff.type === "constant"
      ? backoff.initialMs
      : Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, retry - 1));
  switch (backoff.jitter) {
    case "none":
      return base;
    case "full":
      return Math.floor(random() * base);
    case "equal":
      return Math.floor(base / 2 + random() * (base / 2));
  }
}

/**
 * Precomputes a circuit breaker's failureStatusCodes into a lookup: the returned function says
 * whether a response status counts as a failure. Connect failures, resets and timeouts always
 * count; the caller handles those before asking about a status.
 */
export function failureStatusMatcher(codes: CircuitBreakerPolicy["failureStatusCodes"]): (status: number) => boolean {
  const table = new Uint8Array(600);
  for (const code of codes) {
    if (typeof code === "number") table[code] = 1;
    else table.fill(1, code === "4xx" ? 400 : 500, code === "4xx" ? 500 : 600);
  }
  return (status) => table[status] === 1;
}
