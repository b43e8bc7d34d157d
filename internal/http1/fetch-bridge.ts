// The way from this server to a Fetch handler (a Hono app) for the paths that are not the proxy's
// hot path: probes, metrics, the local API. The request becomes a Fetch Request (its body a
// stream), the Response comes back as fields and a body: bytes for an ordinary answer, a stream
// for an event stream, which must flow as it is produced.
import { fromWebStream, toWebStream } from "./body.ts";
import { Fields } from "./fields.ts";
import { originForm } from "./head.ts";
import type { HttpResponse, ServerRequest } from "./server.ts";

export type FetchHandler = (request: Request) => Response | Promise<Response>;

const STREAMED_TYPES = /^(text\/event-stream|application\/x-ndjson)\b/i;

/** Serves `request` with a Fetch handler; `origin` (e.g. http://127.0.0.1:15001) makes the URL. */
export async function serveFetch(request: ServerRequest, origin: string, handler: FetchHandler): Promise<HttpResponse> {
  const method = request.method;
  const hasBody = request.body !== null && method !== "GET" && method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = {
    method,
    headers: request.headers.toHeaders(),
    signal: request.signal,
  };
  const body = request.body;
  if (hasBody) {
    if (body instanceof Uint8Array) init.body = body;
    else {
      init.body = toWebStream(body!);
      init.duplex = "half";
    }
  } else if (body !== null && !(body instanceof Uint8Array)) {
    body.cancel(new Error("a GET or HEAD body is not read"));
  }
  const path = originForm(request.target);
  const target = path.startsWith("/") ? path : `/${path}`;
  const response = await handler(new Request(origin + target, init));
  const headers = Fields.fromHeaders(response.headers);
  if (response.body === null) return { status: response.status, headers, body: null };
  const type = response.headers.get("content-type") ?? "";
  if (STREAMED_TYPES.test(type)) return { status: response.status, headers, body: fromWebStream(response.body) };
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
}

/** An answer as a Fetch Response (its body a stream when it is one), for code and tests that read Responses. */
export function toFetchResponse(response: HttpResponse): Response {
  const body = response.body;
  const init = { status: response.status, headers: response.headers.toHeaders() };
  if (body === null) return new Response(null, init);
  return new Response(body instanceof Uint8Array ? body : toWebStream(body), init);
}

/** A Fetch Response as an answer (its body streamed, its declared length kept). */
export function fromFetchResponse(response: Response): HttpResponse {
  const headers = Fields.fromHeaders(response.headers);
  if (response.body === null) return { status: response.status, headers, body: null };
  const declared = response.headers.get("content-length");
  return { status: response.status, headers, body: fromWebStream(response.body, declared === null ? undefined : Number(declared)) };
}
