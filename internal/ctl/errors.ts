// How a failed command reads: one line on stderr, `nagentctl: <message>`, and with -o json an
// `{"error": ...}` document on stdout too, so that a script's JSON parse never meets nothing.
import { NagentError, NotFoundError, UnavailableError } from "../../pkg/index.ts";
import { UsageError } from "./args.ts";
import type { CtlContext } from "./context.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** Ended by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/**
 * A 404 for a route the control plane does not serve (it predates that API), as opposed to a
 * missing key or node: the daemon skeleton answers those with "no route for METHOD PATH".
 */
export function isMissingRoute(error: unknown): error is NotFoundError {
  return error instanceof NotFoundError && error.code === "not_found" && /^no route for /.test(error.message);
}

/** One line saying what went wrong, for a person. */
export function describeError(error: unknown): string {
  if (error instanceof UnavailableError) return error.message;
  if (isMissingRoute(error)) {
    return `the control plane at ${error.endpoint ?? "?"} does not serve ${error.message.replace(/^no route for /, "")} (it predates this API; upgrade it)`;
  }
  if (error instanceof NagentError) {
    const path = typeof error.details.path === "string" ? ` at ${error.details.path}` : "";
    return `${error.message} (${error.status} ${error.code}${path})`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Prints a failure and answers the exit status it maps to. */
export function reportFailure(ctx: CtlContext | undefined, error: unknown, prefix = ""): number {
  const interrupted = ctx?.io.interrupt.aborted === true;
  const code = error instanceof UsageError ? EXIT_USAGE : interrupted ? EXIT_INTERRUPTED : EXIT_FAILED;
  const message = interrupted && !(error instanceof NagentError) ? "interrupted" : describeError(error);
  if (ctx) {
    ctx.io.err(`nagentctl: ${prefix}${message}\n`);
    // One line, so that it also ends `config watch -o json`'s stream of one object per line.
    if (ctx.json) ctx.io.out(`${JSON.stringify({ error: errorDocument(error, message) })}\n`);
  }
  return code;
}

function errorDocument(error: unknown, message: string): Record<string, unknown> {
  if (error instanceof UsageError) return { code: "usage", message };
  if (error instanceof UnavailableError) {
    return { code: error.code, message, failures: error.failures.map(({ endpoint, reason, status }) => ({ endpoint, reason, ...(status ? { status } : {}) })) };
  }
  if (error instanceof NagentError) {
    return { ...error.details, code: error.code, message: error.message, status: error.status, ...(error.endpoint ? { endpoint: error.endpoint } : {}) };
  }
  return { code: "failed", message };
}
