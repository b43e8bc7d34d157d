// execute() end to end on fake time with scripted attempts: retries, backoff, deadlines, signals,
// breaker and outlier integration, fallbacks and the JSON error answers.
import { describe, expect, test } from "bun:test";
import { fromFetchResponse, toFetchResponse } from "../../http1/index.ts";
import type { BreakerState } from "./circuit-breaker.ts";
import { compileResilience, type FailureReason, type FallbackType, type ResilientRequest, type ResilientResult, type RetryEvent } from "./domain-resilience.ts";
import { FakeTime } from "./fake-time.ts";
import { Script, type Step } from "./test-attempts.ts";
import { DOMAIN, policy } from "./test-policies.ts";

const GET: ResilientRequest = { method: "GET", replayable: true };
const POST: ResilientRequest = { method: "POST", replayable: true };

/** Retries with a fixed, predictable wait. */
const RETRY = { maxAttempts: 3, backoff: { type: "constant", initialMs: 100, jitter: "none" } };

function setup(sections: Record<string, unknown> | undefined, random = () => 0.5) {
  const time = new FakeTime(10_000);
  const transitions: [BreakerState, BreakerState, string][] = [];
  const retries: RetryEvent[] = [];
  const ejections: [string, string][] = [];
  const fallbacks: [FallbackType, FailureReason, string][] = [];
  const resilience = compileResilience(DOMAIN, sections === undefined ? undefined : policy(sections), {
    clock: time,
    timers: time,
    random,
    onTransition: (from, to, domain) => transitions.push([from, to, domain]),
    onRetry: (event) => retries.push(event),
    onEjection: (instance, domain) => ejections.push([instance, domain]),
    onFallback: (type, reason, domain) => fallbacks.push([type, reason, domain]),
  });
  const call = async (steps: Step[], request: ResilientRequest = GET) => {
    const script = new Script(time, steps);
    const result = await time.run(resilience.execute(request, script.attempt));
    return { script, result };
  };
  return { time, resilience, transitions, retries, ejections, fallbacks, call };
}

function responseOf(result: ResilientResult): Response {
  if (result.kind !== "response") throw new Error(`expected a response, got ${result.kind}`);
  return toFetchResponse(result.response);
}

async function errorOf(result: ResilientResult) {
  const response = responseOf(result);
  expect(response.headers.get("content-type")).toBe("application/json");
  const body = (await response.json()) as { error: { code: string; message: string; attempts: unknown[] } };
  return { status: response.status, ...body.error };
}

