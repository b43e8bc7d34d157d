// A watch that survives disconnects: it reads GET /v1/watch as Server-Sent Events and, when the
// stream breaks (a member restarts, a proxy cuts an idle connection, the member falls too far
// behind), reconnects with `Last-Event-ID` set to the last `id:` seen, backing off with jitter and
// moving to the next member. The server puts `id:` only on the last event of each revision, so
// after a cut in the middle of a revision the rest of it is sent again; the events of that revision
// already delivered are skipped, and the caller sees every change exactly once, in order.
import { NagentError, UnavailableError, errorFromResponse } from "./errors.ts";
import { ReconnectingWatch } from "./reconnecting.ts";
import { SseIdleError, SseStream } from "./sse.ts";
import { anySignal, describeFetchError, type FetchFunction, type Transport } from "./transport.ts";
import type { WatchEvent } from "./types.ts";

export interface WatchOptions<T = unknown> {
  /** The first revision to deliver. Without it the watch starts after the store's current revision. */
  readonly fromRevision?: number;
  /** Ends the watch (like `close()`). */
  readonly signal?: AbortSignal;
  /** Called once per change, in revision order; the next event waits for a returned promise. */
  readonly onEvent: (event: WatchEvent<T>) => void | Promise<void>;
  /**
   * Called for every failure. With `retrying: true` the watch reconnects by itself; otherwise the
   * watch has ended with this error (a CompactedError means: re-list, then watch from the list's
   * revision + 1).
   */
  readonly onError?: (error: NagentError, info: { readonly retrying: boolean }) => void;
  /** Called whenever a stream is open, first or resumed. */
  readonly onConnect?: (info: { readonly endpoint: string; readonly resumed: boolean }) => void;
  /** Reconnection delays: from `initialMs` (default 100) doubling up to `maxMs` (default 5000), with jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** A stream with nothing at all for this long (the server sends a keepalive every 15 s) is reopened. Default 45 s. */
  readonly idleTimeoutMs?: number;
}

export interface WatchHandle {
  /** Resolves once the watch ends: undefined when closed or aborted, else the error that ended it. Never rejects. */
  readonly done: Promise<NagentError | undefined>;
  /** The last revision delivered in full; a later watch from `revision + 1` continues where this one stopped. */
  readonly revision: number | undefined;
  /** Stops the watch. */
  close(): void;
}

type Outcome =
  | { readonly kind: "stopped" }
  | { readonly kind: "final"; readonly error: NagentError }
  | { readonly kind: "retry"; readonly error: NagentError; readonly connected: boolean };

const DEFAULT_IDLE_MS = 45_000;

/** Transient answers: the member is not serving now, or is behind the revision asked for. */
function isTransient(error: NagentError): boolean {
  return error.status >= 500 || error.status === 408 || error.status === 429 || error.code === "future_revision";
}

export class WatchLoop<T> extends ReconnectingWatch implements WatchHandle {
  readonly done: Promise<NagentError | undefined>;
  /** The last complete revision (the last `id:` seen). */
  private lastId: number | undefined;
  /** Events delivered of the revision after lastId, which has not been completed yet. */
  private partial = { revision: -1, count: 0 };
  /** After a reconnect: how many events of `revision` to skip, having delivered them already. */
  private skip = { revision: -1, count: 0 };
  private from: number | undefined;
  /** Whether the starting revision is settled (given, read from the store, or not readable). */
  private started: boolean;
  private sessions = 0;

  constructor(
    private readonly transport: Transport,
    private readonly prefix: string,
    private readonly options: WatchOptions<T>,
    private readonly fetch: FetchFunction,
  ) {
    super(options);
    this.from = options.fromRevision;
    this.started = options.fromRevision !== undefined;
    this.done = this.start();
  }

  get revision(): number | undefined {
    return this.lastId;
  }

  protected async loop(): Promise<NagentError | undefined> {
    let attempt = 0;
    while (!this.stopped) {
      const endpoint = this.transport.pool.preferred;
      if (endpoint === undefined) return this.fail(new UnavailableError([]));
      const outcome = await this.session(endpoint);
      if (outcome.kind === "stopped" || this.stopped) return undefined;
      if (outcome.kind === "final") return this.fail(outcome.error);
      this.report(outcome.error, true);
      this.transport.pool.markBad(endpoint);
      if (outcome.connected) attempt = 0;
      await this.backOff(attempt++);
    }
    return undefined;
  }

  private resumeQuery(from: number | undefined): { query: string; headers: Record<string, string> } {
    const query = new URLSearchParams({ prefix: this.prefix });
    if (this.lastId !== undefined) return { query: query.toString(), headers: { "last-event-id": String(this.lastId) } };
    const next = this.partial.revision >= 0 ? this.partial.revision : from;
    if (next !== undefined) query.set("fromRevision", String(next));
    return { query: query.toString(), headers: {} };
  }

