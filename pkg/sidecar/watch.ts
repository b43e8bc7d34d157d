// A watch of config keys through the sidecar that survives disconnects. The sidecar's stream
// (GET /v1/config/watch) starts with the current value of every key under the prefix, then
// `event: synced`, then each change; it has no event ids to resume from. So after a reconnect
// (the sidecar restarted, the connection broke) the current values come again, and this loop
// compares them with the values it has already delivered: an unchanged value is skipped, a changed
// one is delivered as a put, and a key it delivered that is missing from the replay is delivered
// as a delete once `synced` arrives. The app sees each change once, whatever the reconnects.
//
// The replay is only trusted from a sidecar that is ready (synced with the control plane, or
// loaded from its cache dir): a sidecar that holds nothing yet would otherwise "delete"
// everything. So each session asks /readyz first and waits, backing off, until it says yes.
import { NagentError, errorFromResponse } from "../control-plane/errors.ts";
import { ReconnectingWatch } from "../control-plane/reconnecting.ts";
import { SseIdleError, SseStream } from "../control-plane/sse.ts";
import { describeFetchError, readBody } from "../control-plane/transport.ts";
import { SidecarUnavailableError } from "./errors.ts";
import { Deadline, type SidecarEndpoint } from "./http.ts";
import type { ConfigWatchEvent } from "./types.ts";

export interface ConfigWatchOptions<T = unknown> {
  /**
   * Called once per change, in order: first a put for each current key under the prefix, then
   * each change as it happens. The next event waits for a returned promise; a handler that
   * throws ends the watch (error code `handler_failed`).
   */
  readonly onEvent: (event: ConfigWatchEvent<T>) => void | Promise<void>;
  /**
   * Called each time the app's view matches the sidecar's copy: after the initial values
   * (`resumed: false`) and after each reconnect's replay (`resumed: true`).
   */
  readonly onSynced?: (info: { readonly revision: number; readonly resumed: boolean }) => void;
  /**
   * Called for every failure. With `retrying: true` the watch reconnects by itself; otherwise it
   * has ended with this error (an invalid prefix, a handler that threw).
   */
  readonly onError?: (error: NagentError, info: { readonly retrying: boolean }) => void;
  /** Ends the watch (like `close()`). */
  readonly signal?: AbortSignal;
  /** Reconnection delays: from `initialMs` (default 100) doubling up to `maxMs` (default 5000), with jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** A stream with nothing at all for this long (the sidecar sends a keepalive every 15 s) is reopened. Default 45 s. */
  readonly idleTimeoutMs?: number;
}

export interface ConfigWatchHandle<T = unknown> {
  /** Resolves once the watch ends: undefined when closed or aborted, else the error that ended it. Never rejects. */
  readonly done: Promise<NagentError | undefined>;
  /** The highest revision seen (of an event or of a `synced`), undefined before the first. */
  readonly revision: number | undefined;
  /** Whether the current stream has passed its `synced` (false while reconnecting). */
  readonly synced: boolean;
  /** The current value of every key under the prefix, as delivered to onEvent. */
  values(): Map<string, T>;
  /** Stops the watch. */
  close(): void;
}

type Outcome =
  | { readonly kind: "stopped" }
  | { readonly kind: "final"; readonly error: NagentError }
  | { readonly kind: "retry"; readonly error: NagentError; readonly synced: boolean };

const DEFAULT_IDLE_MS = 45_000;

function isTransient(error: NagentError): boolean {
  return error.status === 0 || error.status >= 500 || error.status === 408 || error.status === 429;
}

/** The watch behind SidecarClient.watchConfig: one session per stream, reconnecting until closed or a final error. */
export class ConfigWatchLoop<T> extends ReconnectingWatch implements ConfigWatchHandle<T> {
  readonly done: Promise<NagentError | undefined>;
  /** What the app has been given: each key's value and that value's JSON, to compare replays with. */
  private readonly known = new Map<string, { readonly value: T; readonly json: string }>();
  private latest: number | undefined;
  private inSync = false;
  /** Whether any stream reached `synced`: the next one's replay is then a resumption. */
  private syncedBefore = false;

  constructor(
    private readonly endpoint: SidecarEndpoint,
    private readonly prefix: string,
    private readonly options: ConfigWatchOptions<T>,
  ) {
    super(options);
    this.done = this.start();
  }

  get revision(): number | undefined {
    return this.latest;
  }

  get synced(): boolean {
    return this.inSync;
  }

  values(): Map<string, T> {
    return new Map([...this.known].map(([key, entry]) => [key, entry.value]));
  }

  protected async loop(): Promise<NagentError | undefined> {
    let attempt = 0;
    while (!this.stopped) {
      const outcome = await this.session();
      this.inSync = false;
      if (outcome.kind === "stopped" || this.stopped) return undefined;
      if (outcome.kind === "final") return this.fail(outcome.error);
      this.report(outcome.error, true);
      if (outcome.synced) attempt = 0;
      await this.backOff(attempt++);
    }
    return undefined;
  }

