// What the calling sidecar does around every call to one target domain: deadline, per-try
// timeout, retries within a budget, circuit breaker, outlier ejection and fallback, compiled once
// per policy change into a DomainResilience whose execute() runs per call.
//
// Written by hand rather than with cockatiel (already a dependency, for the store): the policy's
// breaker trips on a user expression over a rolling window, which cockatiel's breakers (consecutive
// or sampling) cannot express; ejection is per instance of the domain, not per policy; retries draw
// on a budget shared by every call to the domain instead of a per-call count; and the hot path must
// not allocate closures or promises per call beyond the attempt itself, while cockatiel composes
// policies from closures and promises on every execute(). Here a call allocates one state object,
// one context object per attempt (which is also the attempt's cancellation: no AbortController
// unless the attempt asks for a signal) and the timers its timeouts need. Timer callbacks are
// module-level functions, and the caller's cancellation is heard by the call object itself.
//
// Order of the checks, as a linkerd2-proxy stack would read outermost first: the caller's signal,
// the breaker (fail fast before any work), the budget's count of original calls, then per attempt
// the per-try timeout, the attempt, classification into breaker and outlier outcomes, and the retry
// decision (retryable? replayable? attempts left? budget? time before the deadline? breaker not
// open?), the backoff wait, the breaker again at send time (so that no slot is held across a wait,
// nor carried into another breaker state), and at the end the fallback.
import {
  backoffDelayMs,
  failureStatusMatcher,
  isRetryable,
  type AttemptOutcome,
  type FallbackPolicy,
  type ResiliencePolicy,
  type RetryPolicy,
} from "../../policy/index.ts";
import { BodyError, type CancelLink, type Cancellation, type HttpResponse } from "../../http1/index.ts";
import { CircuitBreaker, type BreakerState, type BreakerStats } from "./circuit-breaker.ts";
import { SYSTEM_CLOCK, SYSTEM_TIMERS, type Clock, type Timers } from "./clock.ts";
import { describeAttempts, errorResponse, type AttemptOutcomeLabel, type AttemptRecord, type ResilienceErrorCode } from "./error-response.ts";
import { cachedResponse, compileStaticFallback } from "./fallback.ts";
import { LastGoodResponses } from "./last-good-responses.ts";
import { OutlierDetector } from "./outlier-detector.ts";
import { recordResponse } from "./response-recorder.ts";
import { RetryBudget } from "./retry-budget.ts";

/** One call as the resilience runtime sees it. */
export interface ResilientRequest {
  readonly method: string;
  /** Whether the body can be sent again (no body, or a buffered one). */
  readonly replayable: boolean;
  /** For a GET: the key of its answer in the cache fallback (the path and query). */
  readonly cacheKey?: string;
  /** Tells when the caller went away: an AbortSignal, or the cheaper CancelLink a server request is. */
  readonly cancel?: Cancellation;
}

export interface AttemptContext {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * Cancels the attempt on the per-try timeout, the overall deadline and the caller going away:
   * hand it to the HTTP client. No AbortController is made for it.
   */
  readonly cancel: CancelLink;
  /** The same as an AbortSignal, made on first use (for code that wants one). */
  readonly signal: AbortSignal;
  /** Ejected instances and those already tried in this call; reuse one only if all are excluded. */
  readonly exclude: ReadonlySet<string>;
}

export type AttemptError = "connect" | "reset" | "timeout" | "no_instance";

export type AttemptResult =
  | { readonly kind: "response"; readonly response: HttpResponse; readonly instance: string }
  | { readonly kind: "error"; readonly error: AttemptError; readonly instance?: string; readonly cause?: unknown };

/**
 * Sends the call once to an instance not in ctx.exclude. It should settle promptly when
 * ctx.cancel (or ctx.signal) fires; a rejection counts as a reset (or as a timeout or
 * cancellation when it had fired).
 */
export type Attempt = (ctx: AttemptContext) => Promise<AttemptResult>;

export type ResilientResult =
  | { readonly kind: "response"; readonly response: HttpResponse; readonly attempts: number; readonly fallback?: "static" | "cache" }
  | { readonly kind: "fallback-domain"; readonly domain: string; readonly attempts: number };

export type FallbackType = FallbackPolicy["type"];
/** Why a call ended in its fallback or an error answer. */
export type FailureReason = Exclude<ResilienceErrorCode, "cancelled">;

