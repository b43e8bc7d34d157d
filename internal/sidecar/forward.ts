// Sending one request on to the next hop (another node's sidecar, or the local app) as an HTTP
// proxy must: hop-by-hop headers dropped (RFC 9110 §7.6.1, and whatever Connection names),
// X-Forwarded-For extended, the body streamed through unless a retry may need it again, and a
// failure classified as a connect failure, a reset or a timeout so the retry policy can judge it.

/** Headers that describe one connection, not the message: never forwarded, either way. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
] as const;

/**
 * Removes the hop-by-hop headers (and those the Connection header names) in place and answers
 * the same object. In place, because Bun's request and response headers are mutable and a copy
 * per hop is a real share of a proxy's cost.
 */
export function stripHopByHop(headers: Headers): Headers {
  const named = headers.get("connection");
  if (named !== null) {
    for (const token of named.split(",")) {
      const name = token.trim().toLowerCase();
      if (name !== "") headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP) if (headers.has(name)) headers.delete(name);
  return headers;
}

/** The request's headers, made ready for the next hop (in place); Host is the next hop's. */
export function forwardHeaders(incoming: Headers): Headers {
  stripHopByHop(incoming);
  incoming.delete("host");
  return incoming;
}

/** A body over the configured limit. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`request body is larger than the limit of ${limit} bytes`);
  }
}

/**
 * Reads a whole request body, refusing more than `limit` bytes, for requests that may be sent
 * more than once (retries). Answers undefined for a request without a body.
 */
export async function bufferBody(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (request.body === null) return undefined;
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new BodyTooLargeError(limit);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

/**
 * The body as a stream that errors once more than `limit` bytes have passed, for requests
 * forwarded without buffering; a declared Content-Length over the limit is refused at once.
 */
export function limitedBody(request: Request, limit: number): ReadableStream<Uint8Array> | null {
  if (request.body === null) return null;
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new BodyTooLargeError(limit);
  if (declared !== null) return request.body;
  let seen = 0;
  return request.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) controller.error(new BodyTooLargeError(limit));
        else controller.enqueue(chunk);
      },
    }),
  );
}

export type SendFailure = "connect" | "reset" | "timeout";

/** Why a fetch to the next hop failed, as the retry policy sees it; undefined for the caller's own abort. */
export function classifyFailure(error: unknown, timedOut: boolean): SendFailure | undefined {
  if (timedOut) return "timeout";
  const code = (error as { code?: unknown }).code;
  const name = (error as { name?: unknown }).name;
  if (name === "TimeoutError") return "timeout";
  if (name === "AbortError") return undefined;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused" || code === "ENOTFOUND" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return "connect";
  }
  return "reset";
}
