// Fetch against the sidecar with a deadline: the caller's signal and a timer folded into one
// signal, and fetch's failures told apart (the caller aborted, the deadline passed, the sidecar
// cannot be reached) so that each becomes the right error.
import { NagentError } from "../control-plane/errors.ts";
import { abortReason, anySignal, describeFetchError, type FetchFunction } from "../control-plane/transport.ts";
import { SidecarUnavailableError } from "./errors.ts";

/** Where the sidecar is and how to reach it. */
export interface SidecarEndpoint {
  /** The outbound port's URL, without a trailing slash. */
  readonly url: string;
  readonly fetch: FetchFunction;
  /** The deadline of a local API call (and of opening a watch stream). */
  readonly timeoutMs: number;
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

/** The answer's body: JSON when it parses, else the text; undefined when empty. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