export interface RetryEvent {
  readonly domain: string;
  /** The attempt about to be made (2 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  /** How the previous attempt ended. */
  readonly after: AttemptRecord;
}

export interface ResilienceOptions {
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** Numbers in [0, 1) for backoff jitter; default Math.random. */
  readonly random?: () => number;
  /** The cache fallback's store; by default a LastGoodResponses with its default limits. */
  readonly cache?: LastGoodResponses;
  readonly onTransition?: (from: BreakerState, to: BreakerState, domain: string) => void;
  readonly onRetry?: (event: RetryEvent) => void;
  readonly onEjection?: (instance: string, domain: string) => void;
  readonly onFallback?: (type: FallbackType, reason: FailureReason, domain: string) => void;
}

/** What a status page shows about one domain's resilience state. */
export interface ResilienceSnapshot {
  readonly domain: string;
  /** null without a circuitBreaker section. */
  readonly breaker: BreakerStats | null;
  /** null without retries. */
  readonly retries: { readonly inWindow: number; readonly requestsInWindow: number } | null;
  readonly ejected: string[];
  readonly cachedResponses: number;
}

/** The compiled resilience of one target domain. */
export interface DomainResilience {
  readonly domain: string;
  /** undefined without a circuitBreaker section. */
  readonly breakerState: BreakerState | undefined;
  /** Runs one call: see compileResilience. */
  execute(request: ResilientRequest, attempt: Attempt): Promise<ResilientResult>;
  /** The domain's current healthy instances, from the registry. */
  setInstances(ids: readonly string[]): void;
  snapshot(): ResilienceSnapshot;
}

/**
 * Compiles a domain's resilience policy (undefined: none) into the breaker, retry budget, outlier
 * detector, cache and fallback it needs, once. execute() then sends a call with at most
 * retry.maxAttempts attempts within timeoutMs, each within perTryTimeoutMs. A call is refused
 * outright while the breaker is open. An attempt counts as a failure (breaker: also a status in
 * failureStatusCodes; outlier detection: 5xx, as docs/policies.md says) or a success, and is
 * retried only when isRetryable allows it, the body is replayable (connect failures excepted),
 * attempts remain, the budget allows, the backoff wait ends before the deadline and the breaker
 * admits it; a retried response's body is cancelled. Without a retry section, an attempt that
 * could not connect is still sent at once to another instance, up to
 * CONNECT_ATTEMPTS_WITHOUT_RETRIES attempts in all: nothing was sent, so it is always safe. A
 * call that ends with the breaker open, no instance, the deadline passed, or a last attempt that
 * failed (an error, or a failure-class status) gets the fallback: static, cache (GET only, if an
 * answer younger than maxAgeMs is stored) or domain. Otherwise a response is returned as it came and an error becomes a JSON
 * answer: 503 circuit_open, 503 no_healthy_instance, 504 timeout, 502 upstream_failed (499
 * cancelled when the caller went away; never falls back). The deadline and per-try timeout cover
 * the wait for the response head, not the body, so streams may outlive them.
 */
export function compileResilience(domain: string, policy: ResiliencePolicy | undefined, options: ResilienceOptions = {}): DomainResilience {
  return new CompiledResilience(domain, policy, options);
}

const NO_EXCLUSIONS: ReadonlySet<string> = new Set();
/** Instances tried, one after another, by a call that cannot connect and has no retry policy. */
export const CONNECT_ATTEMPTS_WITHOUT_RETRIES = 3;
const OUTCOME: Readonly<Record<"connect" | "reset" | "timeout", AttemptOutcome>> = {
  connect: { kind: "connectFailure" },
  reset: { kind: "reset" },
  timeout: { kind: "timeout" },
};
// Outlier detection and a policy without a breaker count 5xx answers as failures.
const SERVER_ERROR = failureStatusMatcher(["5xx"]);
const DEADLINE_PASSED = new DOMException("the call's deadline passed", "TimeoutError");
const ATTEMPT_TIMED_OUT = new DOMException("the attempt's timeout passed", "TimeoutError");

function isSignal(cancel: Cancellation): cancel is AbortSignal {
  return typeof (cancel as AbortSignal).addEventListener === "function";
}

/**
 * One attempt's context, and its cancellation: a CancelLink fired by the call on a timeout or
 * when the caller goes away. An AbortController is made only if the attempt asks for `signal`.
 */
class Context implements AttemptContext, CancelLink {
  onCancel: (() => void) | undefined = undefined;
  cancelled = false;
  cancelReason: unknown = undefined;
  #controller: AbortController | undefined;

