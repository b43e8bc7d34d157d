// Typed errors of the sidecar's credential check.

/**
 * No control-plane member answered an introspection (all unreachable, timed out, or the client's
 * breaker is open). The verifier turns it into its down policy; it never reaches a caller of
 * `verify`. The message names no token.
 */
export class ControlPlaneUnavailableError extends Error {
  override readonly name = "ControlPlaneUnavailableError";
  /** The members that were tried. */
  readonly endpoints: readonly string[];

  constructor(message: string, options: { cause?: unknown; endpoints?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.endpoints = options.endpoints ?? [];
  }
}
