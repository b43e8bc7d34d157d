// Shared pieces for this folder's tests: raw TCP peers that send and read bytes exactly (so that
// malformed input can be sent and framing checked byte for byte), a small independent HTTP/1.1
// response reader, controllable body sources and sinks, and a cleanup list that every test file
// runs after each test so that no socket, server or timer outlives its test.
import net from "node:net";
import type { Socket, TCPSocketListener } from "bun";
import type { BodySink, BodySource, Body } from "./body.ts";
import { Fields } from "./fields.ts";
import { listenHttp1, type Http1Server, type HttpResponse, type ServerHandler, type ServerOptions } from "./server.ts";

// ---------------------------------------------------------------------------------------------
// Cleanup

const cleanups: Array<() => unknown> = [];

/** Registers `fn` to run after the current test (last registered runs first). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** Runs and forgets every registered cleanup; for afterEach. */
export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch {
      // a cleanup that fails must not hide the test's own result
    }
  }
}

/** Resolves after `ms`, and the timer is cleared if the test ends first. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    onCleanup(() => clearTimeout(timer));
  });
}

/** Rejects after `ms` naming `what`; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it holds (every 5 ms, at most `ms`). */
export async function waitUntil(check: () => boolean, what: string | (() => string), ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${typeof what === "string" ? what : what()}: not reached within ${ms} ms`);
    await Bun.sleep(5);
  }
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// ---------------------------------------------------------------------------------------------
// Bytes

export const latin1 = (text: string): Buffer => Buffer.from(text, "latin1");
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");

export function concatBytes(chunks: readonly Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

/** Deterministic pseudo-random bytes (a body whose every byte is checked). */
export function patternBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** What a sink was told. */
export class RecordingSink implements BodySink {
  readonly chunks: Uint8Array[] = [];
  ended = 0;
  failures: Error[] = [];
  /** What write answers (a function to vary it per call). */
  answer: boolean | ((chunk: Uint8Array, index: number) => boolean) = true;
  readonly #done = deferred<void>();

  /** Resolves on end, rejects on fail. */
  get settled(): Promise<void> {
    return this.#done.promise;
  }

  write(chunk: Uint8Array): boolean {
    this.chunks.push(chunk);
    return typeof this.answer === "function" ? this.answer(chunk, this.chunks.length - 1) : this.answer;
  }

  end(): void {
    this.ended++;
    this.#done.resolve();
  }

  fail(error: Error): void {
    this.failures.push(error);
    this.#done.reject(error);
  }

  get bytes(): Buffer {
    return concatBytes(this.chunks);
  }

  get size(): number {
    let n = 0;
    for (const chunk of this.chunks) n += chunk.byteLength;
    return n;
  }
}

/** A source the test drives by hand: push(), end(), fail(); records resume() and cancel(). */
export class PushSource implements BodySource {
  sink: BodySink | undefined;
  resumes = 0;
  cancelled: Error | undefined;
  cancels = 0;
  /** Every answer write() gave. */
  readonly answers: boolean[] = [];
  readonly piped = deferred<BodySink>();
  #onResume: (() => void) | undefined;

  constructor(readonly length: number | undefined = undefined) {}

  pipe(sink: BodySink): void {
    if (this.sink !== undefined) throw new Error("piped twice");
    this.sink = sink;
    this.piped.resolve(sink);
  }

  push(chunk: Uint8Array | string): boolean {
    if (this.sink === undefined) throw new Error("not piped yet");
    const ok = this.sink.write(typeof chunk === "string" ? latin1(chunk) : chunk);
    this.answers.push(ok);
    return ok;
  }

  end(): void {
    this.sink!.end();
  }

  fail(error: Error): void {
    this.sink!.fail(error);
  }

  resume(): void {
    this.resumes++;
    const wake = this.#onResume;
    this.#onResume = undefined;
    wake?.();
  }

  /** Resolves at the next resume(). */
  nextResume(): Promise<void> {
    return new Promise((resolve) => {
      this.#onResume = resolve;
    });
  }

  cancel(reason: Error): void {
    this.cancels++;
    this.cancelled ??= reason;
  }
}

/** Reads a body whole (independently of readBody), rejecting with the error the source failed with. */
export function collect(body: Body): Promise<Buffer> {
  if (body === null) return Promise.resolve(Buffer.alloc(0));
  if (body instanceof Uint8Array) return Promise.resolve(concatBytes([body]));
  const sink = new RecordingSink();
  body.pipe(sink);
  return sink.settled.then(() => sink.bytes);
}

export async function bodyText(body: Body): Promise<string> {
  return (await collect(body)).toString("latin1");
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 response reader (independent of head.ts and chunked.ts)

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: string;
  /** Lower-cased names, wire order. */
  readonly headers: Array<[string, string]>;
  readonly body: Buffer;
  /** The head as sent. */
  readonly head: string;
  header(name: string): string | undefined;
  all(name: string): string[];
}

function makeResponse(head: string, body: Buffer): RawResponse {
  const lines = head.split("\r\n");
  const statusLine = lines[0] ?? "";
  const match = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (match === null) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`not a field line: ${JSON.stringify(line)}`);
    headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return {
    status: Number(match[2]),
    reason: match[3] ?? "",
    version: match[1]!,
    headers,
    body,
    head,
    header: (name) => headers.find(([n]) => n === name)?.[1],
    all: (name) => headers.filter(([n]) => n === name).map(([, v]) => v),
  };
}

/** Decodes a chunked body from `from`; undefined while incomplete. Throws on a framing error. */
function readChunked(buf: Buffer, from: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = buf.indexOf("\r\n", at, "latin1");
    if (lineEnd < 0) return undefined;
    const sizeText = buf.toString("latin1", at, lineEnd).split(";")[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(buf.toString("latin1", at, lineEnd))}`);
    const size = parseInt(sizeText, 16);
    at = lineEnd + 2;
    if (size === 0) {
      // trailers up to an empty line
      for (;;) {
        const end = buf.indexOf("\r\n", at, "latin1");
        if (end < 0) return undefined;
        if (end === at) return { body: Buffer.concat(parts), end: end + 2 };
        at = end + 2;
      }
    }
    if (buf.length < at + size + 2) return undefined;
    parts.push(buf.subarray(at, at + size));
    if (buf[at + size] !== 13 || buf[at + size + 1] !== 10) throw new Error("chunk data not followed by CRLF");
    at += size + 2;
  }
}

