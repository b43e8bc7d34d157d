import { describe, expect, test } from "bun:test";
import { backoffDelayMs, failureStatusMatcher, isRetryable, type ResiliencePolicy, type RetryPolicy } from "./resilience.ts";
import { validateResilience } from "./validate.ts";

function valid(value: unknown): ResiliencePolicy {
  const result = validateResilience(value);
  if (!result.ok) throw new Error(`expected a valid policy, got ${result.error.message}`);
  return result.policy;
}

const target = { domain: "execution" };

describe("valid resilience policies", () => {
  test("target alone is a whole policy; absent sections stay absent", () => {
    expect(valid({ target })).toEqual({ target });
  });

  test("empty sections get every default", () => {
    expect(valid({ target, retry: {}, circuitBreaker: {}, outlierDetection: {}, fallback: { type: "cache" } })).toEqual({
      target,
      retry: {
        maxAttempts: 3,
        backoff: { type: "exponential", initialMs: 100, maxMs: 1000, multiplier: 2, jitter: "full" },
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
      fallback: { type: "cache", maxAgeMs: 60_000 },
    });
  });

  test("a fully written policy comes back as written", () => {
    const policy = {
      target: { domain: "communication.eu-1" },
      timeoutMs: 5000,
      retry: {
        maxAttempts: 4,
        perTryTimeoutMs: 1500,
        backoff: { type: "exponential", initialMs: 50, maxMs: 800, multiplier: 3, jitter: "equal" },
        retryOn: { connectFailure: true, reset: false, timeout: false, statusCodes: [429, 503] },
        retryNonIdempotent: true,
        budget: { ratio: 0.1, minRetriesPerSecond: 0, windowMs: 30_000 },
      },
      circuitBreaker: {
        trip: "requests >= 20 && errorRate > 0.5 || consecutiveFailures >= 10",
        windowMs: 60_000,
        openMs: 15_000,
        halfOpenRequests: 3,
        failureStatusCodes: ["5xx", 429],
      },
      outlierDetection: { consecutiveFailures: 3, ejectionMs: 10_000, maxEjectionPercent: 0 },
      fallback: { type: "domain", domain: "communication.eu-2" },
    };
    expect(valid(policy)).toEqual(policy as ResiliencePolicy);
  });

  test("defaults depend on what is written: exponential maxMs is 10 × initialMs, capped at 300000", () => {
    expect(valid({ target, retry: { backoff: { initialMs: 250 } } }).retry?.backoff).toMatchObject({ maxMs: 2500 });
    expect(valid({ target, retry: { backoff: { initialMs: 60_000 } } }).retry?.backoff).toMatchObject({ maxMs: 300_000 });
    expect(valid({ target, retry: { backoff: { type: "constant", initialMs: 200 } } }).retry?.backoff).toEqual({
      type: "constant",
      initialMs: 200,
      jitter: "full",
    });
  });

  test("a static fallback normalises header names to lower case and keeps any JSON body", () => {
    const policy = valid({
      target,
      fallback: { type: "static", status: 503, headers: { "Content-Type": "application/json", "Retry-After": " 5" }, body: { error: { code: "busy" }, n: [1, null, true] } },
    });
    expect(policy.fallback).toEqual({
      type: "static",
      status: 503,
      headers: { "content-type": "application/json", "retry-after": "5" },
      body: { error: { code: "busy" }, n: [1, null, true] },
    });
  });

  test("validating a normalised policy gives it back unchanged", () => {
    for (const input of [
      { target, retry: {}, circuitBreaker: {}, outlierDetection: {}, fallback: { type: "cache" } },
      { target, retry: { backoff: { type: "constant" } }, fallback: { type: "static", status: 200, headers: { "X-A": "1" }, body: "ok" } },
    ]) {
      const once = valid(input);
      expect(valid(once)).toEqual(once);
    }
  });

  test("default lists are fresh copies", () => {
    const a = valid({ target, retry: {}, circuitBreaker: {} });
    a.retry?.retryOn.statusCodes.push(500);
    (a.circuitBreaker?.failureStatusCodes as unknown[]).push(404);
    const b = valid({ target, retry: {}, circuitBreaker: {} });
    expect(b.retry?.retryOn.statusCodes).toEqual([502, 503, 504]);
    expect(b.circuitBreaker?.failureStatusCodes).toEqual(["5xx"]);
  });
});

describe("invalid resilience policies are refused at the exact path", () => {
  const cases: [string, unknown, string, string][] = [
    ["not an object", [], "", "expected a resilience policy object, got a list"],
    ["no target", {}, "target", "expected an object, got nothing"],
    ["target domain upper case", { target: { domain: "Exec" } }, "target.domain", "expected a domain name"],
    ["target domain wrong type", { target: { domain: 7 } }, "target.domain", "got 7"],
    ["unknown top-level field", { target, timeout: 5 }, "timeout", "unknown field; expected one of target, timeoutMs, retry"],
    ["unknown field in target", { target: { domain: "a", port: 1 } }, "target.port", "unknown field"],
    ["unknown field in retry", { target, retry: { attempts: 3 } }, "retry.attempts", "unknown field"],
    ["unknown field in backoff", { target, retry: { backoff: { base: 1 } } }, "retry.backoff.base", "unknown field"],
    ["unknown field in retryOn", { target, retry: { retryOn: { gatewayError: true } } }, "retry.retryOn.gatewayError", "unknown field"],
    ["unknown field in a fallback branch", { target, fallback: { type: "cache", maxAgeMs: 5, vary: [] } }, "fallback.vary", "unknown field; expected one of type, maxAgeMs"],
    ["timeout as text", { target, timeoutMs: "5s" }, "timeoutMs", 'expected a whole number of milliseconds from 1 to 3600000, got "5s"'],
    ["negative timeout", { target, timeoutMs: -5 }, "timeoutMs", "got -5"],
    ["zero timeout", { target, timeoutMs: 0 }, "timeoutMs", "got 0"],
    ["fractional timeout", { target, timeoutMs: 1.5 }, "timeoutMs", "got 1.5"],
    ["timeout above an hour", { target, timeoutMs: 3_600_001 }, "timeoutMs", "got 3600001"],
    ["zero per-try timeout", { target, retry: { perTryTimeoutMs: 0 } }, "retry.perTryTimeoutMs", "got 0"],
    ["per-try timeout above the deadline", { target, timeoutMs: 1000, retry: { perTryTimeoutMs: 2000 } }, "retry.perTryTimeoutMs", "must not exceed timeoutMs (1000), got 2000"],
    ["zero attempts", { target, retry: { maxAttempts: 0 } }, "retry.maxAttempts", "from 1 to 10, got 0"],
    ["eleven attempts", { target, retry: { maxAttempts: 11 } }, "retry.maxAttempts", "got 11"],
    ["attempts as boolean", { target, retry: { maxAttempts: true } }, "retry.maxAttempts", "got true"],
    ["unknown backoff type", { target, retry: { backoff: { type: "linear" } } }, "retry.backoff.type", 'expected one of constant, exponential, got "linear"'],
    ["maxMs below initialMs", { target, retry: { backoff: { initialMs: 500, maxMs: 100 } } }, "retry.backoff.maxMs", "must be at least initialMs (500), got 100"],
    ["zero initialMs", { target, retry: { backoff: { initialMs: 0 } } }, "retry.backoff.initialMs", "got 0"],
    ["multiplier of 1", { target, retry: { backoff: { multiplier: 1 } } }, "retry.backoff.multiplier", "expected a multiplier above 1"],
    ["multiplier on constant backoff", { target, retry: { backoff: { type: "constant", multiplier: 2 } } }, "retry.backoff.multiplier", "applies to exponential backoff only"],
    ["maxMs on constant backoff", { target, retry: { backoff: { type: "constant", maxMs: 2 } } }, "retry.backoff.maxMs", "applies to exponential backoff only"],
    ["unknown jitter", { target, retry: { backoff: { jitter: "random" } } }, "retry.backoff.jitter", "expected one of none, full, equal"],
    ["retryOn flag as text", { target, retry: { retryOn: { reset: "yes" } } }, "retry.retryOn.reset", 'expected true or false, got "yes"'],
    ["404 retried", { target, retry: { retryOn: { statusCodes: [503, 404] } } }, "retry.retryOn.statusCodes[1]", "expected 429 or a status code from 500 to 599, got 404"],
    ["status 600", { target, retry: { retryOn: { statusCodes: [600] } } }, "retry.retryOn.statusCodes[0]", "got 600"],
    ["duplicate status codes", { target, retry: { retryOn: { statusCodes: [502, 503, 502] } } }, "retry.retryOn.statusCodes[2]", "502 is listed twice (first at [0])"],
    ["status codes not a list", { target, retry: { retryOn: { statusCodes: 503 } } }, "retry.retryOn.statusCodes", "expected a list of status codes"],
    ["budget ratio above 1", { target, retry: { budget: { ratio: 1.5 } } }, "retry.budget.ratio", "expected a fraction from 0 to 1, got 1.5"],
    ["negative budget floor", { target, retry: { budget: { minRetriesPerSecond: -1 } } }, "retry.budget.minRetriesPerSecond", "got -1"],
    ["budget window too short", { target, retry: { budget: { windowMs: 10 } } }, "retry.budget.windowMs", "from 1000 to 300000, got 10"],
    ["trip not a string", { target, circuitBreaker: { trip: 5 } }, "circuitBreaker.trip", "expected a trip expression"],
    ["trip with unknown variable", { target, circuitBreaker: { trip: "failurs >= 5" } }, "circuitBreaker.trip", "unknown variable 'failurs' at column 1"],
    ["trip cut short", { target, circuitBreaker: { trip: "requests >= 20 && errorRate >" } }, "circuitBreaker.trip", "expected a number or a variable at column 30"],
    ["trip with a single &", { target, circuitBreaker: { trip: "requests > 1 & failures > 1" } }, "circuitBreaker.trip", "unexpected '&' at column 14"],
    ["trip with a percentage", { target, circuitBreaker: { trip: "errorRate > 50" } }, "circuitBreaker.trip", "errorRate is a fraction"],
    ["trip unbalanced", { target, circuitBreaker: { trip: "(requests > 1" } }, "circuitBreaker.trip", "expected ')' at column 14"],
    ["zero openMs", { target, circuitBreaker: { openMs: 0 } }, "circuitBreaker.openMs", "got 0"],
    ["zero half-open probes", { target, circuitBreaker: { halfOpenRequests: 0 } }, "circuitBreaker.halfOpenRequests", "from 1 to 1000, got 0"],
    ["failure status out of range", { target, circuitBreaker: { failureStatusCodes: [99] } }, "circuitBreaker.failureStatusCodes[0]", 'expected a status code from 100 to 599, "4xx" or "5xx", got 99'],
    ["unknown status class", { target, circuitBreaker: { failureStatusCodes: ["5xx", "6xx"] } }, "circuitBreaker.failureStatusCodes[1]", 'got "6xx"'],
    ["status covered by its class", { target, circuitBreaker: { failureStatusCodes: [503, "5xx"] } }, "circuitBreaker.failureStatusCodes[0]", '503 is already covered by "5xx"'],
    ["duplicate status class", { target, circuitBreaker: { failureStatusCodes: ["5xx", "5xx"] } }, "circuitBreaker.failureStatusCodes[1]", "listed twice"],
    ["ejection above 100%", { target, outlierDetection: { maxEjectionPercent: 101 } }, "outlierDetection.maxEjectionPercent", "expected a percentage from 0 to 100, got 101"],
    ["zero ejection time", { target, outlierDetection: { ejectionMs: 0 } }, "outlierDetection.ejectionMs", "got 0"],
    ["fallback without type", { target, fallback: { status: 503 } }, "fallback.type", "expected one of static, domain, cache, got nothing"],
    ["unknown fallback type", { target, fallback: { type: "retry" } }, "fallback.type", 'got "retry"'],
    ["fallback not an object", { target, fallback: "static" }, "fallback", "expected an object with a type"],
    ["static fallback without status", { target, fallback: { type: "static" } }, "fallback.status", "expected a status code from 200 to 599, got nothing"],
    ["static fallback status 700", { target, fallback: { type: "static", status: 700 } }, "fallback.status", "got 700"],
    ["static fallback status 101", { target, fallback: { type: "static", status: 101 } }, "fallback.status", "got 101"],
    ["bad header name", { target, fallback: { type: "static", status: 503, headers: { "Retry After": "5" } } }, 'fallback.headers["Retry After"]', '"Retry After" is not a valid header name'],
    ["header value with a line break", { target, fallback: { type: "static", status: 503, headers: { "x-a": "1\r\nx-b: 2" } } }, "fallback.headers.x-a", "line breaks"],
    ["header value not a string", { target, fallback: { type: "static", status: 503, headers: { "x-a": 1 } } }, "fallback.headers.x-a", "expected a header value as a string, got 1"],
    ["header repeated in another case", { target, fallback: { type: "static", status: 503, headers: { "X-A": "1", "x-a": "2" } } }, "fallback.headers.x-a", 'repeats header "X-A"'],
    ["header the sidecar sets", { target, fallback: { type: "static", status: 503, headers: { "Content-Length": "2" } } }, "fallback.headers.Content-Length", "set by the sidecar"],
    ["headers as a list", { target, fallback: { type: "static", status: 503, headers: ["a"] } }, "fallback.headers", "expected an object of header names to values"],
    ["body that is not JSON", { target, fallback: { type: "static", status: 503, body: { when: new Date(0) } } }, "fallback.body.when", "expected a JSON value, got a Date object"],
    ["body too large", { target, fallback: { type: "static", status: 503, body: "x".repeat(70_000) } }, "fallback.body", "at most 65536"],
    ["fallback to the target itself", { target, fallback: { type: "domain", domain: "execution" } }, "fallback.domain", "must differ from target.domain (execution)"],
    ["fallback domain invalid", { target, fallback: { type: "domain", domain: "EXEC" } }, "fallback.domain", "expected a domain name"],
    ["cache age zero", { target, fallback: { type: "cache", maxAgeMs: 0 } }, "fallback.maxAgeMs", "got 0"],
  ];
  for (const [name, input, path, message] of cases) {
    test(name, () => {
      const result = validateResilience(input);
      if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.policy)}`);
      expect(result.error.path).toBe(path);
      expect(result.error.kind).toBe("resilience");
      expect(result.error.message).toContain(message);
      expect(result.error.message.startsWith(path === "" ? "" : `${path}: `)).toBe(true);
    });
  }
});

describe("retry helpers", () => {
  const retry = (extra: object = {}): RetryPolicy => {
    const policy = valid({ target, retry: extra }).retry;
    if (policy === undefined) throw new Error("no retry");
    return policy;
  };

  test("connect failures are retried for any method; the rest only for idempotent methods by default", () => {
    const r = retry();
    expect(isRetryable(r, "POST", { kind: "connectFailure" })).toBe(true);
    expect(isRetryable(r, "POST", { kind: "reset" })).toBe(false);
    expect(isRetryable(r, "POST", { kind: "status", status: 503 })).toBe(false);
    expect(isRetryable(r, "PATCH", { kind: "timeout" })).toBe(false);
    for (const method of ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]) {
      expect(isRetryable(r, method, { kind: "reset" })).toBe(true);
    }
    expect(isRetryable(r, "GET", { kind: "status", status: 503 })).toBe(true);
    expect(isRetryable(r, "GET", { kind: "status", status: 500 })).toBe(false);
    const anyMethod = retry({ retryNonIdempotent: true, retryOn: { connectFailure: false, timeout: false } });
    expect(isRetryable(anyMethod, "POST", { kind: "status", status: 502 })).toBe(true);
    expect(isRetryable(anyMethod, "POST", { kind: "connectFailure" })).toBe(false);
    expect(isRetryable(anyMethod, "POST", { kind: "timeout" })).toBe(false);
  });

  test("backoff grows by the multiplier up to maxMs and jitter stays inside its band", () => {
    const exp = retry({ backoff: { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: "none" } }).backoff;
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(exp, n, Math.random))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const constant = retry({ backoff: { type: "constant", initialMs: 70, jitter: "none" } }).backoff;
    expect(backoffDelayMs(constant, 5, Math.random)).toBe(70);
    const full = retry({ backoff: { initialMs: 100, jitter: "full" } }).backoff;
    expect(backoffDelayMs(full, 3, () => 0)).toBe(0);
    expect(backoffDelayMs(full, 3, () => 0.999)).toBe(399);
    const equal = retry({ backoff: { initialMs: 100, jitter: "equal" } }).backoff;
    expect(backoffDelayMs(equal, 3, () => 0)).toBe(200);
    expect(backoffDelayMs(equal, 3, () => 0.999)).toBe(399);
  });

  test("failureStatusMatcher expands classes and single codes", () => {
    const fails = failureStatusMatcher(["5xx", 429]);
    expect([200, 404, 429, 499, 500, 503, 599].map(fails)).toEqual([false, false, true, false, true, true, true]);
    const none = failureStatusMatcher([]);
    expect(none(503)).toBe(false);
  });
});
