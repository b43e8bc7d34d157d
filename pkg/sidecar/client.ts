// SidecarClient: what an agent service uses beside its sidecar, on the sidecar's outbound port:
// its configuration from the sidecar's copy (answered while the control plane is down), a watch
// of it, calls to other domains through /v1/invoke, and the sidecar's status. Runs on Node.js 20+
// and Bun (fetch, AbortSignal, TextDecoder, URL only).
import { NotFoundError, errorFromResponse } from "../control-plane/errors.ts";
import { abortReason, readBody, type FetchFunction } from "../control-plane/transport.ts";
import type { CallOptions } from "../control-plane/types.ts";
import { SidecarUnavailableError, TimeoutError, invokeErrorFromResponse } from "./errors.ts";
import { Deadline, fetchRetryingRefused, type SidecarEndpoint } from "./http.ts";
import type { FallbackKind, InvokeInit, InvokeResult, SidecarConfigEntry, SidecarConfigList, SidecarStatus } from "./types.ts";
import { ConfigWatchLoop, type ConfigWatchHandle, type ConfigWatchOptions } from "./watch.ts";

/** The sidecar's outbound port when neither `url` nor NAGENT_SIDECAR_URL says otherwise. */
export const DEFAULT_SIDECAR_URL = "http://127.0.0.1:15001";

/** The header a sidecar puts on an answer a fallback produced. */
export const FALLBACK_HEADER = "x-nagent-fallback";

/** A credential, or a function that answers the current one (a short-lived JWT that is renewed). */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

/** Where the sidecar is, the app's credential, and the local API's deadline. */
export interface SidecarClientOptions {
  /** The sidecar's outbound port. Default: the NAGENT_SIDECAR_URL environment variable, else http://127.0.0.1:15001. */
  readonly url?: string;
  /**
   * The app's credential, sent as `Authorization: Bearer <token>` on invoke calls (never on the
   * local API, which needs none); a call's own `token` wins.
   */
  readonly token?: TokenSource;
  /** How long a local API call (config, status) may take. Default 5000. invoke has no default deadline: see InvokeInit.timeoutMs. */
  readonly timeoutMs?: number;
  /** A fetch to use instead of the global one (tests, custom agents). */
  readonly fetch?: FetchFunction;
  /**
   * How long invoke, invokeJson and the local API calls keep trying again while the sidecar
   * refuses connections, e.g. during its restart (backing off from 25 ms to 500 ms, within the
   * call's own deadline). A refused connection means nothing was sent, so this is safe for any
   * method; a call that may have reached the sidecar is never sent twice. Default 0: the first
   * refusal throws SidecarUnavailableError.
   */
  readonly connectRetryMs?: number;
}

/** NAGENT_SIDECAR_URL when the runtime has a process environment (Node, Bun), without importing node:process. */
function environmentUrl(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const url = env?.NAGENT_SIDECAR_URL;
  return url === undefined || url === "" ? undefined : url;
}

/**
 * Keys are `/`-separated segments; each is percent-encoded except the characters keys may hold
 * (`- . _ ~ : @`), so the sidecar sees the key as written.
 */
function keyPath(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/%3A/gi, ":").replace(/%40/g, "@"))
    .join("/");
}

/** `/v1/invoke/{domain}{path}`, the path given its leading slash when it has none. */
function invokePath(domain: string, path: string): string {
  const rest = path === "" ? "/" : path.startsWith("/") || path.startsWith("?") ? path : `/${path}`;
  return `/v1/invoke/${encodeURIComponent(domain)}${rest}`;
}

/** How a fallback produced this answer (`x-nagent-fallback`: static, domain or cache), or undefined for a real answer. */
export function fallbackOf(response: Response): FallbackKind | undefined {
  return response.headers.get(FALLBACK_HEADER) ?? undefined;
}

/**
 * A client of the sidecar beside an agent service. Config reads answer from the sidecar's local
 * copy (NotFoundError for a key it does not hold); `watchConfig` follows changes and resumes by
 * itself after a disconnect or a sidecar restart; `invoke` calls another domain wherever it runs,
 * with the app's credential, through the sidecar's retries, breaker and fallbacks. A sidecar that
 * cannot be reached throws SidecarUnavailableError; error answers become typed errors, all
 * subclasses of NagentError.
 */
