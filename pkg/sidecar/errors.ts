// Typed errors of calls through the sidecar. Answers the control plane also gives (400, 401, 403,
// 404, ...) reuse the control-plane client's classes, so an app catches UnauthenticatedError the
// same way whichever it talks to; what only the sidecar's outbound path answers (its resilience
// layer giving up, or the sidecar itself out of reach) gets a class here, named after its code.
import { NagentError, UnavailableError, errorFromResponse, errorObject, type NagentErrorInit } from "../control-plane/errors.ts";

type SubclassInit = Omit<NagentErrorInit, "status">;

/** One attempt of a failed call, as the sidecar lists it in its error body. */
export interface InvokeAttempt {
  /** The node tried; null when no instance was picked. */
  readonly instance: string | null;
  /** How the attempt ended: an answer (`response`, with its status), or a connect failure, reset, timeout, no instance, cancellation. */
  readonly outcome: "response" | "connect" | "reset" | "timeout" | "no_instance" | "cancelled" | (string & {});
  readonly status?: number;
}

function attemptsOf(details: Readonly<Record<string, unknown>> | undefined): readonly InvokeAttempt[] {
  const attempts = details?.attempts;
  return Array.isArray(attempts) ? attempts.filter((a): a is InvokeAttempt => typeof a === "object" && a !== null && typeof (a as { outcome?: unknown }).outcome === "string") : [];
}

/**
 * A call through the sidecar that the mesh could not complete: no instance, an open breaker, the
 * upstream failing, or the deadline passing. `attempts` lists what the sidecar tried (empty when
 * it tried nothing or did not say).
 */
export class InvokeError extends NagentError {
  override readonly name: string = "InvokeError";
  readonly attempts: readonly InvokeAttempt[];
  constructor(message: string, init: NagentErrorInit) {
    super(message, init);
    this.attempts = attemptsOf(init.details);
  }
}

/** 502: every attempt failed (`upstream_failed`), or the called node's app did not answer (`app_unavailable`, `no_app`). */
export class UpstreamFailedError extends InvokeError {
  override readonly name = "UpstreamFailedError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 502 });
  }
}

/** 503 `circuit_open`: the target domain's breaker is open; calls fail fast until it half-opens. */
export class CircuitOpenError extends InvokeError {
  override readonly name = "CircuitOpenError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 503 });
  }
}

/** 503 `no_healthy_instance`: no healthy node serves the domain (unknown, or every instance down or ejected). */
export class NoHealthyInstanceError extends InvokeError {
  override readonly name = "NoHealthyInstanceError";
  constructor(message: string, init: SubclassInit) {
    super(message, { ...init, status: 503 });
  }
}

/**
 * The call did not finish within its deadline: the sidecar's (504 `timeout`, from the target's
 * resilience policy) or this client's own `timeoutMs` (status 0, code `client_timeout`).
 */
export class TimeoutError extends InvokeError {
  override readonly name = "TimeoutError";
  constructor(message: string, init: SubclassInit & { readonly status?: number }) {
    super(message, { ...init, status: init.status ?? 504 });
  }
}

/**
 * The sidecar itself could not be reached (not running, wrong URL, no answer in time). An
 * UnavailableError, as when no control-plane member answers, with the one failure in `failures`.
 */
export class SidecarUnavailableError extends UnavailableError {
  constructor(endpoint: string, reason: string, cause?: unknown) {
    super([{ endpoint, reason, ...(cause !== undefined ? { cause } : {}) }]);
    // UnavailableError types its name as its own literal and leaves endpoint unset; this subclass
    // still names itself and says which sidecar.
    (this as { name: string }).name = "SidecarUnavailableError";
    (this as { endpoint: string | undefined }).endpoint = endpoint;
    this.message = `the sidecar at ${endpoint} did not answer (${reason})`;
  }
}

/**
 * The typed error for an error answer of the sidecar (or of the app behind it, passed through):
 * the resilience codes get the classes above, the rest the control-plane client's
 * (`UnauthenticatedError` for 401, `ForbiddenError` for 403, ...). `body` is the parsed JSON
 * body, or the raw text when it was not JSON.
 */
export function invokeErrorFromResponse(status: number, body: unknown, endpoint: string): NagentError {
  const parsed = errorObject(body);
  const code = parsed?.code ?? `http_${status}`;
  const text = typeof body === "string" ? body.trim().slice(0, 200) : "";
  const message = parsed?.message || text || `HTTP ${status}`;
  const init = { code, details: parsed?.details ?? {}, endpoint };
  if (status === 502) return new UpstreamFailedError(message, init);
  if (status === 504) return new TimeoutError(message, init);
  if (status === 503 && code === "circuit_open") return new CircuitOpenError(message, init);
  if (status === 503 && code === "no_healthy_instance") return new NoHealthyInstanceError(message, init);
  return errorFromResponse(status, body, endpoint);
}
