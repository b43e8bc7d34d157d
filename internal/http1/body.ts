// Message bodies that stream: a source pushes chunks into a sink, which answers false when it
// cannot take more until the source is resumed. A socket's reader is a source and a socket's
// writer a sink, so a proxied body flows from one connection to the other as it arrives, with
// the reading socket paused while the writing one is full, never buffered whole. Much lighter
// than a WHATWG ReadableStream per message (no promise or queue per chunk), which is why the
// proxy path uses it; the edges convert (toWebStream, fromWebStream) where a Fetch object is needed.

/** Where a body's chunks go. */
export interface BodySink {
  /** One chunk, which the sink may keep; false asks the source to pause until resume(). */
  write(chunk: Uint8Array): boolean;
  /** The body ended whole. */
  end(): void;
  /** The body broke off: the peer went away, a framing error, a limit. */
  fail(error: Error): void;
}

/** A body that arrives over time. */
export interface BodySource {
  /** Its size when known in advance (a Content-Length), else undefined. */
  readonly length: number | undefined;
  /** Starts the flow into `sink`; at most once. Chunks may arrive before this returns. */
  pipe(sink: BodySink): void;
  /** More, please, after the sink's write answered false. */
  resume(): void;
  /** The consumer wants no more: the source stops and lets go of what it holds. Safe to call at any time. */
  cancel(reason: Error): void;
}

/** A body: bytes at hand, a source, or none. */
export type Body = Uint8Array | BodySource | null;

/** A body that grew past the configured limit. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`request body is larger than the limit of ${limit} bytes`);
  }
}

/** A body that broke off before its end (the peer went away, or its framing was wrong). */
export class BodyError extends Error {
  override readonly name = "BodyError";
}

const EMPTY = new Uint8Array(0);

/** The size of a body when known without reading it. */
export function bodyLength(body: Body): number | undefined {
  if (body === null) return 0;
  if (body instanceof Uint8Array) return body.byteLength;
  return body.length;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

/**
 * Reads a whole body into memory, refusing more than `limit` bytes (BodyTooLargeError, and the
 * source is cancelled). For bodies that may have to be sent twice (retries).
 */
export function readBody(body: Body, limit: number): Promise<Uint8Array> {
  if (body === null) return Promise.resolve(EMPTY);
  if (body instanceof Uint8Array) {
    return body.byteLength > limit ? Promise.reject(new BodyTooLargeError(limit)) : Promise.resolve(body);
  }
  if (body.length !== undefined && body.length > limit) {
    body.cancel(new BodyTooLargeError(limit));
    return Promise.reject(new BodyTooLargeError(limit));
  }
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    body.pipe({
      write(chunk) {
        if (settled) return false;
        size += chunk.byteLength;
        if (size > limit) {
          settled = true;
          const error = new BodyTooLargeError(limit);
          body.cancel(error);
          reject(error);
          return false;
        }
        chunks.push(chunk);
        return true;
      },
      end() {
        if (settled) return;
        settled = true;
        resolve(concat(chunks, size));
      },
      fail(error) {
        if (settled) return;
        settled = true;
        reject(error);
      },
    });
  });
}

/**
 * The source with a size limit: once more than `limit` bytes have passed, the sink gets
 * BodyTooLargeError and the source is cancelled. A source whose declared length is over the limit
 * should be refused before this (see bodyLength).
 */
export function limitBody(source: BodySource, limit: number): BodySource {
  if (source.length !== undefined && source.length <= limit) return source;
  return new LimitedBody(source, limit);
}

class LimitedBody implements BodySource, BodySink {
  #sink: BodySink | undefined;
  #seen = 0;
  #failed = false;

  constructor(
    private readonly source: BodySource,
    private readonly limit: number,
  ) {}

  get length(): number | undefined {
    return this.source.length;
  }

  pipe(sink: BodySink): void {
    this.#sink = sink;
    this.source.pipe(this);
  }

  resume(): void {
    this.source.resume();
  }

  cancel(reason: Error): void {
    this.source.cancel(reason);
  }

  write(chunk: Uint8Array): boolean {
    if (this.#failed) return false;
    this.#seen += chunk.byteLength;
    if (this.#seen > this.limit) {
      this.#failed = true;
      const error = new BodyTooLargeError(this.limit);
      this.source.cancel(error);
      this.#sink!.fail(error);
      return false;
    }
    return this.#sink!.write(chunk);
  }

  end(): void {
    if (!this.#failed) this.#sink!.end();
  }

  fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#sink!.fail(error);
  }
}

/**
 * Passes a source through unchanged while `observer` sees every chunk, then how it ended (for the
 * cache fallback, which keeps a copy of a good answer as the caller reads it).
 */
export function observeBody(source: BodySource, observer: { chunk(chunk: Uint8Array): void; end(): void; fail(error: Error): void }): BodySource {
  return {
    length: source.length,
    pipe(sink) {
      source.pipe({
        write(chunk) {
          observer.chunk(chunk);
          return sink.write(chunk);
        },
        end() {
          observer.end();
          sink.end();
        },
        fail(error) {
          observer.fail(error);
          sink.fail(error);
        },
      });
    },
    resume: () => source.resume(),
    cancel(reason) {
      observer.fail(reason);
      source.cancel(reason);
    },
  };
}

/** A source over bytes at hand (for code that wants a BodySource either way). */
export function bytesSource(bytes: Uint8Array): BodySource {
  let cancelled = false;
  return {
    length: bytes.byteLength,
    pipe(sink) {
      if (cancelled) return;
      if (bytes.byteLength > 0) sink.write(bytes);
      sink.end();
    },
    resume() {},
    cancel() {
      cancelled = true;
    },
  };
}

/** A WHATWG stream as a source, pulling while the sink takes more (the Fetch bridge's response bodies). */
export function fromWebStream(stream: ReadableStream<Uint8Array>, length?: number): BodySource {
  const reader = stream.getReader();
  let sink: BodySink | undefined;
  let pumping = false;
  let paused = false;
  let done = false;

  async function pump(): Promise<void> {
    if (pumping || done || sink === undefined) return;
    pumping = true;
    try {
      while (!paused && !done) {
        const { done: finished, value } = await reader.read();
        if (done) return;
        if (finished) {
          done = true;
          sink.end();
          return;
        }
        if (value.byteLength > 0 && !sink.write(value)) paused = true;
      }
    } catch (error) {
      if (done) return;
      done = true;
      sink.fail(error instanceof Error ? error : new BodyError(String(error)));
    } finally {
      pumping = false;
    }
  }

  return {
    length,
    pipe(target) {
      sink = target;
      void pump();
    },
    resume() {
      paused = false;
      void pump();
    },
    cancel(reason) {
      if (done) return;
      done = true;
      reader.cancel(reason).catch(() => {});
    },
  };
}

/** A source as a WHATWG stream (the Fetch bridge's request bodies). */
export function toWebStream(source: BodySource): ReadableStream<Uint8Array> {
  let controller: ReadableStreamDefaultController<Uint8Array>;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        if (!started) {
          started = true;
          source.pipe({
            write(chunk) {
              controller.enqueue(chunk);
              return (controller.desiredSize ?? 0) > 0;
            },
            end() {
              controller.close();
            },
            fail(error) {
              controller.error(error);
            },
          });
        } else {
          source.resume();
        }
      },
      cancel(reason) {
        source.cancel(reason instanceof Error ? reason : new BodyError(String(reason)));
      },
    },
    { highWaterMark: 65_536, size: (chunk) => chunk?.byteLength ?? 0 },
  );
}