export class SidecarClient {
  /** The sidecar's outbound port, without a trailing slash. */
  readonly url: string;
  private readonly endpoint: SidecarEndpoint;
  private readonly token: TokenSource | undefined;

  /** A client of the sidecar at `options.url` (else NAGENT_SIDECAR_URL, else port 15001 on loopback); a URL that does not parse throws a TypeError. */
  constructor(options: SidecarClientOptions = {}) {
    const url = options.url ?? environmentUrl() ?? DEFAULT_SIDECAR_URL;
    // Fails here, once, on a URL fetch could never use.
    new URL(url);
    this.url = url.replace(/\/+$/, "");
    const fetchFunction = options.fetch ?? ((input, init) => fetch(input, init));
    this.endpoint = { url: this.url, fetch: fetchFunction, timeoutMs: options.timeoutMs ?? 5_000, connectRetryMs: Math.max(0, options.connectRetryMs ?? 0), closesAt: 0 };
    this.token = options.token;
  }

  // ---- configuration, from the sidecar's copy ---------------------------------------------------

  /** One config key from the sidecar's copy; NotFoundError when it holds no such key, InvalidRequestError for a malformed key. */
  async getConfig<T = unknown>(key: string, options?: CallOptions): Promise<SidecarConfigEntry<T>> {
    // GET /v1/config/watch is the sidecar's watch stream, not the key "watch": read that one from a list.
    if (key === "watch") {
      const listed = await this.listConfig<T>(key, options);
      const item = listed.items.find((candidate) => candidate.key === key);
      if (item === undefined) throw new NotFoundError(`no config key ${key}`, { code: "not_found", endpoint: this.url });
      return { key, value: item.value, revision: listed.revision };
    }
    return this.local(`/v1/config/${keyPath(key)}`, options);
  }

  /** Every config key under a prefix ("" for all), sorted, with the revision of the sidecar's copy. */
  listConfig<T = unknown>(prefix = "", options?: CallOptions): Promise<SidecarConfigList<T>> {
    return this.local(`/v1/config?${new URLSearchParams({ prefix })}`, options);
  }

  /**
   * Follows the config keys under a prefix: `onEvent` first gets a put for each current key, then
   * `onSynced`, then each change as the sidecar applies it. After a disconnect or a sidecar
   * restart the watch reconnects by itself (backing off from 100 ms to 5 s with jitter, once the
   * sidecar is ready again) and delivers only what changed meanwhile: a new value, or a delete
   * for a key that is gone; a put of the value a key already had is not a change and is not
   * delivered. `done` resolves when the watch ends (undefined when closed, else the error).
   */
  watchConfig<T = unknown>(prefix: string, options: ConfigWatchOptions<T>): ConfigWatchHandle<T> {
    return new ConfigWatchLoop<T>(this.endpoint, prefix, options);
  }

  // ---- the sidecar ------------------------------------------------------------------------------

  /** What the sidecar holds, where from (control plane or cache), how far behind, and its breakers. */
  status(options?: CallOptions): Promise<SidecarStatus> {
    return this.local("/v1/status", options);
  }

  /** Whether the sidecar is ready to serve (synced with the control plane, or started from its cache); false when it cannot be reached. */
  async ready(options?: CallOptions): Promise<boolean> {
    const deadline = new Deadline(options?.signal, this.endpoint.timeoutMs);
    try {
      const response = await this.endpoint.fetch(`${this.url}/readyz`, { signal: deadline.signal });
      await response.body?.cancel().catch(() => {});
      return response.ok;
    } catch (error) {
      if (options?.signal?.aborted) throw abortReason(options.signal);
      return false;
    } finally {
      deadline.dispose();
    }
  }

  // ---- calls to other domains -------------------------------------------------------------------

  /**
   * Calls `path` (with its query) on a domain, wherever it runs: `/v1/invoke/{domain}{path}` on the
   * sidecar, which picks a healthy instance and applies the domain's resilience policy. The
   * credential is the call's `token`, else an `Authorization` header given, else the client's
   * `token`; `traceparent` continues the caller's trace. The method defaults to POST when there is
   * a body, else GET. Answers the Response whatever its status (error answers carry the JSON error
   * body; see invokeJson); `fallbackOf(response)` says whether a fallback produced it. Throws only
   * when no answer came: SidecarUnavailableError, TimeoutError (`timeoutMs`), or the signal's reason.
   */
  async invoke(domain: string, path: string, init: InvokeInit = {}): Promise<Response> {
    const deadline = new Deadline(init.signal, init.timeoutMs);
    try {
      const response = await this.send(domain, path, init, deadline);
      // The body may still be read; the caller's signal keeps reaching it.
      deadline.stopTimer();
      return response;
    } catch (error) {
      deadline.dispose();
      throw deadline.failure(error, this.url, () => this.clientTimeout(domain, path, init.timeoutMs));
    }
  }

