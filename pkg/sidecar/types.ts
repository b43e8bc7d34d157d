// The wire types of the sidecar's local API (its outbound port), as the sidecar sends them, and
// the options of the calls made through it.

/** One config key from the sidecar's copy. */
export interface SidecarConfigEntry<T = unknown> {
  readonly key: string;
  readonly value: T;
  /** The revision the sidecar's whole copy is at (not the key's own modRevision, which only the control plane knows). */
  readonly revision: number;
}

/** Config keys under a prefix, sorted, from the sidecar's copy at `revision`. */
export interface SidecarConfigList<T = unknown> {
  readonly prefix: string;
  readonly revision: number;
  readonly items: readonly { readonly key: string; readonly value: T }[];
}

/**
 * One change under a watched prefix. Keys are config keys as written (`services/payment/timeout`,
 * without the store's `config/`). A put carries the new value; `revision` is the sidecar's
 * revision when the change was applied (for the initial values, the revision of its copy).
 */
export interface ConfigWatchEvent<T = unknown> {
  readonly type: "put" | "delete";
  readonly key: string;
  readonly value?: T;
  readonly revision: number;
}

/** How a fallback produced an answer, from the `x-nagent-fallback` header. */
export type FallbackKind = "static" | "domain" | "cache" | (string & {});

/** A call through the sidecar to another domain: fetch's options, plus the mesh's. */
export interface InvokeInit extends Omit<RequestInit, "body" | "signal"> {
  /** The request body as fetch takes it. A ReadableStream is streamed (with `duplex: "half"`). */
  readonly body?: RequestInit["body"];
  /** Sent as JSON (with `content-type: application/json`) instead of `body`. */
  readonly json?: unknown;
  /** The caller's credential for this call, instead of the client's `token`. */
  readonly token?: string;
  /** W3C trace context of the caller's current span; the sidecar continues the trace from it. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** Gives up on the call after this long (TimeoutError, code `client_timeout`): for invoke, until the answer's head; for invokeJson, until its body. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A successful JSON answer of invokeJson. */
export interface InvokeResult<T = unknown> {
  /** The parsed body (undefined for an empty one). */
  readonly data: T;
  readonly status: number;
  readonly headers: Headers;
  /** Set when a fallback produced the answer (`x-nagent-fallback`): static, domain or cache. */
  readonly fallback: FallbackKind | undefined;
}

/** The resilience runtime of one target domain the app has called, as GET /v1/status shows it. */
export interface SidecarDomainResilience {
  readonly domain: string;
  /** The name of the resilience policy that applies, null without one. */
  readonly policy: string | null;
  /** null without a circuitBreaker section. */
  readonly breaker: {
    readonly state: "closed" | "open" | "half-open";
    readonly consecutiveFailures: number;
    readonly requests: number;
    readonly failures: number;
    readonly errorRate: number;
  } | null;
  /** null without retries. */
  readonly retries: { readonly inWindow: number; readonly requestsInWindow: number } | null;
  /** Instances taken out of rotation after consecutive failures. */
  readonly ejected: readonly string[];
  readonly cachedResponses: number;
}

/** GET /v1/status: what the sidecar holds, where it came from and how stale it is. */
export interface SidecarStatus {
  readonly node: string;
  readonly domains: readonly string[];
  readonly version: string;
  /** The revision of the last change the sidecar applied. */
  readonly revision: number;
  readonly revisionAppliedAt: string | null;
  readonly controlPlane: {
    readonly connected: boolean;
    readonly synced: boolean;
    readonly endpoint: string | null;
    readonly lastContact: string | null;
    /** The control plane's latest revision as of the last heartbeat. */
    readonly latestRevision: number | null;
    readonly sync: { readonly state: "synced" | "stale" | "unknown"; readonly behind?: number };
    readonly lastHeartbeat: string | null;
    readonly registered: boolean;
  };
  /** Where the held state came from. */
  readonly source: "control-plane" | "cache" | "none";
  readonly cache: { readonly dir: string; readonly loadedFrom: string | null; readonly lastSaved: string | null };
  readonly held: {
    readonly keys: number;
    readonly nodes: number;
    readonly healthyNodes: number;
    readonly resiliencePolicies: readonly string[];
    readonly authzPolicies: readonly string[];
    readonly publicKeys: number;
    readonly revocations: number;
  };
  readonly resilience: readonly SidecarDomainResilience[];
  /** The credential cache's entries and its hits and misses per tier. */
  readonly credentials: Readonly<Record<string, unknown>>;
}
