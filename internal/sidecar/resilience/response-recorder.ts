// Remembers a successful GET for the cache fallback while the caller reads it. An answer whose
// body came whole with its head is stored at once; a streamed one is copied chunk by chunk into
// one growing buffer as it passes, so it is read from upstream once and held at most once more,
// and never beyond the cache's per-entry limit (past it the copy is dropped and the bytes only
// flow through). A streamed entry is stored when the body ends; one the caller abandons is not.
import { observeBody, type HttpResponse } from "../../http1/index.ts";
import type { LastGoodResponses, ResponseSnapshot } from "./last-good-responses.ts";

const EMPTY = new Uint8Array(0);
const NO_STORE = /(^|[\s,])no-store($|[\s,;])/i;

/**
 * Returns `response` with its body recorded into `cache` under `key` once fully read (the same
 * object when the body is at hand), or the response untouched when it cannot be cached: a body
 * over the per-entry limit, or `cache-control: no-store`. Set-Cookie fields are left out of the
 * snapshot, so a fallback never hands one caller's cookie to another.
 */
export function recordResponse(response: HttpResponse, key: string, cache: LastGoodResponses): HttpResponse {
  const cacheControl = response.headers.get("cache-control");
  if (cacheControl !== null && NO_STORE.test(cacheControl)) return response;
  const body = response.body;
  if (body === null || body instanceof Uint8Array) {
    const bytes = body ?? EMPTY;
    if (bytes.byteLength <= cache.maxEntryBytes) {
      // A copy: the bytes may be a view into a socket's buffer.
      cache.remember(key, { status: response.status, headers: snapshotHeaders(response), body: bytes.slice(), storedAt: cache.now() });
    }
    return response;
  }
  if (body.length !== undefined && body.length > cache.maxEntryBytes) return response;
  const recorder = new BodyRecorder(cache, key, response.status, snapshotHeaders(response), body.length ?? 0);
  return { status: response.status, headers: response.headers, body: observeBody(body, recorder) };
}

function snapshotHeaders(response: HttpResponse): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of response.headers) if (name !== "set-cookie") out.push([name, value]);
  return out;
}

class BodyRecorder {
  #buffer: Uint8Array | undefined;
  #length = 0;

  constructor(
    private readonly cache: LastGoodResponses,
    private readonly key: string,
    private readonly status: number,
    private readonly headers: [string, string][],
    expectedLength: number,
  ) {
    this.#buffer = new Uint8Array(Math.min(Math.max(expectedLength, 1024), cache.maxEntryBytes));
  }

  chunk(chunk: Uint8Array): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    if (this.#length + chunk.byteLength > this.cache.maxEntryBytes) {
      this.#buffer = undefined;
      return;
    }
    let target = buffer;
    if (this.#length + chunk.byteLength > buffer.byteLength) {
      target = new Uint8Array(Math.min(Math.max(buffer.byteLength * 2, this.#length + chunk.byteLength), this.cache.maxEntryBytes));
      target.set(buffer.subarray(0, this.#length));
      this.#buffer = target;
    }
    target.set(chunk, this.#length);
    this.#length += chunk.byteLength;
  }

  end(): void {
    if (this.#buffer === undefined) return;
    const snapshot: ResponseSnapshot = {
      status: this.status,
      headers: this.headers,
      body: this.#buffer.slice(0, this.#length),
      storedAt: this.cache.now(),
    };
    this.#buffer = undefined;
    this.cache.remember(this.key, snapshot);
  }

  fail(): void {
    this.#buffer = undefined;
  }
}