/**
 * The response starting at `from` in `buf`, and where it ends; undefined while incomplete. A body
 * without a length ends at the close of the connection (`closed`).
 */
export function parseRawResponse(buf: Buffer, from: number, method = "GET", closed = false): { response: RawResponse; end: number } | undefined {
  const headEnd = buf.indexOf("\r\n\r\n", from, "latin1");
  if (headEnd < 0) return undefined;
  const head = buf.toString("latin1", from, headEnd);
  const bodyStart = headEnd + 4;
  const probe = makeResponse(head, Buffer.alloc(0));
  const status = probe.status;
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) return { response: probe, end: bodyStart };
  const te = probe.header("transfer-encoding");
  if (te !== undefined && /chunked\s*$/i.test(te)) {
    const chunked = readChunked(buf, bodyStart);
    if (chunked === undefined) return undefined;
    return { response: makeResponse(head, chunked.body), end: chunked.end };
  }
  const cl = probe.header("content-length");
  if (cl !== undefined) {
    const length = Number(cl);
    if (buf.length < bodyStart + length) return undefined;
    return { response: makeResponse(head, Buffer.from(buf.subarray(bodyStart, bodyStart + length))), end: bodyStart + length };
  }
  if (!closed) return undefined;
  return { response: makeResponse(head, Buffer.from(buf.subarray(bodyStart))), end: buf.length };
}

// ---------------------------------------------------------------------------------------------
// A raw client connection

