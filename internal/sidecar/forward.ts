// Sending one request on to the next hop (another node's sidecar, or the local app) as an HTTP
// proxy must: hop-by-hop fields dropped (RFC 9110 §7.6.1, and whatever Connection names), the
// body streamed through unless a retry may need it again, and a failure classified as a connect
// failure, a reset or a timeout so the retry policy can judge it.
import { BodyTooLargeError, ClientError, limitBody, readBody, type Body, type Fields } from "../http1/index.ts";

export { BodyTooLargeError };

/**
 * Fields that describe one connection, not the message: never forwarded, either way. Expect is
 * here too: this proxy answers 100-continue itself and sends the body on without waiting.
 */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"]);

/**
 * Removes the hop-by-hop fields (and those the Connection field names) in place and answers the
 * same object: one pass over the list, nothing allocated when there is nothing to remove.
 */
export function stripHopByHop(fields: Fields): Fields {
  const list = fields.list;
  let named: Set<string> | undefined;
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] !== "connection") continue;
    for (const token of list[i + 1]!.split(",")) {
      const name = token.trim().toLowerCase();
      if (name !== "") (named ??= new Set()).add(name);
    }
  }
  for (let i = list.length - 2; i >= 0; i -= 2) {
    const name = list[i]!;
    if (HOP_BY_HOP.has(name) || named?.has(name)) list.splice(i, 2);
  }
  return fields;
}

/** The request's fields, made ready for the next hop (in place); Host is the next hop's. */
export function forwardHeaders(incoming: Fields): Fields {
  stripHopByHop(incoming);
  incoming.delete("host");
  return incoming;
}

/**
 * Reads a whole request body, refusing more than `limit` bytes, for requests that may be sent
 * more than once (retries). Answers null for a request without a body.
 */
export async function bufferBody(body: Body, limit: number): Promise<Uint8Array | null> {
  if (body === null) return null;
  return readBody(body, limit);
}

/**
 * The body to stream on, refused at once (BodyTooLargeError) when its declared size is over
 * `limit`, else failing mid-stream once more than `limit` bytes have passed.
 */
export function limitedBody(body: Body, limit: number): Body {
  if (body === null) return null;
  if (body instanceof Uint8Array) {
    if (body.byteLength > limit) throw new BodyTooLargeError(limit);
    return body;
  }
  if (body.length !== undefined && body.length > limit) {
    body.cancel(new BodyTooLargeError(limit));
    throw new BodyTooLargeError(limit);
  }
  return limitBody(body, limit);
}

export type SendFailure = "connect" | "reset" | "timeout";

/** Why a call to the next hop failed, as the retry policy sees it; undefined for the caller's own abort. */
export function classifyFailure(error: unknown, timedOut: boolean): SendFailure | undefined {
  if (timedOut) return "timeout";
  if (error instanceof ClientError) return error.failure;
  const name = (error as { name?: unknown }).name;
  if (name === "TimeoutError") return "timeout";
  if (name === "AbortError") return undefined;
  return "reset";
}

/** A body failure that means the request was too large, however deep it was wrapped. */
export function isTooLarge(error: unknown): error is BodyTooLargeError {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof BodyTooLargeError) return true;
  }
  return false;
}