  constructor(
    readonly attempt: number,
    readonly exclude: ReadonlySet<string>,
  ) {}

  get cancel(): CancelLink {
    return this;
  }

  get signal(): AbortSignal {
    const controller = (this.#controller ??= new AbortController());
    if (this.cancelled && !controller.signal.aborted) controller.abort(this.cancelReason);
    return controller.signal;
  }

  fire(reason: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.cancelReason = reason;
    const onCancel = this.onCancel;
    this.onCancel = undefined;
    onCancel?.();
    this.#controller?.abort(reason);
  }
}

/** Per-call state, and the listener for the caller's cancellation. */
class Call implements EventListenerObject {
  /** The attempt under way, which timeouts and the caller's going away cancel. */
  context: Context | undefined = undefined;
  deadlineTimer: unknown = undefined;
  perTryTimer: unknown = undefined;
  waitTimer: unknown = undefined;
  wake: (() => void) | undefined = undefined;
  deadlineFired = false;
  perTryFired = false;
  cancelled = false;
  /** Why no further attempt was made. */
  stop = "";
  records: AttemptRecord[] | undefined = undefined;
  tried: string[] | undefined = undefined;
  /** Bound once per call when the caller's cancellation is a CancelLink. */
  onCallerGone: (() => void) | undefined = undefined;

  constructor(
    readonly timers: Timers,
    readonly cancel: Cancellation | undefined,
  ) {}

  handleEvent(): void {
    this.cancelled = true;
    const cancel = this.cancel;
    this.context?.fire(cancel === undefined ? undefined : isSignal(cancel) ? cancel.reason : cancel.cancelReason);
    endWait(this);
  }

  listen(): void {
    const cancel = this.cancel;
    if (cancel === undefined) return;
    if (isSignal(cancel)) cancel.addEventListener("abort", this);
    else cancel.onCancel = this.onCallerGone = () => this.handleEvent();
  }

  unlisten(): void {
    const cancel = this.cancel;
    if (cancel === undefined) return;
    if (isSignal(cancel)) cancel.removeEventListener("abort", this);
    else if (cancel.onCancel === this.onCallerGone) cancel.onCancel = undefined;
  }

  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.waitTimer = this.timers.setTimeout(endWait, ms, this);
    });
  }

  record(instance: string | undefined, outcome: AttemptOutcomeLabel, status: number): AttemptRecord {
    const record: AttemptRecord = outcome === "response" ? { instance: instance ?? null, outcome, status } : { instance: instance ?? null, outcome };
    (this.records ??= []).push(record);
    return record;
  }

  clearTimers(): void {
    if (this.deadlineTimer !== undefined) this.timers.clearTimeout(this.deadlineTimer);
    if (this.perTryTimer !== undefined) this.timers.clearTimeout(this.perTryTimer);
    if (this.waitTimer !== undefined) this.timers.clearTimeout(this.waitTimer);
    this.deadlineTimer = this.perTryTimer = this.waitTimer = undefined;
  }
}

function fireDeadline(call: Call): void {
  call.deadlineTimer = undefined;
  call.deadlineFired = true;
  call.context?.fire(DEADLINE_PASSED);
  endWait(call);
}

function firePerTry(call: Call): void {
  call.perTryTimer = undefined;
  call.perTryFired = true;
  call.context?.fire(ATTEMPT_TIMED_OUT);
}

function endWait(call: Call): void {
  if (call.waitTimer !== undefined) {
    call.timers.clearTimeout(call.waitTimer);
    call.waitTimer = undefined;
  }
  const wake = call.wake;
  call.wake = undefined;
  wake?.();
}

const DISCARDED = new BodyError("the answer was discarded (retried, or replaced by a fallback)");

/** Lets go of an answer's body that nobody will read. */
function cancelBody(response: HttpResponse): void {
  const body = response.body;
  if (body !== null && !(body instanceof Uint8Array)) body.cancel(DISCARDED);
}

