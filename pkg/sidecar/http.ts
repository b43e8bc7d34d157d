// Fetch against the sidecar with a deadline: the caller's signal and a timer folded into one
// signal, and fetch's failures told apart (the caller aborted, the deadline passed, the sidecar
// cannot be reached) so that each becomes the right error.
import { NagentError } from "../control-plane/errors.ts";
import { jitteredDelay } from "../control-plane/reconnecting.ts";
import { abortReason, anySignal, describeFetchError, isConnectionRefused, type FetchFunction } from "../control-plane/transport.ts";
import { SidecarUnavailableError } from "./errors.ts";

/** Where the sidecar is and how to reach it. */
export interface SidecarEndpoint {
  /** The outbound port's URL, without a trailing slash. */
  readonly url: string;
  readonly fetch: FetchFunction;
  /** The deadline of a local API call (and of opening a watch stream). */
  readonly timeoutMs: number;
  /** How long a refused connection is tried again (the sidecar is restarting); 0: never. */
  readonly connectRetryMs: number;
  /** The sidecar's last notice that its port is about to close (see DRAINING_HEADER); 0: none. */
  closesAt: number;
}

/** Sent by a draining sidecar on every answer to its app: the milliseconds until its port closes. */
export const DRAINING_HEADER = "x-nagent-draining";
/**
 * New calls are held from this long before a draining sidecar's port closes until just after:
 * a call sent as the port closes can be cut before the sidecar reads it, and the app could not
 * tell that from a call the sidecar received, so it must not be sent then. Held calls go to the
 * restarted sidecar (a refused connection is tried again). Between the notice and the hold,
 * calls go on as usual: the draining sidecar still serves them.
 */
const HOLD_BEFORE_CLOSE_MS = 250;
const HOLD_AFTER_CLOSE_MS = 50;
/** Longest notice believed (a sidecar's drain delay is at most 5 minutes). */
const LONGEST_NOTICE_MS = 300_000;

const FIRST_RETRY_MS = 25;
const LONGEST_RETRY_MS = 500;

/**
 * fetch, tried again while the sidecar refuses the connection, for up to `connectRetryMs` after
 * the first refusal: backing off from 25 ms to 500 ms with jitter, and never past the call's
 * deadline or the caller's abort. Only a refused connection is tried again: nothing was sent, so
 * that is safe for any method. A call that may have reached the sidecar (reset, timeout) is not,
 * and neither is one whose body is a stream (read by the first try).
 */
export async function fetchRetryingRefused(endpoint: SidecarEndpoint, url: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
  const retryFor = init.body instanceof ReadableStream ? 0 : endpoint.connectRetryMs;
  if (retryFor > 0 && endpoint.closesAt > 0) {
    const now = Date.now();
    // An abort while held falls through: fetch then rejects with it, as for any aborted call.
    if (now >= endpoint.closesAt - HOLD_BEFORE_CLOSE_MS && now < endpoint.closesAt + HOLD_AFTER_CLOSE_MS) await sleepUnlessAborted(endpoint.closesAt + HOLD_AFTER_CLOSE_MS - now, signal);
  }
  let giveUpAt: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await endpoint.fetch(url, init);
      noteClosing(endpoint, response);
      return response;
    } catch (error) {
      if (retryFor <= 0 || signal.aborted || !isConnectionRefused(error)) throw error;
      giveUpAt ??= Date.now() + retryFor;
      const wait = jitteredDelay(attempt, FIRST_RETRY_MS, LONGEST_RETRY_MS);
      if (Date.now() + wait > giveUpAt) throw error;
      if (!(await sleepUnlessAborted(wait, signal))) throw error;
    }
  }
}

/** Remembers when a draining sidecar's port closes, from DRAINING_HEADER on one of its answers. */
function noteClosing(endpoint: SidecarEndpoint, response: Response): void {
  const notice = response.headers.get(DRAINING_HEADER);
  if (notice === null) return;
  const ms = Number(notice);
  if (Number.isFinite(ms) && ms >= 0 && ms <= LONGEST_NOTICE_MS) endpoint.closesAt = Date.now() + ms;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The caller's signal and an optional timer as one signal. */
export class Deadline {
  readonly signal: AbortSignal;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly combined: { signal: AbortSignal; dispose(): void };
  private expired = false;

  constructor(
    private readonly caller: AbortSignal | undefined,
    readonly timeoutMs: number | undefined,
  ) {
    const timeout = new AbortController();
    this.combined = combine(caller, timeoutMs === undefined ? undefined : timeout.signal);
    this.signal = this.combined.signal;
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.expired = true;
        timeout.abort();
      }, timeoutMs);
    }
  }

  /** Whether the timer (not the caller) ended the call. */
  get timedOut(): boolean {
    return this.expired && !this.caller?.aborted;
  }

  /** Whether the caller's own signal ended the call. */
  get callerAborted(): boolean {
    return this.caller?.aborted === true;
  }

  /** Stops the timer; the caller's signal still reaches the call (a body being read). */
  stopTimer(): void {
    clearTimeout(this.timer);
  }

  /** Stops the timer and lets go of the caller's signal. */
  dispose(): void {
    clearTimeout(this.timer);
    this.combined.dispose();
  }

  /**
   * What a failed fetch or body read becomes: the caller's abort reason as it is, `onTimeout()`
   * when the deadline passed, else SidecarUnavailableError naming the failure.
   */
  failure(error: unknown, endpoint: string, onTimeout: () => NagentError): unknown {
    if (this.caller?.aborted) return abortReason(this.caller);
    if (this.timedOut) return onTimeout();
    if (error instanceof NagentError) return error;
    return new SidecarUnavailableError(endpoint, describeFetchError(error), error);
  }
}

/**
 * One signal for the caller's and the timer's. A lone signal is used as it is; two are joined by
 * AbortSignal.any where the runtime has it (it holds its sources weakly, so a long-lived caller
 * signal passed to many calls gathers no listeners), else by listeners removed on dispose.
 */
function combine(caller: AbortSignal | undefined, timer: AbortSignal | undefined): { signal: AbortSignal; dispose(): void } {
  const none = () => {};
  if (timer === undefined && caller !== undefined) return { signal: caller, dispose: none };
  if (caller === undefined && timer !== undefined) return { signal: timer, dispose: none };
  if (caller !== undefined && timer !== undefined && typeof AbortSignal.any === "function") return { signal: AbortSignal.any([caller, timer]), dispose: none };
  return anySignal([caller, timer]);
}