describe("retries", () => {
  test("a GET is retried on 503, on another instance, and the 503's body is cancelled", async () => {
    const { call, retries } = setup({ retry: RETRY });
    const { script, result } = await call([{ status: 503, instance: "a" }, { status: 200, instance: "b", body: "ok" }]);
    expect(result.kind === "response" && result.attempts).toBe(2);
    expect(await responseOf(result).text()).toBe("ok");
    expect(script.responses.map((r) => r.cancelled())).toEqual([true, false]);
    expect(script.seen.map((s) => s.exclude)).toEqual([[], ["a"]]);
    expect(retries).toEqual([{ domain: DOMAIN, attempt: 2, delayMs: 100, after: { instance: "a", outcome: "response", status: 503 } }]);
  });

  test("a GET is retried on a reset", async () => {
    const { call } = setup({ retry: RETRY });
    const { script, result } = await call([{ error: "reset" }, { status: 200 }]);
    expect(script.attempts).toBe(2);
    expect(responseOf(result).status).toBe(200);
  });

  test("a POST is not retried on 503 and gets the 503 as it came", async () => {
    const { call, retries } = setup({ retry: RETRY });
    const { script, result } = await call([{ status: 503, body: "busy" }, { status: 200 }], POST);
    expect(script.attempts).toBe(1);
    const response = responseOf(result);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe("busy");
    expect(retries).toEqual([]);
  });

  test("a POST is retried on 503 with retryNonIdempotent", async () => {
    const { call } = setup({ retry: { ...RETRY, retryNonIdempotent: true } });
    const { script } = await call([{ status: 503 }, { status: 200 }], POST);
    expect(script.attempts).toBe(2);
  });

  test("a POST with a body that cannot be replayed is retried on a connect failure only", async () => {
    const { call } = setup({ retry: { ...RETRY, retryNonIdempotent: true } });
    const once: ResilientRequest = { method: "POST", replayable: false };
    expect((await call([{ error: "connect" }, { status: 201 }], once)).script.attempts).toBe(2);
    expect((await call([{ error: "reset" }, { status: 201 }], once)).script.attempts).toBe(1);
    expect((await call([{ status: 503 }, { status: 201 }], once)).script.attempts).toBe(1);
  });

  test("maxAttempts is respected; failing to the end lists every attempt in a 502", async () => {
    const { call } = setup({ retry: RETRY });
    const { script, result } = await call([{ error: "reset" }]);
    expect(script.attempts).toBe(3);
    const error = await errorOf(result);
    expect(error).toMatchObject({ status: 502, code: "upstream_failed" });
    expect(error.message).toBe(
      `3 attempts: #1 reset by i1; #2 reset by i2; #3 reset by i3 to ${DOMAIN} failed; all 3 attempts allowed were made`,
    );
    expect(error.attempts).toEqual([
      { instance: "i1", outcome: "reset" },
      { instance: "i2", outcome: "reset" },
      { instance: "i3", outcome: "reset" },
    ]);
  });

  test("a 503 on every attempt is passed on as it came when there is no fallback", async () => {
    const { call } = setup({ retry: RETRY });
    const { script, result } = await call([{ status: 503 }]);
    expect(script.attempts).toBe(3);
    expect(responseOf(result).status).toBe(503);
    expect(script.responses.map((r) => r.cancelled())).toEqual([true, true, false]);
  });

  test("a status the policy does not list is not retried", async () => {
    const { call } = setup({ retry: RETRY });
    expect((await call([{ status: 500 }, { status: 200 }])).script.attempts).toBe(1);
    expect((await call([{ status: 404 }, { status: 200 }])).script.attempts).toBe(1);
  });

  test("a rejected attempt counts as a reset", async () => {
    const { time, resilience } = setup({ retry: RETRY });
    let attempts = 0;
    const result = await time.run(
      resilience.execute(GET, async () => {
        if (++attempts === 1) throw new TypeError("fetch failed");
        return { kind: "response", response: fromFetchResponse(new Response("ok")), instance: "a" };
      }),
    );
    expect(attempts).toBe(2);
    expect(responseOf(result).status).toBe(200);
  });
});

describe("backoff and deadlines", () => {
  test("constant backoff waits initialMs between attempts", async () => {
    const { call } = setup({ retry: RETRY });
    const { script } = await call([{ error: "reset" }]);
    expect(script.seen.map((s) => s.at - 10_000)).toEqual([0, 100, 200]);
  });

  test("exponential backoff with jitter draws from the injected random", async () => {
    const { call, retries } = setup(
      { retry: { maxAttempts: 4, backoff: { type: "exponential", initialMs: 100, multiplier: 2, jitter: "full" } } },
      () => 0.5,
    );
    const { script } = await call([{ error: "reset" }]);
    expect(retries.map((r) => r.delayMs)).toEqual([50, 100, 200]);
    expect(script.seen.map((s) => s.at - 10_000)).toEqual([0, 50, 150, 350]);
  });

  test("the deadline aborts the attempt in flight: 504 with the attempts listed", async () => {
    const { call } = setup({ timeoutMs: 250, retry: { ...RETRY, maxAttempts: 5, perTryTimeoutMs: 100, backoff: { type: "constant", initialMs: 10, jitter: "none" } } });
    const { script, result } = await call([{ hang: "reject" }]);
    expect(script.seen.map((s) => s.at - 10_000)).toEqual([0, 110, 220]);
    expect(script.seen.every((s) => s.signal.aborted)).toBe(true);
    const error = await errorOf(result);
    expect(error).toMatchObject({ status: 504, code: "timeout" });
    expect(error.message).toBe(`${DOMAIN} did not answer within the 250 ms deadline (3 attempts: #1 timed out; #2 timed out; #3 timed out)`);
    expect(error.attempts).toHaveLength(3);
  });

  test("no retry starts when the backoff would outlast the deadline", async () => {
    const { call } = setup({ timeoutMs: 250, retry: { ...RETRY, backoff: { type: "constant", initialMs: 200, jitter: "none" } } });
    const { script, result } = await call([{ error: "reset" }]);
    expect(script.seen.map((s) => s.at - 10_000)).toEqual([0, 200]);
    const error = await errorOf(result);
    expect(error.code).toBe("upstream_failed");
    expect(error.message).toEndWith("the deadline leaves no time for another attempt");
  });

  test("the per-try timeout aborts the attempt's signal; the timeout is retried", async () => {
    const { call } = setup({ retry: { ...RETRY, perTryTimeoutMs: 100 } });
    const { script, result } = await call([{ hang: "timeout" }, { status: 200 }]);
    expect(script.attempts).toBe(2);
    expect(script.seen[0]?.signal.aborted).toBe(true);
    expect((script.seen[0]?.signal.reason as DOMException).name).toBe("TimeoutError");
    expect(script.seen[1]?.signal.aborted).toBe(false);
    expect(script.seen[1]?.at).toBe(10_000 + 100 + 100);
    expect(responseOf(result).status).toBe(200);
  });

  test("a per-try timeout on the last attempt is a 504", async () => {
    const { call } = setup({ retry: { ...RETRY, maxAttempts: 2, perTryTimeoutMs: 100 } });
    const { result } = await call([{ hang: "reject" }]);
    expect(await errorOf(result)).toMatchObject({ status: 504, code: "timeout" });
  });

  test("no timer is left behind after a call", async () => {
    const { call, time } = setup({ timeoutMs: 1000, retry: { ...RETRY, perTryTimeoutMs: 500 } });
    await call([{ status: 503 }, { status: 200 }]);
    expect(time.pendingTimers).toBe(0);
  });
});

