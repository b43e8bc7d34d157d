// Test support: a fake clock with fake timers. Time moves only when a test advances it, or when
// run() finds the code under test waiting on nothing but a timer.
import type { Clock, Timers } from "./clock.ts";

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly fire: () => void;
}

/** A Clock and Timers on virtual time starting at `start`. */
export class FakeTime implements Clock, Timers {
  #now: number;
  #nextId = 1;
  #pending: Pending[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout<A>(callback: (arg: A) => void, ms: number, arg: A): unknown {
    const id = this.#nextId++;
    this.#pending.push({ id, at: this.#now + Math.max(0, ms), fire: () => callback(arg) });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending = this.#pending.filter((p) => p.id !== handle);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#pending.length;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.at > until) break;
      this.#fire(next);
    }
    this.#now = until;
  }

  /** A promise resolved after `ms` of virtual time; rejected if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const handle = this.setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms, undefined);
      const onAbort = () => {
        this.clearTimeout(handle);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Settles `promise`, letting pending work run and jumping time to the next timer whenever
   * nothing else can make progress. Throws if the promise waits on nothing.
   */
  async run<T>(promise: Promise<T>): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    for (;;) {
      await drain();
      if (settled) return watched;
      const next = this.#earliest();
      if (next === undefined) throw new Error("FakeTime.run: the promise waits on nothing but no timer is pending");
      this.#fire(next);
    }
  }

  #earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.#pending) if (best === undefined || p.at < best.at || (p.at === best.at && p.id < best.id)) best = p;
    return best;
  }

  #fire(p: Pending): void {
    this.#pending = this.#pending.filter((q) => q !== p);
    if (p.at > this.#now) this.#now = p.at;
    p.fire();
  }
}

async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
