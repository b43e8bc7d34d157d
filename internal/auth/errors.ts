// Typed authentication errors. The control plane's HTTP edge turns them into 401/400/503; the
// sidecar (which verifies tokens locally) into its own answers.

/** Why a presented token was not accepted. */
export type TokenRejection =
  | "malformed"
  | "unsupported_algorithm"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "revoked"
  | "unknown_api_key";

/** A token that is not (or no longer) valid. The message never contains the token. */
export class TokenRejectedError extends Error {
  override readonly name = "TokenRejectedError";
  constructor(
    readonly reason: TokenRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The authority cannot serve yet: its keys are not loaded, or the store is unavailable. */
export class AuthorityUnavailableError extends Error {
  override readonly name = "AuthorityUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A token request outside what the authority allows (a TTL over the maximum, say). */
export class InvalidTokenRequestError extends Error {
  override readonly name = "InvalidTokenRequestError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