describe("the caller's signal", () => {
  test("an abort during the backoff wait stops retrying", async () => {
    const { time, resilience } = setup({ retry: { ...RETRY, backoff: { type: "constant", initialMs: 1000, jitter: "none" } } });
    const caller = new AbortController();
    const script = new Script(time, [{ status: 503 }, { status: 200 }]);
    time.setTimeout(() => caller.abort(), 500, undefined);
    const result = await time.run(resilience.execute({ ...GET, cancel: caller.signal }, script.attempt));
    expect(script.attempts).toBe(1);
    expect(time.now() - 10_000).toBe(500);
    expect(await errorOf(result)).toMatchObject({ status: 499, code: "cancelled" });
  });

  test("an abort during an attempt reaches the attempt's signal, with or without timeouts", async () => {
    for (const sections of [{ retry: RETRY }, { timeoutMs: 5000, retry: { ...RETRY, perTryTimeoutMs: 1000 } }]) {
      const { time, resilience, fallbacks } = setup({ ...sections, fallback: { type: "static", status: 503 } });
      const caller = new AbortController();
      const script = new Script(time, [{ hang: "reject" }]);
      time.setTimeout(() => caller.abort(new Error("gone")), 50, undefined);
      const result = await time.run(resilience.execute({ ...GET, cancel: caller.signal }, script.attempt));
      expect(script.attempts).toBe(1);
      expect(script.seen[0]?.signal.aborted).toBe(true);
      expect(responseOf(result).status).toBe(499); // no fallback for a caller who left
      expect(fallbacks).toEqual([]);
    }
  });

  test("an already aborted caller gets no attempt", async () => {
    const { time, resilience } = setup({ retry: RETRY });
    const script = new Script(time, [{ status: 200 }]);
    const result = await time.run(resilience.execute({ ...GET, cancel: AbortSignal.abort() }, script.attempt));
    expect(script.attempts).toBe(0);
    expect(responseOf(result).status).toBe(499);
  });
});