/** A client socket that sends exact bytes and reads the raw answer (node:net, so it can half-close and pause). */
export class RawClient {
  readonly socket: net.Socket;
  #chunks: Buffer[] = [];
  #received: Buffer = Buffer.alloc(0);
  #changed: Array<() => void> = [];
  /** Where the next readResponse() starts. */
  offset = 0;
  isClosed = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    const closed = deferred<void>();
    this.closed = closed.promise;
    socket.on("data", (data: Buffer) => {
      this.#chunks.push(data);
      this.#notify();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.isClosed = true;
      closed.resolve();
      this.#notify();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      const client = new RawClient(socket);
      onCleanup(() => client.destroy());
      socket.once("connect", () => resolve(client));
      socket.once("error", reject);
    });
  }

  #notify(): void {
    const waiters = this.#changed;
    this.#changed = [];
    for (const wake of waiters) wake();
  }

  /** Everything received so far. */
  get received(): Buffer {
    if (this.#chunks.length > 0) {
      this.#received = Buffer.concat([this.#received, ...this.#chunks]);
      this.#chunks = [];
    }
    return this.#received;
  }

  get receivedText(): string {
    return this.received.toString("latin1");
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === "string" ? latin1(data) : data, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Queues `data` without waiting for it to be sent (for bodies larger than the socket takes at once). */
  writeNoWait(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? latin1(data) : data, () => {});
  }

  /** Sends `data` in pieces of `size` bytes, each as its own write with a turn of the event loop between. */
  async writeInPieces(data: string | Uint8Array, size: number, pauseMs = 1): Promise<void> {
    const bytes = typeof data === "string" ? latin1(data) : Buffer.from(data);
    for (let at = 0; at < bytes.length; at += size) {
      await this.write(bytes.subarray(at, at + size));
      await Bun.sleep(pauseMs);
    }
  }

  /** Resolves once `check(received)` holds; rejects at `ms` (or when the connection closes first). */
  async waitFor(check: (received: Buffer) => boolean, what: string, ms = 5_000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const received = this.received;
      if (check(received)) return received;
      if (this.isClosed) throw new Error(`${what}: the connection closed first; received ${JSON.stringify(received.toString("latin1").slice(0, 400))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: not within ${ms} ms; received ${JSON.stringify(received.toString("latin1").slice(0, 400))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves when the peer closed; rejects after `ms`. */
  waitForClose(ms = 5_000): Promise<void> {
    return within(this.closed, ms, "the server closing the connection");
  }

  /** The next whole response (from `offset`), which advances past it. */
  async readResponse(method = "GET", ms = 5_000): Promise<RawResponse> {
    let parsed: { response: RawResponse; end: number } | undefined;
    const deadline = Date.now() + ms;
    for (;;) {
      parsed = parseRawResponse(this.received, this.offset, method, this.isClosed);
      if (parsed !== undefined) break;
      if (this.isClosed) throw new Error(`the connection closed before a whole response; received ${JSON.stringify(this.received.toString("latin1").slice(this.offset, this.offset + 400))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response within ${ms} ms; received ${JSON.stringify(this.received.toString("latin1").slice(this.offset, this.offset + 400))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.offset = parsed.end;
    return parsed.response;
  }

  /** Half-closes (FIN) the sending side. */
  endWriting(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

export const encoder = new TextEncoder();

/** The JSON error answer the sidecar gives, as the errorResponse option wants it. */
export function jsonError(status: number, code: string, message: string): HttpResponse {
  return {
    status,
    headers: new Fields(["content-type", "application/json"]),
    body: encoder.encode(JSON.stringify({ error: { code, message } })),
  };
}

/** A response with bytes. */
export function reply(status: number, body: string | Uint8Array | null, headers: string[] = []): HttpResponse {
  return { status, headers: new Fields(headers.slice()), body: typeof body === "string" ? latin1(body) : body };
}

/** listenHttp1 on 127.0.0.1 port 0, stopped (forced) after the test. */
export function startServer(handler: ServerHandler, options: Partial<ServerOptions> = {}): Http1Server {
  const server = listenHttp1({ hostname: "127.0.0.1", port: 0, errorResponse: jsonError, ...options, handler });
  onCleanup(() => server.stop(true));
  return server;
}

/** A free port nobody listens on (listened on, then closed). */
export function closedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** One connection to a RawServer, as its handler sees it. */
export interface RawPeer {
  readonly id: number;
  readonly socket: Socket<RawPeerState>;
  /** Everything received on this connection (latin1). */
  readonly received: () => string;
  write(data: string | Uint8Array): void;
  end(): void;
  closed: boolean;
}

interface RawPeerState {
  peer: RawPeer;
  buffer: string;
  chunks: string[];
}

/** A request as a RawServer read it: its head (latin1) and body (for Content-Length or chunked requests). */
export interface RawRequest {
  readonly head: string;
  readonly method: string;
  readonly target: string;
  readonly body: string;
  header(name: string): string | undefined;
}

function readRawRequest(buffer: string): { request: RawRequest; end: number } | undefined {
  const headEnd = buffer.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const head = buffer.slice(0, headEnd);
  const lines = head.split("\r\n");
  const [method = "", target = ""] = (lines[0] ?? "").split(" ");
  const fields = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
  });
  const header = (name: string) => fields.find(([n]) => n === name)?.[1];
  let at = headEnd + 4;
  let body = "";
  if (/chunked/i.test(header("transfer-encoding") ?? "")) {
    for (;;) {
      const lineEnd = buffer.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.slice(at, lineEnd).split(";")[0]!, 16);
      at = lineEnd + 2;
      if (size === 0) {
        const end = buffer.indexOf("\r\n\r\n", at - 2);
        if (end < 0) return undefined;
        at = end + 4;
        break;
      }
      if (buffer.length < at + size + 2) return undefined;
      body += buffer.slice(at, at + size);
      at += size + 2;
    }
  } else {
    const length = Number(header("content-length") ?? "0");
    if (buffer.length < at + length) return undefined;
    body = buffer.slice(at, at + length);
    at += length;
  }
  return { request: { head, method, target, body, header }, end: at };
}

/** A raw TCP upstream: counts connections and hands each whole request to `onRequest`. */
export class RawServer {
  readonly listener: TCPSocketListener<RawPeerState>;
  readonly peers: RawPeer[] = [];
  readonly requests: Array<{ peer: RawPeer; request: RawRequest }> = [];

  constructor(onRequest: (peer: RawPeer, request: RawRequest, index: number) => void) {
    const server = this;
    this.listener = Bun.listen<RawPeerState>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          const peer: RawPeer = {
            id: server.peers.length,
            socket,
            received: () => socket.data.chunks.join(""),
            write(data) {
              if (!peer.closed) socket.write(data);
            },
            end() {
              if (!peer.closed) socket.end();
            },
            closed: false,
          };
          socket.data = { peer, buffer: "", chunks: [] };
          server.peers.push(peer);
        },
        data(socket, data) {
          const state = socket.data;
          const chunk = data.toString("latin1");
          state.chunks.push(chunk);
          state.buffer += chunk;
          for (;;) {
            const read = readRawRequest(state.buffer);
            if (read === undefined) break;
            state.buffer = state.buffer.slice(read.end);
            server.requests.push({ peer: state.peer, request: read.request });
            onRequest(state.peer, read.request, server.requests.length - 1);
          }
        },
        close(socket) {
          if (socket.data !== undefined) socket.data.peer.closed = true;
        },
        error(socket) {
          if (socket.data !== undefined) socket.data.peer.closed = true;
        },
      },
    });
    onCleanup(() => this.stop());
  }

  get port(): number {
    return this.listener.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.listener.stop(true);
  }
}

/** Seeds for randomised tests: HTTP1_SEED alone when set (to replay a failure), else `defaults`. */
export function testSeeds(defaults: readonly number[]): number[] {
  const fromEnv = process.env.HTTP1_SEED;
  return fromEnv === undefined ? defaults.slice() : [Number(fromEnv)];
}

/** Runs `body(seed)`, naming the seed and how to replay it when it throws. */
export function withSeed(seed: number, body: (seed: number) => void): void {
  try {
    body(seed);
  } catch (error) {
    console.error(`failed with seed ${seed}; replay with HTTP1_SEED=${seed}`);
    throw error;
  }
}
