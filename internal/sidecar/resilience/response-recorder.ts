// Remembers a successful GET for the cache fallback while the caller reads it: the body passes
// through a TransformStream that copies each chunk into one growing buffer, so it is read from
// upstream once and held at most once more, and never beyond the cache's per-entry limit (past it
// the copy is dropped and the bytes only flow through). The entry is stored when the body ends; a
// body the caller abandons is not stored.
import type { LastGoodResponses, ResponseSnapshot } from "./last-good-responses.ts";

const EMPTY = new Uint8Array(0);

/**
 * Returns `response` with its body recorded into `cache` under `key` once fully read, or the
 * response itself when it cannot be cached: a content-length over the per-entry limit, or
 * `cache-control: no-store`. Set-Cookie headers are left out of the snapshot, so a fallback never
 * hands one caller's cookie to another.
 */
export function recordResponse(response: Response, key: string, cache: LastGoodResponses): Response {
  const cacheControl = response.headers.get("cache-control");
  if (cacheControl !== null && /(^|[\s,])no-store($|[\s,;])/i.test(cacheControl)) return response;
  const length = response.headers.get("content-length");
  if (length !== null && Number(length) > cache.maxEntryBytes) return response;
  const headers = snapshotHeaders(response.headers);
  const body = response.body;
  if (body === null) {
    cache.remember(key, { status: response.status, headers, body: EMPTY, storedAt: cache.now() });
    return response;
  }
  const recorder = new BodyRecorder(cache, key, response.status, headers, length === null ? 0 : Number(length));
  return new Response(body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(recorder)), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function snapshotHeaders(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of headers) if (name !== "set-cookie") out.push([name, value]);
  return out;
}

class BodyRecorder implements Transformer<Uint8Array, Uint8Array> {
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

  transform(chunk: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>): void {
    controller.enqueue(chunk);
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    if (!(chunk instanceof Uint8Array) || this.#length + chunk.byteLength > this.cache.maxEntryBytes) {
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

  flush(): void {
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
}