class CompiledResilience implements DomainResilience {
  readonly domain: string;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #timeoutMs: number | undefined;
  readonly #perTryMs: number | undefined;
  readonly #retry: RetryPolicy | undefined;
  /** No retry section at all: connect failures alone are tried again (an explicit maxAttempts 1 means one attempt). */
  readonly #connectRetries: boolean;
  readonly #retryStatus: Uint8Array;
  readonly #maxAttemptsReached: string;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #isFailure: (status: number) => boolean;
  readonly #budget: RetryBudget | undefined;
  readonly #detector: OutlierDetector | undefined;
  readonly #fallback: FallbackPolicy | undefined;
  readonly #staticFallback: (() => HttpResponse) | undefined;
  readonly #cache: LastGoodResponses | undefined;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;
  readonly #onFallback: ((type: FallbackType, reason: FailureReason, domain: string) => void) | undefined;

  constructor(domain: string, policy: ResiliencePolicy | undefined, options: ResilienceOptions) {
    this.domain = domain;
    const clock = (this.#clock = options.clock ?? SYSTEM_CLOCK);
    this.#timers = options.timers ?? SYSTEM_TIMERS;
    this.#random = options.random ?? Math.random;
    this.#timeoutMs = policy?.timeoutMs;
    this.#perTryMs = policy?.retry?.perTryTimeoutMs;

    const retry = policy?.retry;
    this.#retry = retry !== undefined && retry.maxAttempts > 1 ? retry : undefined;
    this.#connectRetries = retry === undefined;
    this.#retryStatus = new Uint8Array(600);
    for (const code of this.#retry?.retryOn.statusCodes ?? []) this.#retryStatus[code] = 1;
    this.#maxAttemptsReached = `all ${retry?.maxAttempts ?? 1} attempts allowed were made`;
    this.#budget = this.#retry === undefined ? undefined : new RetryBudget(this.#retry.budget, { clock });

    const onTransition = options.onTransition;
    this.#breaker =
      policy?.circuitBreaker === undefined
        ? undefined
        : new CircuitBreaker(policy.circuitBreaker, {
            clock,
            ...(onTransition && { onTransition: (from: BreakerState, to: BreakerState) => onTransition(from, to, domain) }),
          });
    this.#isFailure = policy?.circuitBreaker === undefined ? SERVER_ERROR : failureStatusMatcher(policy.circuitBreaker.failureStatusCodes);

    const onEjection = options.onEjection;
    this.#detector =
      policy?.outlierDetection === undefined
        ? undefined
        : new OutlierDetector(policy.outlierDetection, {
            clock,
            ...(onEjection && { onEjection: (instance: string) => onEjection(instance, domain) }),
          });

    const fallback = (this.#fallback = policy?.fallback);
    this.#staticFallback = fallback?.type === "static" ? compileStaticFallback(fallback) : undefined;
    this.#cache = fallback?.type === "cache" ? (options.cache ?? new LastGoodResponses({ clock })) : undefined;
    this.#onRetry = options.onRetry;
    this.#onFallback = options.onFallback;
  }

  get breakerState(): BreakerState | undefined {
    return this.#breaker?.state;
  }

  setInstances(ids: readonly string[]): void {
    this.#detector?.setInstances(ids);
  }

  snapshot(): ResilienceSnapshot {
    const budget = this.#budget;
    return {
      domain: this.domain,
      breaker: this.#breaker?.stats() ?? null,
      retries: budget === undefined ? null : { inWindow: budget.retriesInWindow, requestsInWindow: budget.requestsInWindow },
      ejected: this.#detector?.ejected() ?? [],
      cachedResponses: this.#cache?.size ?? 0,
    };
  }

  async execute(request: ResilientRequest, attempt: Attempt): Promise<ResilientResult> {
    const cancel = request.cancel;
    if (cancel !== undefined && (isSignal(cancel) ? cancel.aborted : cancel.cancelled)) return this.#cancelled(0, undefined);
    const breaker = this.#breaker;
    if (breaker !== undefined && !breaker.tryAcquire()) {
      return this.#failed(request, "circuit_open", 0, undefined, `the circuit breaker for ${this.domain} is open; the call was not sent`);
    }
    // The breaker's generation at admission: only outcomes of the same generation count.
    let generation = breaker === undefined ? 0 : breaker.generation;
    let held = breaker !== undefined;
    this.#budget?.recordRequest();
    const timers = this.#timers;
    const call = new Call(timers, cancel);
    const deadline = this.#timeoutMs === undefined ? Infinity : this.#clock.now() + this.#timeoutMs;
    if (this.#timeoutMs !== undefined) call.deadlineTimer = timers.setTimeout(fireDeadline, this.#timeoutMs, call);
    call.listen();
    try {
      let exclude = this.#detector?.excluded() ?? NO_EXCLUSIONS;
      for (let n = 1; ; n++) {
        // One attempt, cancelled by its timeout, the deadline or the caller going away.
        call.perTryFired = false;
        const context = (call.context = new Context(n, exclude));
        const perTry = this.#perTryMs;
        if (perTry !== undefined && perTry < deadline - this.#clock.now()) call.perTryTimer = timers.setTimeout(firePerTry, perTry, call);
        let result: AttemptResult;
        try {
          result = await attempt(context);
        } catch (cause) {
          result = { kind: "error", error: "reset", cause };
        }
        if (call.perTryTimer !== undefined) {
          timers.clearTimeout(call.perTryTimer);
          call.perTryTimer = undefined;
        }
        call.context = undefined;

        // Classify, and report to the breaker and the outlier detector.
        const instance = result.instance;
        const response = result.kind === "response" ? result.response : undefined;
        const status = response === undefined ? 0 : response.status;
        let label: AttemptOutcomeLabel;
        if (response !== undefined) label = "response";
        else if (call.cancelled) label = "cancelled";
        else if (call.deadlineFired || call.perTryFired) label = "timeout";
        else label = (result as { error: AttemptError }).error;
        const failed = label === "response" ? this.#isFailure(status) : label !== "cancelled" && label !== "no_instance";
        if (held) {
          held = false;
          if (label === "cancelled" || label === "no_instance") breaker?.release(generation);
          else breaker?.record(failed ? "failure" : "success", generation);
        }
        if (instance !== undefined && label !== "cancelled" && label !== "no_instance") {
          this.#detector?.record(instance, label === "response" && !SERVER_ERROR(status));
        }

        // A response that no rule retries is the answer; most calls end here.
        if (response !== undefined && this.#retryStatus[status] !== 1) {
          return failed ? this.#failedResponse(request, n, response) : this.#succeeded(request, response, n);
        }

        const delay = this.#retryDelay(request, call, n, label, status, deadline);
        if (delay < 0) {
          if (response !== undefined) return this.#failedResponse(request, n, response);
          call.record(instance, label, status);
          return this.#attemptsFailed(request, call, n, label);
        }

        this.#budget?.tryRetry();
        const record = call.record(instance, label, status);
        if (instance !== undefined) (call.tried ??= []).push(instance);
        if (response !== undefined) cancelBody(response);
        this.#onRetry?.({ domain: this.domain, attempt: n + 1, delayMs: delay, after: record });
        if (delay > 0) await call.wait(delay);
        if (call.cancelled) return this.#cancelled(n, call.records);
        if (call.deadlineFired) return this.#deadlinePassed(request, call, n);
        // The breaker is asked at send time, so that a slot is never held across the wait.
        if (breaker !== undefined) {
          if (!breaker.tryAcquire()) {
            const message = `the circuit breaker for ${this.domain} opened before attempt #${n + 1} (${describeAttempts(call.records ?? [])})`;
            return this.#failed(request, "circuit_open", n, call.records, message);
          }
          generation = breaker.generation;
          held = true;
        }
        exclude = this.#exclusions(call.tried);
      }
    } finally {
      call.clearTimers();
      call.unlisten();
      if (held) breaker?.release(generation);
    }
  }

  /**
   * The wait before the next attempt, or -1 with call.stop saying why there is none.
   */
  #retryDelay(request: ResilientRequest, call: Call, n: number, label: AttemptOutcomeLabel, status: number, deadline: number): number {
    const retry = this.#retry;
    call.stop = "";
    if (label === "cancelled" || label === "no_instance") return -1;
    if (call.deadlineFired) return -1;
    if (retry === undefined) {
      // Without retries, a call that could not connect (nothing was sent) still goes to another
      // instance at once, as Linkerd does: the usual case is an instance that just stopped,
      // before the registry said so. Safe for any method and any body.
      if (this.#connectRetries && label === "connect" && n < CONNECT_ATTEMPTS_WITHOUT_RETRIES) return 0;
      call.stop = this.#connectRetries && label === "connect" ? `no instance accepted a connection in ${n} attempts` : "retries are off";
      return -1;
    }
    const outcome: AttemptOutcome = label === "response" ? { kind: "status", status } : OUTCOME[label];
    if (!isRetryable(retry, request.method, outcome)) {
      call.stop = `the policy does not retry this outcome for ${request.method}`;
      return -1;
    }
    if (!request.replayable && label !== "connect") {
      call.stop = "the request body cannot be sent again";
      return -1;
    }
    if (n >= retry.maxAttempts) {
      call.stop = this.#maxAttemptsReached;
      return -1;
    }
    if (this.#budget !== undefined && !this.#budget.canRetry()) {
      call.stop = "the retry budget is spent";
      return -1;
    }
    const delay = backoffDelayMs(retry.backoff, n, this.#random);
    if (this.#clock.now() + delay >= deadline) {
      call.stop = "the deadline leaves no time for another attempt";
      return -1;
    }
    if (this.#breaker !== undefined && this.#breaker.state === "open") {
      call.stop = "the circuit breaker opened";
      return -1;
    }
    return delay;
  }

  #exclusions(tried: readonly string[] | undefined): ReadonlySet<string> {
    const ejected = this.#detector?.excluded();
    if (tried === undefined) return ejected ?? NO_EXCLUSIONS;
    const exclude = new Set(ejected);
    for (const id of tried) exclude.add(id);
    return exclude;
  }

  #succeeded(request: ResilientRequest, response: HttpResponse, attempts: number): ResilientResult {
    const cache = this.#cache;
    const status = response.status;
    if (cache !== undefined && status >= 200 && status < 300 && request.method === "GET" && request.cacheKey !== undefined) {
      response = recordResponse(response, request.cacheKey, cache);
    }
    return { kind: "response", response, attempts };
  }

  // A last response that failed: the fallback if one applies, else the response as it came.
  #failedResponse(request: ResilientRequest, n: number, response: HttpResponse): ResilientResult {
    if (!this.#isFailure(response.status)) return { kind: "response", response, attempts: n };
    return this.#failed(request, "upstream_failed", n, undefined, "", response);
  }

  #attemptsFailed(request: ResilientRequest, call: Call, n: number, label: AttemptOutcomeLabel): ResilientResult {
    if (label === "cancelled") return this.#cancelled(n, call.records);
    if (call.deadlineFired) return this.#deadlinePassed(request, call, n);
    const list = describeAttempts(call.records ?? []);
    if (label === "no_instance") return this.#failed(request, "no_healthy_instance", n, call.records, `${this.domain} has no healthy instance (${list})`);
    const why = call.stop === "" ? "" : `; ${call.stop}`;
    if (label === "timeout") return this.#failed(request, "timeout", n, call.records, `${this.domain} did not answer in time (${list}${why})`);
    return this.#failed(request, "upstream_failed", n, call.records, `${list} to ${this.domain} failed${why}`);
  }

  #deadlinePassed(request: ResilientRequest, call: Call, n: number): ResilientResult {
    const message = `${this.domain} did not answer within the ${this.#timeoutMs} ms deadline (${describeAttempts(call.records ?? [])})`;
    return this.#failed(request, "timeout", n, call.records, message);
  }

  #cancelled(n: number, records: readonly AttemptRecord[] | undefined): ResilientResult {
    const message = `the caller went away (${describeAttempts(records ?? [])})`;
    return { kind: "response", response: errorResponse("cancelled", message, records ?? []), attempts: n };
  }

  /** The fallback if one applies, else `response` as it came, else the JSON error. */
  #failed(
    request: ResilientRequest,
    reason: FailureReason,
    attempts: number,
    records: readonly AttemptRecord[] | undefined,
    message: string,
    response?: HttpResponse,
  ): ResilientResult {
    const fallback = this.#fallback;
    if (fallback !== undefined) {
      let result: ResilientResult | undefined;
      if (fallback.type === "static") {
        result = { kind: "response", response: (this.#staticFallback as () => HttpResponse)(), attempts, fallback: "static" };
      } else if (fallback.type === "domain") {
        result = { kind: "fallback-domain", domain: fallback.domain, attempts };
      } else if (request.method === "GET" && request.cacheKey !== undefined) {
        const cache = this.#cache as LastGoodResponses;
        const snapshot = cache.recall(request.cacheKey, fallback.maxAgeMs);
        if (snapshot !== undefined) result = { kind: "response", response: cachedResponse(snapshot, cache.now()), attempts, fallback: "cache" };
      }
      if (result !== undefined) {
        if (response !== undefined) cancelBody(response);
        this.#onFallback?.(fallback.type, reason, this.domain);
        return result;
      }
    }
    if (response !== undefined) return { kind: "response", response, attempts };
    return { kind: "response", response: errorResponse(reason, message, records ?? []), attempts };
  }
}
