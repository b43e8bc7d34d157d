// Sending one request on to the next hop (another node's sidecar, or the local app) as an HTTP
// proxy must: hop-by-hop headers dropped (RFC 9110 §7.6.1, and whatever Connection names),
// X-Forwarded-For extended, the body streamed through unless a retry may need it again, and a
// failure classified as a connect failure, a reset or a timeout so the retry policy can judge it.

/** Headers that describe one connection, not the message: never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** The headers to send on: the incoming ones minus hop-by-hop, plus X-Forwarded-For. */
export function forwardHeaders(incoming: Headers, clientAddress: string | undefined): Headers {
  const out = new Headers();
  const named = incoming.get("connection");
  const extra = named ? new Set(named.toLowerCase().split(",").map((token) => token.trim())) : undefined;
  incoming.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || extra?.has(name)) return;
    out.append(name, value);
  });
  if (clientAddress) {
    const prior = incoming.get("x-forwarded-for");
    out.set("x-forwarded-for", prior ? `${prior}, ${clientAddress}` : clientAddress);
  }
  return out;
}

/**
 * Response headers to pass back: hop-by-hop ones removed. Content-Length stays: the body is
 * passed through byte for byte (fetched with decompression off), so it still holds.
 */
export function responseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  const named = upstream.get("connection");
  const extra = named ? new Set(named.toLowerCase().split(",").map((token) => token.trim())) : undefined;
  upstream.forEach((value, name) => {
    if (name !== "content-length" && (HOP_BY_HOP.has(name) || extra?.has(name))) return;
    out.append(name, value);
  });
  return out;
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
