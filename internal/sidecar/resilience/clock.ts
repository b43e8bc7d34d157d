// Time for the resilience runtime, injected so that tests run on a fake clock. `Clock` reads the
// time; `Timers` schedules the few timers a call needs (deadlines, per-try timeouts, backoff).
// Timer callbacks take an argument so that the runtime passes module-level functions and its
// per-call state instead of allocating a closure per call.

/** A monotonic time source in milliseconds. */
export interface Clock {
  now(): number;
}

/** setTimeout/clearTimeout with one argument for the callback, as the platform's own. */
export interface Timers {
  setTimeout<A>(callback: (arg: A) => void, ms: number, arg: A): unknown;
  clearTimeout(handle: unknown): void;
}

/** performance.now(): monotonic, unaffected by wall-clock changes. */
export const SYSTEM_CLOCK: Clock = { now: () => performance.now() };

/** The platform's timers. */
export const SYSTEM_TIMERS: Timers = {
  setTimeout: (callback, ms, arg) => setTimeout(callback, ms, arg),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
