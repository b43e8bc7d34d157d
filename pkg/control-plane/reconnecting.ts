// What every watch that survives disconnects shares (the control plane's /v1/watch and the
// sidecar's config watch): closing by call or by signal, a `done` that never rejects, error
// reports that a throwing handler cannot break, and jittered exponential backoff between sessions.
import { NagentError } from "./errors.ts";

/**
 * A delay before attempt `attempt` (0 for the first retry): from `initialMs` doubling up to
 * `maxMs`, drawn between half of that and all of it, so that many clients cut at once do not
 * come back at once.
 */
export function jitteredDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export interface ReconnectingOptions {
  /** Ends the watch (like `close()`). */
  readonly signal?: AbortSignal;
  readonly onError?: (error: NagentError, info: { readonly retrying: boolean }) => void;
  /** Reconnection delays: from `initialMs` (default 100) doubling up to `maxMs` (default 5000), with jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
}

/**
 * The frame of a reconnecting watch: a subclass writes `loop()` (sessions, and when to retry)
 * and calls `start()` at the end of its constructor, once its own fields are set.
 */
export abstract class ReconnectingWatch {
  protected stopped = false;
  /** The session in progress, aborted by close(). */
  protected active: AbortController | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly reconnecting: ReconnectingOptions) {
    const signal = reconnecting.signal;
    if (signal?.aborted) this.stopped = true;
    else signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  close(): void {
    this.stopped = true;
    this.active?.abort();
    this.wake?.();
  }

  /** Runs loop() to its end; resolves with the error that ended the watch, never rejects. */
  protected async start(): Promise<NagentError | undefined> {
    try {
      return await this.loop();
    } catch (error) {
      // Only a bug gets here; `done` still resolves rather than rejects.
      return this.fail(new NagentError(`the watch failed: ${(error as Error).message}`, { status: 0, code: "watch_failed", cause: error }));
    }
  }

  protected abstract loop(): Promise<NagentError | undefined>;

  /** Reports the error that ends the watch, and answers it. */
  protected fail(error: NagentError): NagentError {
    this.report(error, false);
    return error;
  }

  protected report(error: NagentError, retrying: boolean): void {
    try {
      this.reconnecting.onError?.(error, { retrying });
    } catch {
      // A failing error handler must not end the watch.
    }
  }

  /** Waits out the backoff before retry `attempt`; close() ends the wait at once. */
  protected backOff(attempt: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const ms = jitteredDelay(attempt, this.reconnecting.backoff?.initialMs ?? 100, this.reconnecting.backoff?.maxMs ?? 5_000);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