  private async session(endpoint: string): Promise<Outcome> {
    if (this.stopped) return { kind: "stopped" };
    const from = this.from;
    const resumed = this.sessions++ > 0;
    this.skip = { ...this.partial };
    const controller = new AbortController();
    this.active = controller;
    const combined = anySignal([this.options.signal, controller.signal]);
    const { query, headers } = this.resumeQuery(from);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.transport.timeoutMs);
    let response: Response;
    try {
      response = await this.fetch(`${endpoint}/v1/watch?${query}`, {
        headers: this.transport.headers({ accept: "text/event-stream", ...headers }),
        signal: combined.signal,
      });
    } catch (error) {
      combined.dispose();
      if (this.stopped) return { kind: "stopped" };
      const reason = timedOut ? `no answer within ${this.transport.timeoutMs} ms` : describeFetchError(error);
      return { kind: "retry", error: new UnavailableError([{ endpoint, reason, cause: error }]), connected: false };
    } finally {
      clearTimeout(timer);
    }

    try {
      if (!response.ok || !response.body) {
        const text = await response.text().catch(() => "");
        let body: unknown = text;
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          // Not JSON: the text is the message.
        }
        const error = errorFromResponse(response.status, body, endpoint);
        return isTransient(error) ? { kind: "retry", error, connected: false } : { kind: "final", error };
      }
      return await this.read(new SseStream(response.body, this.options.idleTimeoutMs ?? DEFAULT_IDLE_MS), endpoint, resumed);
    } finally {
      combined.dispose();
      controller.abort();
      this.active = undefined;
    }
  }

  private async read(stream: SseStream, endpoint: string, resumed: boolean): Promise<Outcome> {
    let connected = false;
    const retry = (code: string, message: string, cause?: unknown): Outcome => ({
      kind: "retry",
      error: new NagentError(message, { status: 0, code, endpoint, ...(cause !== undefined ? { cause } : {}) }),
      connected,
    });
    try {
      for (;;) {
        let message;
        try {
          message = await stream.next();
        } catch (error) {
          if (this.stopped) return { kind: "stopped" };
          if (error instanceof SseIdleError) return retry("idle_timeout", `watch stream from ${endpoint}: ${error.message}`, error);
          return retry("disconnected", `watch stream from ${endpoint} broke: ${describeFetchError(error)}`, error);
        }
        if (this.stopped) return { kind: "stopped" };
        if (message === undefined) return retry("stream_ended", `watch stream from ${endpoint} ended`);
        switch (message.event) {
          case "ready": {
            connected = true;
            // A watch "from now" learns where it started, so a reconnect before any event misses nothing.
            const start = (parseJson(message.data) as { fromRevision?: unknown } | undefined)?.fromRevision;
            if (!this.started && typeof start === "number") {
              this.from = start;
              this.started = true;
            }
            this.transport.pool.markGood(endpoint);
            try {
              this.options.onConnect?.({ endpoint, resumed });
            } catch {
              // A failing notification handler must not end the watch.
            }
            break;
          }
          case "put":
          case "delete": {
            const failure = await this.deliver(message.data, message.id, endpoint);
            if (failure) return { kind: "final", error: failure };
            break;
          }
          case "error": {
            const body = parseJson(message.data) as { code?: unknown; message?: unknown } | undefined;
            const code = typeof body?.code === "string" ? body.code : "watch_error";
            const text = typeof body?.message === "string" ? body.message : message.data;
            return retry(code, `watch stream from ${endpoint}: ${text}`);
          }
          default:
            break;
        }
      }
    } finally {
      await stream.cancel();
    }
  }

  /** Hands one event to the caller unless it was delivered before the reconnect; answers a final error if the handler threw. */
  private async deliver(data: string, id: string | undefined, endpoint: string): Promise<NagentError | undefined> {
    const event = parseJson(data) as WatchEvent<T> | undefined;
    if (!event || typeof event.revision !== "number") {
      return new NagentError(`watch stream from ${endpoint} sent an event that is not a change: ${data.slice(0, 200)}`, {
        status: 0,
        code: "bad_event",
        endpoint,
      });
    }
    const seen = this.lastId !== undefined && event.revision <= this.lastId;
    if (!seen && event.revision === this.skip.revision && this.skip.count > 0) {
      this.skip.count--;
    } else if (!seen) {
      try {
        await this.options.onEvent(event);
      } catch (error) {
        return new NagentError(`the watch's onEvent handler failed: ${(error as Error).message}`, {
          status: 0,
          code: "handler_failed",
          endpoint,
          cause: error,
        });
      }
      if (event.revision === this.partial.revision) this.partial.count++;
      else this.partial = { revision: event.revision, count: 1 };
    }
    if (id !== undefined && /^\d+$/.test(id)) {
      this.lastId = Math.max(this.lastId ?? 0, Number(id));
      this.partial = { revision: -1, count: 0 };
      this.skip = { revision: -1, count: 0 };
    }
    return undefined;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