describe("circuit breaker and outlier detection", () => {
  test("an open breaker answers 503 circuit_open without an attempt, then lets a probe through after openMs", async () => {
    const { call, time, transitions, resilience } = setup({ circuitBreaker: { trip: "consecutiveFailures >= 2", openMs: 1000 } });
    await call([{ status: 500 }]);
    expect(resilience.breakerState).toBe("closed");
    await call([{ error: "connect" }]);
    expect(resilience.breakerState).toBe("open");
    const refused = await call([{ status: 200 }]);
    expect(refused.script.attempts).toBe(0);
    expect(refused.result.kind === "response" && refused.result.attempts).toBe(0);
    const error = await errorOf(refused.result);
    expect(error).toMatchObject({ status: 503, code: "circuit_open", attempts: [] });
    expect(error.message).toBe(`the circuit breaker for ${DOMAIN} is open; the call was not sent`);
    time.advance(1000);
    const probe = await call([{ status: 200 }]);
    expect(probe.script.attempts).toBe(1);
    expect(resilience.breakerState).toBe("closed");
    expect(transitions).toEqual([
      ["closed", "open", DOMAIN],
      ["open", "half-open", DOMAIN],
      ["half-open", "closed", DOMAIN],
    ]);
  });

  test("failureStatusCodes decides what the breaker counts; retries stop when it opens", async () => {
    const { call, resilience } = setup({ retry: { ...RETRY, maxAttempts: 5 }, circuitBreaker: { trip: "consecutiveFailures >= 2", failureStatusCodes: [503] } });
    await call([{ status: 500 }, { status: 500 }]);
    expect(resilience.breakerState).toBe("closed");
    const { script, result } = await call([{ status: 503 }]);
    expect(script.attempts).toBe(2);
    expect(resilience.breakerState).toBe("open");
    expect(responseOf(result).status).toBe(503);
  });

  test("a breaker that opens during the backoff wait ends the call as circuit_open", async () => {
    const { time, resilience } = setup({ retry: RETRY, circuitBreaker: { trip: "consecutiveFailures >= 2" } });
    const slow = new Script(time, [{ error: "reset" }]);
    const other = new Script(time, [{ error: "reset" }]);
    const first = resilience.execute(GET, slow.attempt);
    await time.run(new Promise((resolve) => setImmediate(resolve)));
    // While the first call waits 100 ms, a second call's failure opens the breaker.
    const second = time.run(resilience.execute({ ...GET, replayable: false }, other.attempt));
    const [a] = await Promise.all([time.run(first), second]);
    expect(slow.attempts).toBe(1);
    const error = await errorOf(a);
    expect(error).toMatchObject({ status: 503, code: "circuit_open" });
    expect(error.message).toStartWith(`the circuit breaker for ${DOMAIN} opened before attempt #2`);
  });

  test("outlier detection ejects after N failures; exclude holds ejected and already-tried instances", async () => {
    const { call, resilience, ejections } = setup({ retry: RETRY, outlierDetection: { consecutiveFailures: 2, maxEjectionPercent: 50 } });
    resilience.setInstances(["a", "b", "c", "d"]);
    await call([{ status: 502, instance: "a" }, { status: 502, instance: "a" }, { status: 200, instance: "b" }]);
    expect(ejections).toEqual([["a", DOMAIN]]);
    const { script } = await call([{ error: "reset", instance: "b" }, { status: 200, instance: "c" }]);
    expect(script.seen.map((s) => s.exclude)).toEqual([["a"], ["a", "b"]]);
    expect(resilience.snapshot().ejected).toEqual(["a"]);
  });

  test("outlier detection counts 5xx, not the breaker's failure list", async () => {
    const { call, ejections, resilience } = setup({ outlierDetection: { consecutiveFailures: 1 }, circuitBreaker: { failureStatusCodes: ["4xx"] } });
    resilience.setInstances(["a", "b"]);
    await call([{ status: 404, instance: "a" }]);
    expect(ejections).toEqual([]);
    await call([{ status: 500, instance: "a" }]);
    expect(ejections).toEqual([["a", DOMAIN]]);
  });
});

