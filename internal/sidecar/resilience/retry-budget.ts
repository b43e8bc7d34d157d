// The retry budget for one target domain, Linkerd/Envoy style: retries may add at most `ratio`
// of the original calls, plus a floor of minRetriesPerSecond so that a quiet caller can still
// retry. Counted over a constant-size rolling window.
import type { RetryPolicy } from "../../policy/index.ts";
import { SYSTEM_CLOCK, type Clock } from "./clock.ts";
import { RollingCounts } from "./rolling-window.ts";

export interface RetryBudgetOptions {
  readonly clock?: Clock;
}

const REQUESTS = 0;
const RETRIES = 1;

/**
 * Counts original calls (`recordRequest()`) and retries over the budget's `windowMs`, and allows
 * a retry while retriesInWindow < ratio × requestsInWindow + minRetriesPerSecond × windowMs / 1000.
 * `tryRetry()` checks and consumes one retry; `canRetry()` only checks. The window is bucketed (see
 * RollingCounts), so a call stops counting between 0.9 and 1 window after it was made.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #clock: Clock;
  readonly #window: RollingCounts;

  constructor(budget: RetryPolicy["budget"], options: RetryBudgetOptions = {}) {
    this.#ratio = budget.ratio;
    this.#floor = (budget.minRetriesPerSecond * budget.windowMs) / 1000;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#window = new RollingCounts(budget.windowMs, 2, this.#clock.now());
  }

  /** Counts one original call (not a retry). */
  recordRequest(): void {
    this.#window.add(this.#clock.now(), REQUESTS);
  }

  /** Whether a retry would be allowed now, without consuming it. */
  canRetry(): boolean {
    const now = this.#clock.now();
    return this.#window.total(now, RETRIES) < this.#ratio * this.#window.total(now, REQUESTS) + this.#floor;
  }

  /** Consumes one retry if the budget allows it. */
  tryRetry(): boolean {
    if (!this.canRetry()) return false;
    this.#window.add(this.#clock.now(), RETRIES);
    return true;
  }

  get retriesInWindow(): number {
    return this.#window.total(this.#clock.now(), RETRIES);
  }

  get requestsInWindow(): number {
    return this.#window.total(this.#clock.now(), REQUESTS);
  }
}
