// The circuit breaker for one target domain: closed → open when the policy's trip expression says
// so, open → half-open after openMs, half-open → closed once its probes succeed, or back to open
// when one fails. The trip expression is compiled once, when the policy is loaded, and evaluated
// over a constant-size rolling window with one reused statistics object.
import { compileTrip, type CircuitBreakerPolicy, type TripPredicate } from "../../policy/index.ts";
import { SYSTEM_CLOCK, type Clock } from "./clock.ts";
import { RollingCounts } from "./rolling-window.ts";

export type BreakerState = "closed" | "open" | "half-open";
export type BreakerOutcome = "success" | "failure";

export interface CircuitBreakerOptions {
  readonly clock?: Clock;
  /** Called on every state change, after it took effect. */
  readonly onTransition?: (from: BreakerState, to: BreakerState) => void;
}

/** What the breaker counts, for status pages. */
export interface BreakerStats {
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  readonly requests: number;
  readonly failures: number;
  readonly errorRate: number;
}

const REQUESTS = 0;
const FAILURES = 1;

/**
 * One domain's circuit breaker. Ask `tryAcquire()` before sending a call and report its end with
 * exactly one `record(outcome, generation)` (or `release(generation)` when it ended without an
 * outcome, e.g. the caller went away), passing the `generation` read right after tryAcquire: every
 * state change starts a new generation, and an outcome from another generation is ignored, so a
 * call admitted before the breaker opened never counts as a probe. Closed, it counts requests and failures over a rolling window of `windowMs` plus
 * failures in a row, and evaluates the trip expression after every recorded outcome (as
 * docs/policies.md says: "after each completed call"); true opens it. Open, it refuses calls for
 * `openMs`, then turns half-open and admits at most `halfOpenRequests` probes: it closes, with a
 * fresh window, once that many probes have succeeded (one, by default), and opens again for
 * another `openMs` as soon as one fails. Without a generation, an outcome counts against the
 * current state (while half-open, only if a probe is out).
 */
export class CircuitBreaker {
  readonly #trip: TripPredicate;
  readonly #openMs: number;
  readonly #probes: number;
  readonly #clock: Clock;
  readonly #onTransition: ((from: BreakerState, to: BreakerState) => void) | undefined;
  readonly #window: RollingCounts;
  // Reused for every evaluation so that recording an outcome allocates nothing.
  readonly #stats = { consecutiveFailures: 0, requests: 0, failures: 0, errorRate: 0 };
  #state: BreakerState = "closed";
  #openUntil = 0;
  #probesInFlight = 0;
  #probesSucceeded = 0;
  #generation = 0;

  constructor(policy: CircuitBreakerPolicy, options: CircuitBreakerOptions = {}) {
    this.#trip = compileTrip(policy.trip);
    this.#openMs = policy.openMs;
    this.#probes = policy.halfOpenRequests;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#onTransition = options.onTransition;
    this.#window = new RollingCounts(policy.windowMs, 2, this.#clock.now());
  }

  /** The current state; an open breaker whose openMs has passed reads (and becomes) half-open. */
  get state(): BreakerState {
    if (this.#state === "open" && this.#clock.now() >= this.#openUntil) this.#halfOpen();
    return this.#state;
  }

  /** Incremented on every state change; read it after tryAcquire to record the call's outcome. */
  get generation(): number {
    if (this.#state === "open" && this.#clock.now() >= this.#openUntil) this.#halfOpen();
    return this.#generation;
  }

  /** Probes admitted while half-open and not yet recorded. */
  get probesInFlight(): number {
    return this.#probesInFlight;
  }

  /** Whether a call may be sent now; true takes a probe slot while half-open. */
  tryAcquire(): boolean {
    switch (this.state) {
      case "closed":
        return true;
      case "open":
        return false;
      case "half-open":
        if (this.#probesInFlight + this.#probesSucceeded >= this.#probes) return false;
        this.#probesInFlight++;
        return true;
    }
  }

  /** Reports how an admitted call ended. */
  record(outcome: BreakerOutcome, generation: number = this.#generation): void {
    if (generation !== this.#generation) return;
    if (this.#state === "closed") {
      const now = this.#clock.now();
      const stats = this.#stats;
      this.#window.add(now, REQUESTS);
      if (outcome === "failure") {
        this.#window.add(now, FAILURES);
        stats.consecutiveFailures++;
      } else {
        stats.consecutiveFailures = 0;
      }
      stats.requests = this.#window.total(now, REQUESTS);
      stats.failures = this.#window.total(now, FAILURES);
      stats.errorRate = stats.requests === 0 ? 0 : stats.failures / stats.requests;
      if (this.#trip(stats)) this.#open(now);
      return;
    }
    // Open: nothing is admitted in an open generation. Half-open with no probe out: a straggler.
    if (this.#state === "open" || this.#probesInFlight === 0) return;
    this.#probesInFlight--;
    if (outcome === "failure") {
      this.#open(this.#clock.now());
    } else if (++this.#probesSucceeded >= this.#probes) {
      this.#close();
    }
  }

  /** Gives back an admitted call's slot without counting it (no upstream outcome to report). */
  release(generation: number = this.#generation): void {
    if (generation !== this.#generation) return;
    if (this.#state === "half-open" && this.#probesInFlight > 0) this.#probesInFlight--;
  }

  /** The state and the window's counts, for status pages. */
  stats(): BreakerStats {
    const state = this.state;
    const now = this.#clock.now();
    const requests = this.#window.total(now, REQUESTS);
    const failures = this.#window.total(now, FAILURES);
    return {
      state,
      consecutiveFailures: this.#stats.consecutiveFailures,
      requests,
      failures,
      errorRate: requests === 0 ? 0 : failures / requests,
    };
  }

  #open(now: number): void {
    const from = this.#state;
    this.#state = "open";
    this.#generation++;
    this.#openUntil = now + this.#openMs;
    this.#probesInFlight = 0;
    this.#probesSucceeded = 0;
    this.#onTransition?.(from, "open");
  }

  #halfOpen(): void {
    this.#state = "half-open";
    this.#generation++;
    this.#probesInFlight = 0;
    this.#probesSucceeded = 0;
    this.#onTransition?.("open", "half-open");
  }

  #close(): void {
    this.#state = "closed";
    this.#generation++;
    this.#probesInFlight = 0;
    this.#probesSucceeded = 0;
    this.#stats.consecutiveFailures = 0;
    this.#window.clear(this.#clock.now());
    this.#onTransition?.("half-open", "closed");
  }
}
