// Outlier detection for one target domain: per instance, failures in a row eject the instance for
// ejectionMs, within a cap on the share of instances ejected at once. The set of ejected ids is
// kept live so that the request path can hand it to the attempt function without copying it.
import type { OutlierDetectionPolicy } from "../../policy/index.ts";
import { SYSTEM_CLOCK, type Clock } from "./clock.ts";

export interface OutlierDetectorOptions {
  readonly clock?: Clock;
  /** Called each time an instance is ejected. */
  readonly onEjection?: (instance: string) => void;
}

interface InstanceHealth {
  failures: number;
  ejectedUntil: number;
}

/**
 * Tracks the instances of one domain. `record(instance, ok)` after every call to an instance;
 * `consecutiveFailures` failures in a row eject it for `ejectionMs`, after which it returns with a
 * clean record. At most max(1, ⌊instances × maxEjectionPercent / 100⌋) instances are ejected at
 * once, 0 when maxEjectionPercent is 0: rounded down as docs/policies.md says, but at least one (as
 * Envoy does) so that a domain of two or three instances still benefits at the default 50 %.
 * Ejecting a domain's only instance is harmless, because the attempt function reuses an excluded
 * instance when no other is left. An instance that fails while the cap is reached stays counted
 * and is ejected by its next failure once there is room. "Instances" are those last given to
 * `setInstances` plus any recorded since; `setInstances` forgets the others.
 */
export class OutlierDetector {
  readonly #threshold: number;
  readonly #ejectionMs: number;
  readonly #percent: number;
  readonly #clock: Clock;
  readonly #onEjection: ((instance: string) => void) | undefined;
  readonly #instances = new Map<string, InstanceHealth>();
  readonly #ejected = new Set<string>();
  #nextReturn = Infinity;

  constructor(policy: OutlierDetectionPolicy, options: OutlierDetectorOptions = {}) {
    this.#threshold = policy.consecutiveFailures;
    this.#ejectionMs = policy.ejectionMs;
    this.#percent = policy.maxEjectionPercent;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#onEjection = options.onEjection;
  }

  /** Replaces the known instances with `ids` (the registry's healthy set), forgetting the rest. */
  setInstances(ids: readonly string[]): void {
    const keep = new Set(ids);
    for (const id of this.#instances.keys()) {
      if (!keep.has(id)) {
        this.#instances.delete(id);
        this.#ejected.delete(id);
      }
    }
    for (const id of keep) {
      if (!this.#instances.has(id)) this.#instances.set(id, { failures: 0, ejectedUntil: 0 });
    }
  }

  /** Reports one call to `instance`: ok, or a failure (connect, reset, timeout or 5xx). */
  record(instance: string, ok: boolean): void {
    const now = this.#clock.now();
    this.#sweep(now);
    let health = this.#instances.get(instance);
    if (health === undefined) {
      health = { failures: 0, ejectedUntil: 0 };
      this.#instances.set(instance, health);
    }
    if (ok) {
      health.failures = 0;
      return;
    }
    health.failures++;
    if (health.failures < this.#threshold || this.#ejected.has(instance) || this.#ejected.size >= this.maxEjected) return;
    health.failures = 0;
    health.ejectedUntil = now + this.#ejectionMs;
    this.#ejected.add(instance);
    if (health.ejectedUntil < this.#nextReturn) this.#nextReturn = health.ejectedUntil;
    this.#onEjection?.(instance);
  }

  isEjected(instance: string): boolean {
    this.#sweep(this.#clock.now());
    return this.#ejected.has(instance);
  }

  /** The ejected instances, as a new array. */
  ejected(): string[] {
    this.#sweep(this.#clock.now());
    return [...this.#ejected];
  }

  /** The ejected instances as a live set (no copy): valid until the next call into the detector. */
  excluded(): ReadonlySet<string> {
    this.#sweep(this.#clock.now());
    return this.#ejected;
  }

  /** How many instances may be ejected at once, given the instances known now. */
  get maxEjected(): number {
    if (this.#percent === 0) return 0;
    return Math.max(1, Math.floor((this.#instances.size * this.#percent) / 100));
  }

  #sweep(now: number): void {
    if (now < this.#nextReturn) return;
    let next = Infinity;
    for (const id of this.#ejected) {
      const health = this.#instances.get(id);
      if (health === undefined || health.ejectedUntil <= now) {
        this.#ejected.delete(id);
        if (health !== undefined) health.failures = 0;
      } else if (health.ejectedUntil < next) {
        next = health.ejectedUntil;
      }
    }
    this.#nextReturn = next;
  }
}