  /**
   * Like invoke, with `accept: application/json`, and the answer read: a 2xx answers its parsed
   * body (the text when it is not JSON) with the status, headers and fallback; any other status
   * throws the typed error built from the sidecar's JSON error body (code, message, attempts):
   * NoHealthyInstanceError, CircuitOpenError (503), UpstreamFailedError (502), TimeoutError (504),
   * UnauthenticatedError (401), ForbiddenError (403), ..., else a NagentError with the status.
   * `timeoutMs` covers reading the body too.
   */
  async invokeJson<T = unknown>(domain: string, path: string, init: InvokeInit = {}): Promise<InvokeResult<T>> {
    const headers = new Headers(init.headers);
    if (!headers.has("accept")) headers.set("accept", "application/json");
    const deadline = new Deadline(init.signal, init.timeoutMs);
    try {
      const response = await this.send(domain, path, { ...init, headers }, deadline);
      const body = await readBody(response);
      if (!response.ok) throw invokeErrorFromResponse(response.status, body, this.url);
      return { data: body as T, status: response.status, headers: response.headers, fallback: fallbackOf(response) };
    } catch (error) {
      throw deadline.failure(error, this.url, () => this.clientTimeout(domain, path, init.timeoutMs));
    } finally {
      deadline.dispose();
    }
  }

  private async send(domain: string, path: string, init: InvokeInit, deadline: Deadline): Promise<Response> {
    const { body: given, json, token: callToken, traceparent, tracestate, timeoutMs: _timeoutMs, signal: _signal, headers: givenHeaders, method, ...rest } = init;
    const headers = new Headers(givenHeaders);
    const token = callToken ?? (headers.has("authorization") ? undefined : await this.currentToken());
    if (token !== undefined && token !== "") headers.set("authorization", `Bearer ${token}`);
    if (traceparent !== undefined) headers.set("traceparent", traceparent);
    if (tracestate !== undefined) headers.set("tracestate", tracestate);
    let body = given;
    if (json !== undefined) {
      body = JSON.stringify(json);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const hasBody = body !== undefined && body !== null;
    const request: RequestInit & { duplex?: "half" } = {
      ...rest,
      method: method ?? (hasBody ? "POST" : "GET"),
      headers,
      ...(hasBody ? { body } : {}),
      signal: deadline.signal,
    };
    // A streamed request body needs half duplex on Node (undici) and is harmless on Bun.
    if (body instanceof ReadableStream) request.duplex = "half";
    return fetchRetryingRefused(this.endpoint, `${this.url}${invokePath(domain, path)}`, request, deadline.signal);
  }

  private async currentToken(): Promise<string | undefined> {
    return typeof this.token === "function" ? this.token() : this.token;
  }

  private clientTimeout(domain: string, path: string, timeoutMs: number | undefined): TimeoutError {
    return new TimeoutError(`no answer from ${domain}${path.startsWith("/") ? "" : "/"}${path} through the sidecar within ${timeoutMs} ms`, {
      status: 0,
      code: "client_timeout",
      endpoint: this.url,
    });
  }

  /** A GET of the local API within the client's deadline, answering the JSON body. */
  private async local<T>(path: string, options: CallOptions | undefined): Promise<T> {
    const { url, timeoutMs } = this.endpoint;
    const deadline = new Deadline(options?.signal, timeoutMs);
    try {
      const response = await fetchRetryingRefused(this.endpoint, `${url}${path}`, { headers: { accept: "application/json" }, signal: deadline.signal }, deadline.signal);
      const body = await readBody(response);
      if (!response.ok) throw errorFromResponse(response.status, body, url);
      return body as T;
    } catch (error) {
      throw deadline.failure(error, url, () => new SidecarUnavailableError(url, `no answer within ${timeoutMs} ms`));
    } finally {
      deadline.dispose();
    }
  }
}
