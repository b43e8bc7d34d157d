import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * An error meant for the HTTP client: it carries the status and the machine-readable code of the
 * JSON error body `{"error":{"code","message"}}`. Concerns throw their own typed errors; the edge
 * maps them to an HttpError, so the core never knows about status codes.
 */
export class HttpError extends Error {
  override readonly name: string = "HttpError";
  readonly status: ContentfulStatusCode;
  readonly code: string;
  /** Extra machine-readable fields for the error object, e.g. the oldest revision of a 410. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Readonly<Record<string, unknown>> },
  ) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.details = options?.details;
  }
}

export class BadRequestError extends HttpError {
  override readonly name = "BadRequestError";
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(400, code, message, options);
  }
}

/** The wire form of every error answer. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly [detail: string]: unknown };
}

export function errorBody(code: string, message: string, details?: Readonly<Record<string, unknown>>): ErrorBody {
  return { error: { ...details, code, message } };
}