  /** One GET whose answer's head must arrive within the local API's deadline; its body is the caller's to read or cancel. */
  private async open(path: string, accept: string, controller: AbortController): Promise<Response> {
    const { url, fetch, timeoutMs } = this.endpoint;
    const deadline = new Deadline(controller.signal, timeoutMs);
    try {
      return await fetch(`${url}${path}`, { headers: { accept }, signal: deadline.signal });
    } catch (error) {
      throw deadline.failure(error, url, () => new SidecarUnavailableError(url, `no answer to ${path} within ${timeoutMs} ms`));
    } finally {
      // The body goes on under the session's controller alone, which ends with the session.
      deadline.stopTimer();
    }
  }

  private async session(): Promise<Outcome> {
    if (this.stopped) return { kind: "stopped" };
    const resumed = this.syncedBefore;
    const controller = new AbortController();
    this.active = controller;
    const { url } = this.endpoint;
    try {
      const ready = await this.open("/readyz", "application/json", controller);
      await ready.body?.cancel().catch(() => {});
      if (!ready.ok) {
        const error = new NagentError(`the sidecar at ${url} is not ready (${ready.status}): it has not synced with the control plane nor loaded its cache`, {
          status: 0,
          code: "sidecar_not_ready",
          endpoint: url,
        });
        return { kind: "retry", error, synced: false };
      }
      const response = await this.open(`/v1/config/watch?${new URLSearchParams({ prefix: this.prefix })}`, "text/event-stream", controller);
      if (!response.ok || !response.body) {
        const error = errorFromResponse(response.status, await readBody(response).catch(() => undefined), url);
        return isTransient(error) ? { kind: "retry", error, synced: false } : { kind: "final", error };
      }
      return await this.read(new SseStream(response.body, this.options.idleTimeoutMs ?? DEFAULT_IDLE_MS), resumed);
    } catch (error) {
      if (this.stopped) return { kind: "stopped" };
      if (error instanceof NagentError) return { kind: "retry", error, synced: false };
      throw error;
    } finally {
      controller.abort();
      this.active = undefined;
    }
  }

  private async read(stream: SseStream, resumed: boolean): Promise<Outcome> {
    const { url } = this.endpoint;
    /** Keys in this stream's replay of the current values, until `synced`. */
    let replayed: Set<string> | undefined = new Set();
    const retry = (code: string, message: string, cause?: unknown): Outcome => ({
      kind: "retry",
      error: new NagentError(message, { status: 0, code, endpoint: url, ...(cause !== undefined ? { cause } : {}) }),
      synced: replayed === undefined,
    });
    try {
      for (;;) {
        let message;
        try {
          message = await stream.next();
        } catch (error) {
          if (this.stopped) return { kind: "stopped" };
          if (error instanceof SseIdleError) return retry("idle_timeout", `config watch from ${url}: ${error.message}`, error);
          return retry("disconnected", `config watch from ${url} broke: ${describeFetchError(error)}`, error);
        }
        if (this.stopped) return { kind: "stopped" };
        if (message === undefined) return retry("stream_ended", `config watch from ${url} ended`);
        if (message.event === "put" || message.event === "delete") {
          const event = parseJson(message.data) as ConfigWatchEvent<T> | undefined;
          if (!event || typeof event.key !== "string" || typeof event.revision !== "number") {
            return retry("bad_event", `config watch from ${url} sent an event that is not a change: ${message.data.slice(0, 200)}`);
          }
          replayed?.add(event.key);
          const failure = await this.deliver(message.event, event);
          if (failure) return { kind: "final", error: failure };
        } else if (message.event === "synced") {
          const revision = (parseJson(message.data) as { revision?: unknown } | undefined)?.revision;
          if (typeof revision === "number") this.advance(revision);
          // Keys the app was given that the sidecar no longer holds were deleted while away.
          const gone = [...this.known.keys()].filter((key) => !replayed?.has(key));
          for (const key of gone) {
            const failure = await this.deliver("delete", { type: "delete", key, revision: typeof revision === "number" ? revision : (this.latest ?? 0) });
            if (failure) return { kind: "final", error: failure };
          }
          replayed = undefined;
          this.inSync = true;
          this.syncedBefore = true;
          try {
            this.options.onSynced?.({ revision: this.latest ?? 0, resumed });
          } catch {
            // A failing notification handler must not end the watch.
          }
        }
      }
    } finally {
      await stream.cancel();
    }
  }

  /** Hands a change to the app unless it has it already; answers a final error if the handler threw. */
  private async deliver(type: "put" | "delete", event: ConfigWatchEvent<T>): Promise<NagentError | undefined> {
    this.advance(event.revision);
    const before = this.known.get(event.key);
    let json = "";
    if (type === "put") {
      json = JSON.stringify(event.value) ?? "null";
      if (before !== undefined && before.json === json) return undefined;
    } else if (before === undefined) {
      return undefined;
    }
    const change: ConfigWatchEvent<T> = type === "put" ? { type, key: event.key, value: event.value as T, revision: event.revision } : { type, key: event.key, revision: event.revision };
    try {
      await this.options.onEvent(change);
    } catch (error) {
      return new NagentError(`the watch's onEvent handler failed: ${(error as Error).message}`, {
        status: 0,
        code: "handler_failed",
        endpoint: this.endpoint.url,
        cause: error,
      });
    }
    if (type === "put") this.known.set(event.key, { value: event.value as T, json });
    else this.known.delete(event.key);
    return undefined;
  }

  private advance(revision: number): void {
    if (this.latest === undefined || revision > this.latest) this.latest = revision;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
