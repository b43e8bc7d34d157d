// One HTTP call against a list of control-plane members: the current member first, then the
// others in turn when a member cannot be reached, does not answer in time, or answers 503
// (no leader, still starting, shutting down). The member that answered becomes the current one.
import { NagentError, UnavailableError, errorFromResponse, type EndpointFailure } from "./errors.ts";

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  readonly endpoints: readonly string[];
  readonly token?: string;
  readonly timeoutMs: number;
  readonly fetch?: FetchFunction;
}

export interface HttpRequest {
  readonly method: string;
  /** Path and query, starting with "/". */
  readonly path: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/** Where a call may go, and which member answered last. */
export class EndpointPool {
  readonly endpoints: readonly string[];
  private current = 0;

  constructor(endpoints: readonly string[]) {
    this.endpoints = endpoints.map((endpoint) => endpoint.replace(/\/+$/, ""));
  }

  /** The member calls go to first. */
  get preferred(): string | undefined {
    return this.endpoints[this.current];
  }

  /** Every member, the current one first. */
  order(): string[] {
    const n = this.endpoints.length;
    return Array.from({ length: n }, (_, i) => this.endpoints[(this.current + i) % n]!);
  }

  /** Remembers the member that answered. */
  markGood(endpoint: string): void {
    const index = this.endpoints.indexOf(endpoint);
    if (index >= 0) this.current = index;
  }

  /** Moves past a member that failed, if it is still the current one. */
  markBad(endpoint: string): void {
    if (this.endpoints[this.current] === endpoint && this.endpoints.length > 0) {
      this.current = (this.current + 1) % this.endpoints.length;
    }
  }
}

/** A signal that aborts when any of the given ones does (AbortSignal.any is missing from early Node 20). */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const listeners: (() => void)[] = [];
  for (const signal of present) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    listeners.push(() => signal.removeEventListener("abort", onAbort));
  }
  return { signal: controller.signal, dispose: () => listeners.forEach((remove) => remove()) };
}

/** Thrown when the caller's own signal aborted a call: never failed over, never wrapped. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("the operation was aborted", "AbortError");
}

/** One line for a failed fetch: Bun and Node (undici) put the system code in different places. */
export function describeFetchError(error: unknown): string {
  const err = error as { code?: unknown; cause?: { code?: unknown; message?: unknown }; message?: unknown };
  const code = typeof err.code === "string" ? err.code : typeof err.cause?.code === "string" ? err.cause.code : undefined;
  switch (code) {
    case "ECONNREFUSED":
    case "ConnectionRefused":
      return "connection refused";
    case "ECONNRESET":
    case "ConnectionClosed":
      return "connection reset";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    default: {
      const message = typeof err.cause?.message === "string" ? err.cause.message : typeof err.message === "string" ? err.message : String(error);
      return code ? `${code}: ${message}` : message;
    }
  }
}

/**
 * Whether a failed fetch never reached the server: the connection was refused, so nothing was
 * sent and sending again is safe whatever the method. Bun and Node (undici) name it differently.
 */
export function isConnectionRefused(error: unknown): boolean {
  const err = error as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof err?.code === "string" ? err.code : typeof err?.cause?.code === "string" ? err.cause.code : undefined;
  return code === "ECONNREFUSED" || code === "ConnectionRefused";
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

function reasonOf503(body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" ? error.code : "unavailable";
  const message = typeof error?.message === "string" ? `: ${error.message}` : "";
  return `503 ${code}${message}`;
}

export class Transport {
  readonly pool: EndpointPool;
  readonly timeoutMs: number;
  private readonly token: string | undefined;
  private readonly fetch: FetchFunction;

  constructor(options: TransportOptions) {
    this.pool = new EndpointPool(options.endpoints);
    this.token = options.token;
    this.timeoutMs = options.timeoutMs;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  headers(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return {
      accept: "application/json",
      ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}),
      ...extra,
    };
  }

  /**
   * Sends the request to each member in turn until one gives a definitive answer, and answers its
   * JSON body; a 4xx or 5xx other than 503 becomes the matching typed error. A timed-out write may
   * have been applied by the member that timed out before it is retried on the next one.
   */
  async call<T>(request: HttpRequest): Promise<T> {
    return this.failover(request, false, async (response, endpoint) => {
      const body = await readBody(response);
      if (!response.ok) throw errorFromResponse(response.status, body, endpoint);
      return body as T;
    });
  }

  /**
   * Like call, for an answer whose body the caller reads as a stream: the member that gave a
   * definitive answer, and that answer (a 4xx or 5xx other than 503 becomes the typed error). The
   * timeout bounds the wait for the answer to start; the caller's signal, the whole body.
   */
  async stream(request: HttpRequest): Promise<{ endpoint: string; response: Response }> {
    return this.failover(request, true, async (response, endpoint) => {
      if (!response.ok) throw errorFromResponse(response.status, await readBody(response), endpoint);
      return { endpoint, response };
    });
  }

  /**
   * Sends the request to each member in turn until one answers other than 503 (or cannot be
   * reached), and answers what `read` makes of that answer.
   */
  private async failover<R>(request: HttpRequest, streamed: boolean, read: (response: Response, endpoint: string) => Promise<R>): Promise<R> {
    const failures: EndpointFailure[] = [];
    for (const endpoint of this.pool.order()) {
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
      const combined = anySignal([request.signal, timeout.signal]);
      // A streamed body stays tied to the caller's signal after this returns.
      let keepSignal = false;
      try {
        const response = await this.fetch(`${endpoint}${request.path}`, {
          method: request.method,
          headers: this.headers({
            ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
            ...request.headers,
          }),
          ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
          signal: combined.signal,
        });
        if (streamed) clearTimeout(timer);
        if (response.status === 503) {
          const body = await readBody(response);
          failures.push({ endpoint, reason: reasonOf503(body), status: 503, cause: errorFromResponse(503, body, endpoint) });
          this.pool.markBad(endpoint);
          continue;
        }
        this.pool.markGood(endpoint);
        const result = await read(response, endpoint);
        keepSignal = streamed;
        return result;
      } catch (error) {
        if (request.signal?.aborted) throw abortReason(request.signal);
        if (error instanceof NagentError) throw error;
        const reason = timeout.signal.aborted ? `no answer within ${this.timeoutMs} ms` : describeFetchError(error);
        failures.push({ endpoint, reason, cause: error });
        this.pool.markBad(endpoint);
      } finally {
        clearTimeout(timer);
        if (!keepSignal) combined.dispose();
      }
    }
    throw new UnavailableError(failures);
  }
}