describe("fallbacks", () => {
  const STATIC = { type: "static", status: 503, headers: { "retry-after": "5" }, body: { error: { code: "busy" } } };

  test("static: the policy's status, headers and JSON body, with x-nagent-fallback", async () => {
    const { call, fallbacks } = setup({ retry: RETRY, fallback: STATIC });
    const { script, result } = await call([{ error: "reset" }]);
    expect(script.attempts).toBe(3);
    expect(result.kind === "response" && result.fallback).toBe("static");
    const response = responseOf(result);
    expect(response.status).toBe(503);
    expect(response.headers.get("x-nagent-fallback")).toBe("static");
    expect(response.headers.get("retry-after")).toBe("5");
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ error: { code: "busy" } });
    expect(fallbacks).toEqual([["static", "upstream_failed", DOMAIN]]);
  });

  test("static replaces a failure-class response (cancelling its body) but not a 404", async () => {
    const { call } = setup({ fallback: STATIC });
    const failed = await call([{ status: 500 }]);
    expect(responseOf(failed.result).headers.get("x-nagent-fallback")).toBe("static");
    expect(failed.script.responses[0]?.cancelled()).toBe(true);
    const missing = await call([{ status: 404 }]);
    expect(responseOf(missing.result).status).toBe(404);
    expect(responseOf(missing.result).headers.get("x-nagent-fallback")).toBeNull();
  });

  test("static applies when the breaker is open, no instance is left, or the deadline passes", async () => {
    const { call, fallbacks } = setup({ timeoutMs: 100, circuitBreaker: { trip: "consecutiveFailures >= 2" }, fallback: STATIC });
    await call([{ error: "no_instance" }]);
    await call([{ hang: "timeout" }]);
    await call([{ error: "reset" }]);
    await call([{ status: 200 }]);
    expect(fallbacks.map(([, reason]) => reason)).toEqual(["no_healthy_instance", "timeout", "upstream_failed", "circuit_open"]);
  });

  test("static: every fallback answer carries the whole body", async () => {
    const { call } = setup({ fallback: STATIC });
    for (let i = 0; i < 3; i++) {
      expect(await responseOf((await call([{ error: "connect" }])).result).json()).toEqual({ error: { code: "busy" } });
    }
  });

  test("static: a string body with a content-type is sent as it is", async () => {
    const { call } = setup({ fallback: { type: "static", status: 200, headers: { "content-type": "text/plain" }, body: "later" } });
    const response = responseOf((await call([{ error: "connect" }])).result);
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(await response.text()).toBe("later");
  });

  test("domain: the caller is told where to route", async () => {
    const { call, fallbacks } = setup({ retry: RETRY, fallback: { type: "domain", domain: "execution-backup" } });
    const { result } = await call([{ status: 503 }]);
    expect(result).toEqual({ kind: "fallback-domain", domain: "execution-backup", attempts: 3 });
    expect(fallbacks).toEqual([["domain", "upstream_failed", DOMAIN]]);
  });

  test("cache: serves the last good GET with x-nagent-fallback, never one maxAgeMs old", async () => {
    const { call, time, fallbacks, resilience } = setup({ fallback: { type: "cache", maxAgeMs: 60_000 } });
    const request: ResilientRequest = { ...GET, cacheKey: "/items?page=1" };
    const good = await call([{ status: 200, body: "items", headers: { "content-type": "text/plain" } }], request);
    expect(await responseOf(good.result).text()).toBe("items");
    expect(resilience.snapshot().cachedResponses).toBe(1);
    time.advance(59_999);
    const served = await call([{ error: "reset" }], request);
    expect(served.result.kind === "response" && served.result.fallback).toBe("cache");
    const response = responseOf(served.result);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-nagent-fallback")).toBe("cache");
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(response.headers.get("age")).toBe("59");
    expect(await response.text()).toBe("items");
    time.advance(1);
    const stale = await call([{ error: "reset" }], request);
    expect(await errorOf(stale.result)).toMatchObject({ status: 502, code: "upstream_failed" });
    expect(fallbacks).toEqual([["cache", "upstream_failed", DOMAIN]]);
  });

  test("cache: only GETs with a cache key are remembered, only 2xx, and other keys miss", async () => {
    const { call, resilience } = setup({ fallback: { type: "cache" } });
    await (responseOf((await call([{ status: 200 }], { ...POST, cacheKey: "/a" })).result)).text();
    await (responseOf((await call([{ status: 200 }], GET)).result)).text();
    await (responseOf((await call([{ status: 204 }], { ...GET, cacheKey: "/b" })).result)).text();
    await (responseOf((await call([{ status: 301 }], { ...GET, cacheKey: "/c" })).result)).text();
    expect(resilience.snapshot().cachedResponses).toBe(1);
    const miss = await call([{ error: "reset" }], { ...GET, cacheKey: "/a" });
    expect((await errorOf(miss.result)).code).toBe("upstream_failed");
    const hit = await call([{ error: "reset" }], { ...GET, cacheKey: "/b" });
    expect(responseOf(hit.result).status).toBe(204);
  });
});

