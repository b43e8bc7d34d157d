// Typed errors of the control-plane client. Each HTTP status the API uses has its own class, so
// callers branch with `instanceof` rather than on numbers, and every error keeps the endpoint
// that answered, the server's code and the extra fields of its error body.

/** What a NagentError is built from. */
export interface NagentErrorInit {
  /** HTTP status of the answer; 0 when no answer was received. */
  readonly status: number;
  /** The server's error code (`not_found`, `precondition_failed`, ...), or a client-side one. */
  readonly code: string;
  /** The error body's fields other than code and message. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The control-plane URL that answered. */
  readonly endpoint?: string;
  readonly cause?: unknown;
}

/**
 * Any failure of a control-plane call. Server errors carry the status, code, message and the
 * remaining fields of `{"error": {"code", "message", ...}}`; the subclasses below name the
 * statuses a caller usually handles.
 */
export class NagentError extends Error {
  override readonly name: string = "NagentError";
  readonly status: number;
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly endpoint: string | undefined;

  constructor(message: string, init: NagentErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.endpoint = init.endpoint;
  }
}

type SubclassInit = Omit<NagentErrorInit, "status">;

/** 400: the request was malformed or invalid; `path` names the offending field when the server says. */
export class InvalidRequestError extends NagentError {
  override readonly name = "InvalidRequestError";
  /** The JSON path of the offending field (e.g. "retry.maxAttempts"), when the server names one. */
  readonly path: string | undefined;
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 400 });
    const path = init.details?.path;
    this.path = typeof path === "string" ? path : undefined;
  }
}

/** 401: no credential, or one the control plane does not accept. */
export class UnauthenticatedError extends NagentError {
  override readonly name = "UnauthenticatedError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 401 });
  }
}

/** 403: the credential is valid but may not do this. */
export class ForbiddenError extends NagentError {
  override readonly name = "ForbiddenError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 403 });
  }
}

/** 404: no such key, node, policy or member (the code says which, e.g. `not_registered`). */
export class NotFoundError extends NagentError {
  override readonly name = "NotFoundError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 404 });
  }
}

/** 409: the change conflicts with the current state (an existing member, the last voter). */
export class ConflictError extends NagentError {
  override readonly name = "ConflictError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 409 });
  }
}

/** 410: a watch asked for a revision that was compacted away; re-list, then watch from the list's revision. */
export class CompactedError extends NagentError {
  override readonly name = "CompactedError";
  /** The oldest revision still available, when the server says. */
  readonly oldestRevision: number | undefined;
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 410 });
    const oldest = init.details?.oldestRevision;
    this.oldestRevision = typeof oldest === "number" ? oldest : undefined;
  }
}

/** 412: an If-Match compare-and-set failed; `modRevision` is the current one (0 when absent). */
export class PreconditionFailedError extends NagentError {
  override readonly name = "PreconditionFailedError";
  readonly modRevision: number | undefined;
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 412 });
    const current = init.details?.modRevision;
    this.modRevision = typeof current === "number" ? current : undefined;
  }
}

/** Why one endpoint did not serve a call. */
export interface EndpointFailure {
  readonly endpoint: string;
  /** One line: "connection refused", "no answer within 5000 ms", "503 unavailable: no leader". */
  readonly reason: string;
  /** The HTTP status when the endpoint answered (503). */
  readonly status?: number;
  readonly cause?: unknown;
}

/** Every endpoint failed: connection errors, timeouts or 503s. `failures` has one entry per endpoint tried. */
export class UnavailableError extends NagentError {
  override readonly name = "UnavailableError";
  readonly failures: readonly EndpointFailure[];
  constructor(failures: readonly EndpointFailure[]) {
    const list = failures.map((failure) => `${failure.endpoint}: ${failure.reason}`).join("; ");
    super(failures.length === 0 ? "no control-plane endpoint configured" : `no control-plane endpoint answered (${list})`, {
      status: 503,
      code: "unavailable",
      cause: failures.at(-1)?.cause,
    });
    this.failures = failures;
  }
}

/** The `error` object of a JSON error body, if the body is one. */
export function errorObject(body: unknown): { code: string; message: string; details: Record<string, unknown> } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message, ...details } = error as Record<string, unknown>;
  return {
    code: typeof code === "string" ? code : "unknown",
    message: typeof message === "string" ? message : "",
    details,
  };
}

/**
 * The typed error for an HTTP error answer. `body` is the parsed JSON body, or the raw text when
 * it was not JSON (a proxy's error page, say).
 */
export function errorFromResponse(status: number, body: unknown, endpoint: string): NagentError {
  const parsed = errorObject(body);
  const code = parsed?.code ?? `http_${status}`;
  const text = typeof body === "string" ? body.trim().slice(0, 200) : "";
  const message = parsed?.message || text || `HTTP ${status}`;
  const init = { code, details: parsed?.details ?? {}, endpoint };
  switch (status) {
    case 400:
      return new InvalidRequestError(message, init);
    case 401:
      return new UnauthenticatedError(message, init);
    case 403:
      return new ForbiddenError(message, init);
    case 404:
      return new NotFoundError(message, init);
    case 409:
      return new ConflictError(message, init);
    case 410:
      return new CompactedError(message, init);
    case 412:
      return new PreconditionFailedError(message, init);
    default:
      return new NagentError(message, { ...init, status });
  }
}