describe("JSON errors and no policy", () => {
  test("without a policy: one attempt, errors become JSON, responses pass as they came", async () => {
    const { call, resilience } = setup(undefined);
    const reset = await call([{ error: "reset" }, { status: 200 }]);
    expect(reset.script.attempts).toBe(1);
    expect(reset.script.seen[0]?.exclude).toEqual([]);
    const error = await errorOf(reset.result);
    expect(error).toEqual({
      status: 502,
      code: "upstream_failed",
      message: `1 attempt: #1 reset by i1 to ${DOMAIN} failed; retries are off`,
      attempts: [{ instance: "i1", outcome: "reset" }],
    });
    expect(await errorOf((await call([{ error: "no_instance", instance: undefined as unknown as string }])).result)).toMatchObject({
      status: 503,
      code: "no_healthy_instance",
    });
    expect(responseOf((await call([{ status: 503 }])).result).status).toBe(503);
    expect(resilience.breakerState).toBeUndefined();
    expect(resilience.snapshot()).toEqual({ domain: DOMAIN, breaker: null, retries: null, ejected: [], cachedResponses: 0 });
  });

  test("without a retry section, a call that cannot connect goes at once to the other instances, POST and unreplayable bodies included", async () => {
    const { call, retries, time } = setup(undefined);
    const started = time.now();
    const { script, result } = await call([{ error: "connect", instance: "a" }, { status: 201, instance: "b" }], { method: "POST", replayable: false });
    expect(script.attempts).toBe(2);
    expect(script.seen.map((s) => s.exclude)).toEqual([[], ["a"]]);
    expect(responseOf(result).status).toBe(201);
    expect(time.now()).toBe(started);
    expect(retries).toEqual([{ domain: DOMAIN, attempt: 2, delayMs: 0, after: { instance: "a", outcome: "connect" } }]);

    const refused = await call([{ error: "connect", instance: "a" }, { error: "connect", instance: "b" }, { error: "connect", instance: "c" }, { status: 200 }]);
    expect(refused.script.attempts).toBe(3);
    expect(await errorOf(refused.result)).toMatchObject({
      status: 502,
      code: "upstream_failed",
      message: `3 attempts: #1 connect failure to a; #2 connect failure to b; #3 connect failure to c to ${DOMAIN} failed; no instance accepted a connection in 3 attempts`,
    });
  });

  test("an explicit maxAttempts of 1 means one attempt, even when it cannot connect", async () => {
    const { call } = setup({ retry: { maxAttempts: 1 } });
    const { script, result } = await call([{ error: "connect" }, { status: 200 }]);
    expect(script.attempts).toBe(1);
    expect(await errorOf(result)).toMatchObject({ status: 502, code: "upstream_failed" });
  });

  test("no_healthy_instance is not retried and names the domain", async () => {
    const { call } = setup({ retry: RETRY });
    const { script, result } = await call([{ error: "no_instance" }]);
    expect(script.attempts).toBe(1);
    const error = await errorOf(result);
    expect(error).toMatchObject({ status: 503, code: "no_healthy_instance" });
    expect(error.message).toBe(`${DOMAIN} has no healthy instance (1 attempt: #1 no instance to send to)`);
  });

  test("the 502 message says how many attempts failed and why, for mixed failures", async () => {
    const { call } = setup({ retry: RETRY });
    const { result } = await call([{ error: "connect", instance: "a" }, { status: 503, instance: "b" }, { error: "reset", instance: "c" }]);
    const error = await errorOf(result);
    expect(error.message).toBe(`3 attempts: #1 connect failure to a; #2 503 from b; #3 reset by c to ${DOMAIN} failed; all 3 attempts allowed were made`);
    expect(error.attempts).toEqual([
      { instance: "a", outcome: "connect" },
      { instance: "b", outcome: "response", status: 503 },
      { instance: "c", outcome: "reset" },
    ]);
  });

  test("the retry budget limits retries across calls", async () => {
    const { call, resilience } = setup({ retry: { ...RETRY, budget: { ratio: 0, minRetriesPerSecond: 1, windowMs: 2000 } } });
    const first = await call([{ error: "reset" }]);
    expect(first.script.attempts).toBe(3);
    const second = await call([{ error: "reset" }]);
    expect(second.script.attempts).toBe(1);
    expect((await errorOf(second.result)).message).toEndWith("the retry budget is spent");
    expect(resilience.snapshot().retries).toEqual({ inWindow: 2, requestsInWindow: 2 });
  });
});
