// An HTTP/1.1 client on Bun's TCP sockets with a keep-alive pool per origin, for the sidecar's
// calls to other sidecars and to its local app.
//
// Why by hand and not fetch: Bun's fetch runs on its own HTTP thread, so every call crosses
// threads twice and builds a Request, Headers and a Response with a stream; on the benchmark
// machine a Bun.serve proxy moved about 20% more requests per second when fetch was replaced with
// this kind of client on the event loop's own thread. It also gives the proxy what fetch hides:
// whether a connection was fresh or reused (a request that loses the race with a server closing an
// idle connection is sent again on a new one when it is safe to), and failures classified as a
// connect failure, a reset or a timeout for the retry policy.
import type { Socket, TCPSocketConnectOptions } from "bun";
import { BodyError, bodyLength, type Body, type BodySource } from "./body.ts";
import { ChunkedError } from "./chunked.ts";
import { Fields } from "./fields.ts";
import { HeadError, findHeadEnd, parseResponseHead, responseFraming, type ResponseHead } from "./head.ts";
import { IncomingBody, type BodyControl } from "./incoming.ts";
import { BodyWriter, HEAD, Output } from "./output.ts";

/** Where requests go: scheme, host and port, parsed once per address. */
export interface Origin {
  readonly hostname: string;
  readonly port: number;
  readonly tls: boolean;
  /** The Host field's value. */
  readonly host: string;
  /** The pool's key. */
  readonly key: string;
}

const origins = new Map<string, Origin>();

/** The origin of an http: or https: URL (its path is ignored); cached per string. Throws TypeError for anything else. */
export function originOf(url: string): Origin {
  const known = origins.get(url);
  if (known !== undefined) return known;
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new TypeError(`not an http(s) URL: ${url}`);
  const tls = parsed.protocol === "https:";
  const hostname = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = parsed.port === "" ? (tls ? 443 : 80) : Number(parsed.port);
  const origin: Origin = { hostname, port, tls, host: parsed.host, key: `${parsed.protocol}//${parsed.host}` };
  if (origins.size > 10_000) origins.clear();
  origins.set(url, origin);
  return origin;
}

/** A request to send. The caller's fields go as they are (strip hop-by-hop ones first); Host is added if missing. */
export interface ClientRequest {
  readonly method: string;
  /** Origin-form: path and query. */
  readonly target: string;
  readonly headers: Fields;
  readonly body: Body;
}

/** An answer: status, fields (framing fields removed) and the body: bytes when it came whole with the head, else a source as it arrives. */
export interface ClientResponse {
  readonly status: number;
  readonly headers: Fields;
  readonly body: Body;
}

export type ClientFailure = "connect" | "reset" | "timeout";

/** A call that got no usable answer, classified for the retry policy. */
export class ClientError extends Error {
  override readonly name = "ClientError";
  constructor(
    readonly failure: ClientFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ClientOptions {
  /** Idle connections kept per origin; default 256. */
  readonly maxIdlePerOrigin?: number;
  /** An idle connection is closed after this long; default 30 s (a few seconds' granularity). */
  readonly idleTimeoutSeconds?: number;
  /** Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Largest response head; default 64 KiB. */
  readonly maxHeadBytes?: number;
  /** Default 100. */
  readonly maxFields?: number;
  /** Told of a bug met while handling a socket event (the connection is closed). */
  readonly onInternalError?: (error: unknown) => void;
  /** For https origins: CA certificates (PEM) to trust besides the system's, e.g. a mesh's private CA. */
  readonly ca?: string | readonly string[];
}

const enum Phase {
  Connecting,
  Idle,
  /** Request sent (or being sent), waiting for the response head. */
  Waiting,
  /** Response head received, its body being read. */
  Reading,
  Dead,
}

/** Fields of a response this client handles itself. */
function isFramingField(name: string): boolean {
  return name === "content-length" || name === "transfer-encoding" || name === "connection" || name === "keep-alive";
}

/**
 * A cheap way to learn that the caller went away, without an AbortController per request: the
 * server's requests provide one. The client sets `onCancel` while it waits for an answer.
 */
export interface CancelLink {
  readonly cancelled: boolean;
  /** The reason given to a request that is cancelled. */
  readonly cancelReason: unknown;
  onCancel: (() => void) | undefined;
}

/** Either way of cancelling a request. */
export type Cancellation = AbortSignal | CancelLink;

function isSignal(cancel: Cancellation): cancel is AbortSignal {
  return typeof (cancel as AbortSignal).addEventListener === "function";
}

function cancelledNow(cancel: Cancellation | undefined): boolean {
  if (cancel === undefined) return false;
  return isSignal(cancel) ? cancel.aborted : cancel.cancelled;
}

function reasonOf(cancel: Cancellation | undefined): unknown {
  if (cancel === undefined) return new DOMException("aborted", "AbortError");
  return isSignal(cancel) ? cancel.reason : cancel.cancelReason;
}

/** One request and its answer, across a possible second try on a fresh connection. */
class Exchange {
  resolve!: (response: ClientResponse) => void;
  reject!: (error: unknown) => void;
  readonly promise: Promise<ClientResponse>;
  settled = false;
  /** Sent on a connection that had carried an exchange before. */
  reused = false;
  connection: Connection | undefined;
  /** Set while waiting for the answer: aborts the exchange. */
  readonly abort = () => {
    const connection = this.connection;
    if (connection !== undefined && connection.exchange === this) connection.pool.client.destroy(connection, reasonOf(this.cancel));
  };

  constructor(
    readonly request: ClientRequest,
    readonly cancel: Cancellation | undefined,
    readonly pool: Pool,
  ) {
    this.promise = new Promise<ClientResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Whether the request could be sent again: no body, or bytes at hand. */
  get replayable(): boolean {
    const body = this.request.body;
    return body === null || body instanceof Uint8Array;
  }

  listen(): void {
    const cancel = this.cancel;
    if (cancel === undefined) return;
    if (isSignal(cancel)) cancel.addEventListener("abort", this.abort, { once: true });
    else cancel.onCancel = this.abort;
  }

  unlisten(): void {
    const cancel = this.cancel;
    if (cancel === undefined) return;
    if (isSignal(cancel)) cancel.removeEventListener("abort", this.abort);
    else if (cancel.onCancel === this.abort) cancel.onCancel = undefined;
  }
}

class Connection implements BodyControl {
  phase = Phase.Connecting;
  /** Set once the socket opens. */
  socket: Socket<Connection> | undefined;
  output: Output | undefined;
  exchange: Exchange | undefined;
  buffer: Buffer | undefined;
  body: IncomingBody | undefined;
  writer: BodyWriter | undefined;
  /** Exchanges completed on this connection. */
  uses = 0;
  /** Any byte of the current response seen. */
  gotBytes = false;
  requestSent = false;
  responseRead = false;
  reusable = true;
  /** The client's tick when the connection went idle. */
  idleSince = 0;
  /** Inside body.feed(): a body that ends there is released after feed returns, once stray bytes are known. */
  feeding = false;
  releaseAfterFeed = false;

  /** For a TLS origin: settles when the handshake is done (data written before it would be lost). */
  handshake: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(readonly pool: Pool) {}

  attach(socket: Socket<Connection>): void {
    this.socket = socket;
    this.output = new Output(socket as Socket<unknown>);
    socket.setNoDelay(true);
  }

  // BodyControl, for the response body.
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    if (this.phase !== Phase.Dead) this.socket?.resume();
  }

  abandon(): void {
    // The caller gave up on the body: the rest would have to be read to reuse the connection.
    this.reusable = false;
    this.pool.client.destroy(this, undefined);
  }
}

class Pool {
  readonly idle: Connection[] = [];
  constructor(
    readonly client: HttpClient,
    readonly origin: Origin,
  ) {}
}

/**
 * Socket events, shared by every connection (the connection is the socket's data). An exception
 * here would end the process, so each event is handled in its own try, and a bug closes the one
 * connection instead and is reported. No closure per event: these run for every packet.
 */
const HANDLERS = {
  open(socket: Socket<Connection>) {
    const connection = socket.data as Connection | undefined;
    if (connection === undefined) return;
    try {
      connection.attach(socket);
    } catch (error) {
      connection.pool.client.internalError(connection, error);
    }
  },
  data(socket: Socket<Connection>, chunk: Buffer) {
    const connection = socket.data as Connection | undefined;
    if (connection === undefined) return;
    try {
      connection.pool.client.onData(connection, chunk);
    } catch (error) {
      connection.pool.client.internalError(connection, error);
    }
  },
  drain(socket: Socket<Connection>) {
    const connection = socket.data as Connection | undefined;
    if (connection === undefined) return;
    try {
      connection.output?.drain();
    } catch (error) {
      connection.pool.client.internalError(connection, error);
    }
  },
  end(socket: Socket<Connection>) {
    HANDLERS.close(socket);
  },
  close(socket: Socket<Connection>) {
    const connection = socket.data as Connection | undefined;
    if (connection === undefined) return;
    try {
      connection.pool.client.onClose(connection);
    } catch (error) {
      connection.pool.client.internalError(connection, error);
    }
  },
  error(socket: Socket<Connection>) {
    HANDLERS.close(socket);
  },
  connectError() {
    // The connect promise rejects; #connect turns that into a ClientError.
  },
  handshake(socket: Socket<Connection>, success: boolean, error: Error | null) {
    const connection = socket.data as Connection | undefined;
    const waiting = connection?.handshake;
    if (connection === undefined || waiting === undefined) return;
    connection.handshake = undefined;
    if (success) waiting.resolve();
    else waiting.reject(new ClientError("connect", `TLS handshake with ${connection.pool.origin.hostname}:${connection.pool.origin.port} failed: ${error?.message ?? "refused"}`));
  },
};

/**
 * The client: request() sends one request on an idle connection to the origin or a new one, and
 * answers once the response head is in; the body streams after. A connection returns to its pool
 * when its response body has been read whole and neither side asked to close.
 */
export class HttpClient {
  readonly #pools = new Map<string, Pool>();
  readonly #maxIdle: number;
  readonly #idleSeconds: number;
  readonly #connectTimeoutMs: number;
  readonly #maxHead: number;
  readonly #maxFields: number;
  readonly #onInternalError: ((error: unknown) => void) | undefined;
  readonly #ca: string | string[] | undefined;
  #closed = false;
  /** Seconds counted by the sweep, which runs while any connection is idle. */
  #tick = 0;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(options: ClientOptions = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 256;
    this.#idleSeconds = options.idleTimeoutSeconds ?? 30;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.#maxHead = options.maxHeadBytes ?? 65_536;
    this.#maxFields = options.maxFields ?? 100;
    this.#onInternalError = options.onInternalError;
    this.#ca = options.ca === undefined ? undefined : typeof options.ca === "string" ? options.ca : [...options.ca];
  }

  /** Idle connections kept now, every origin (for tests and status pages). */
  get idleConnections(): number {
    let n = 0;
    for (const pool of this.#pools.values()) n += pool.idle.length;
    return n;
  }

  /**
   * Sends `request` to `origin`. Resolves with the response once its head has arrived; rejects
   * with a ClientError (connect, reset or timeout), or with the cancellation's reason when the
   * caller goes away first. A request whose reused connection closes before any answer is sent
   * once more on a new connection when its body can be sent again (none, or bytes at hand).
   */
  request(origin: Origin, request: ClientRequest, cancel?: Cancellation): Promise<ClientResponse> {
    if (this.#closed) return Promise.reject(new ClientError("connect", "the client is closed"));
    if (cancelledNow(cancel)) return Promise.reject(reasonOf(cancel));
    const pool = this.#pool(origin);
    const exchange = new Exchange(request, cancel, pool);
    let connection = pool.idle.pop();
    while (connection !== undefined && connection.phase !== Phase.Idle) connection = pool.idle.pop();
    if (connection !== undefined) {
      exchange.reused = true;
      this.#send(connection, exchange);
    } else {
      this.#connectAndSend(exchange);
    }
    return exchange.promise;
  }

  #connectAndSend(exchange: Exchange): void {
    this.#connect(exchange.pool, exchange.cancel).then(
      (connection) => {
        if (exchange.settled || cancelledNow(exchange.cancel)) {
          this.#park(connection);
          if (!exchange.settled) {
            exchange.settled = true;
            exchange.reject(reasonOf(exchange.cancel));
          }
          return;
        }
        this.#send(connection, exchange);
      },
      (error: unknown) => {
        if (exchange.settled) return;
        exchange.settled = true;
        exchange.reject(error);
      },
    );
  }

  /**
   * Once a second while connections are idle: closes those idle for idleTimeoutSeconds. A sweep
   * rather than a socket timeout per connection, which would be re-armed on every request.
   */
  #sweeping(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      const now = ++this.#tick;
      let idle = 0;
      for (const pool of this.#pools.values()) {
        for (const connection of pool.idle.slice()) {
          if (now - connection.idleSince >= this.#idleSeconds) this.destroy(connection, undefined);
          else idle++;
        }
      }
      if (idle === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, 1000);
    this.#sweeper.unref?.();
  }

  /** A bug met while handling a socket event: that connection is closed, the error reported. */
  internalError(connection: Connection, error: unknown): void {
    try {
      this.#onInternalError?.(error);
    } finally {
      this.destroy(connection, new ClientError("reset", `internal error in the HTTP client: ${(error as Error)?.message ?? String(error)}`));
    }
  }

  /** Closes every idle connection and refuses new requests; busy ones finish. */
  close(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) {
      for (const connection of pool.idle.splice(0)) this.destroy(connection, undefined);
    }
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #pool(origin: Origin): Pool {
    let pool = this.#pools.get(origin.key);
    if (pool === undefined) {
      pool = new Pool(this, origin);
      this.#pools.set(origin.key, pool);
    }
    return pool;
  }

  async #connect(pool: Pool, cancel: Cancellation | undefined): Promise<Connection> {
    const origin = pool.origin;
    const where = `${origin.hostname}:${origin.port}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const connection = new Connection(pool);
    const handshake = origin.tls
      ? new Promise<void>((resolve, reject) => {
          connection.handshake = { resolve, reject };
        })
      : undefined;
    const connecting = Bun.connect<Connection>({
      hostname: origin.hostname,
      port: origin.port,
      ...(origin.tls ? { tls: { serverName: origin.hostname, ...(this.#ca === undefined ? {} : { ca: this.#ca }) } } : {}),
      socket: HANDLERS,
      data: connection,
    } as unknown as TCPSocketConnectOptions<Connection>);
    const signal = cancel !== undefined && isSignal(cancel) ? cancel : undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClientError("connect", `connecting to ${where} timed out after ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
      if (signal !== undefined) {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
    let socket: Socket<Connection>;
    try {
      socket = await Promise.race([connecting, guard]);
      // TLS: nothing may be written before the handshake is done; a certificate refused is a connect failure.
      if (handshake !== undefined) await Promise.race([handshake, guard]);
    } catch (error) {
      // A connection that opens after we stopped waiting is closed when it does.
      connection.phase = Phase.Dead;
      connecting.then((late) => late.terminate(), () => {});
      if (error instanceof ClientError || cancelledNow(cancel)) throw error;
      const code = (error as { code?: string }).code;
      throw new ClientError("connect", `cannot connect to ${where}${code ? ` (${code})` : ""}: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
    if (connection.socket === undefined) connection.attach(socket);
    return connection;
  }

  #send(connection: Connection, exchange: Exchange): void {
    connection.phase = Phase.Waiting;
    connection.exchange = exchange;
    exchange.connection = connection;
    connection.gotBytes = false;
    connection.requestSent = false;
    connection.responseRead = false;
    connection.buffer = undefined;
    connection.body = undefined;
    exchange.listen();

    const request = exchange.request;
    const body = request.body;
    const length = bodyLength(body);
    const head = HEAD.start().add(request.method).add(" ").add(request.target).add(" HTTP/1.1\r\n");
    const list = request.headers.list;
    let hasHost = false;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (name === "host") hasHost = true;
      else if (isFramingField(name)) continue;
      head.field(name, list[i + 1]!);
    }
    if (!hasHost) head.field("host", connection.pool.origin.host);
    if (length === undefined) head.field("transfer-encoding", "chunked");
    else if (length > 0 || (request.method !== "GET" && request.method !== "HEAD")) head.field("content-length", String(length));
    head.end();

    const output = connection.output!;
    if (body === null || body instanceof Uint8Array) {
      output.writeBuiltHead(body ?? undefined);
      connection.requestSent = true;
      return;
    }
    output.writeBuiltHead();
    const writer = new BodyWriter(
      output,
      body,
      length === undefined,
      () => {
        if (writer.excess) connection.reusable = false;
        connection.writer = undefined;
        connection.requestSent = true;
        if (connection.responseRead) this.#release(connection);
      },
      (error) => {
        // The request body broke off (the caller went away, or it was too large): the upstream
        // must not take a truncated body for a whole one, so the connection is cut.
        connection.writer = undefined;
        this.destroy(connection, error);
      },
      length,
    );
    connection.writer = writer;
    writer.start();
  }

  onData(connection: Connection, chunk: Buffer): void {
    connection.gotBytes = true;
    if (connection.phase === Phase.Reading) {
      const body = connection.body;
      if (body === undefined) return;
      this.#feed(connection, body, chunk, 0);
      return;
    }
    if (connection.phase !== Phase.Waiting) {
      // Bytes on an idle connection nobody asked for: it cannot be trusted any more.
      this.destroy(connection, undefined);
      return;
    }
    this.#readHead(connection, connection.buffer === undefined ? chunk : Buffer.concat([connection.buffer, chunk]));
  }

  /** Feeds response body bytes; bytes past the body's end mean the connection is never reused. */
  #feed(connection: Connection, body: IncomingBody, bytes: Buffer, start: number): void {
    let used: number;
    connection.feeding = true;
    try {
      used = body.feed(bytes, start);
    } catch (error) {
      if (!(error instanceof ChunkedError)) throw error;
      this.destroy(connection, undefined);
      return;
    } finally {
      connection.feeding = false;
    }
    if (used < bytes.length) connection.reusable = false;
    if (connection.releaseAfterFeed) {
      connection.releaseAfterFeed = false;
      if (connection.requestSent) this.#release(connection);
    }
  }

  #readHead(connection: Connection, buffer: Buffer): void {
    const exchange = connection.exchange!;
    const where = `${connection.pool.origin.hostname}:${connection.pool.origin.port}`;
    const end = findHeadEnd(buffer, 0);
    if (end < 0) {
      if (buffer.length > this.#maxHead) {
        this.destroy(connection, new ClientError("reset", `the response head from ${where} is larger than ${this.#maxHead} bytes`));
      } else {
        connection.buffer = buffer;
      }
      return;
    }
    let head: ResponseHead;
    try {
      head = parseResponseHead(buffer, end, { maxFields: this.#maxFields });
    } catch (error) {
      if (!(error instanceof HeadError)) throw error;
      this.destroy(connection, new ClientError("reset", `malformed response from ${where}: ${error.message}`));
      return;
    }
    if (head.status < 200) {
      if (head.status === 101) {
        this.destroy(connection, new ClientError("reset", `${where} switched protocols, which this proxy does not carry`));
        return;
      }
      // 100 Continue and other interim answers: the final one follows.
      connection.buffer = undefined;
      if (end < buffer.length) this.#readHead(connection, buffer.subarray(end));
      return;
    }
    connection.buffer = undefined;
    const framing = responseFraming(head, exchange.request.method);
    const fields = head.fields;
    const hadLength = head.contentLength !== undefined;
    const hadCoding = head.codings !== undefined;
    if (hadLength && hadCoding) connection.reusable = false; // RFC 9112 §6.3: a message to distrust
    const list = fields.list;
    for (let i = list.length - 2; i >= 0; i -= 2) {
      const name = list[i]!;
      // A HEAD or 304 answer keeps its Content-Length: it describes the full answer, not this one.
      if (isFramingField(name) && !(name === "content-length" && framing.kind === "none" && !hadCoding)) list.splice(i, 2);
    }
    if (head.close || framing.kind === "close") connection.reusable = false;

    let body: IncomingBody | null = null;
    if (framing.kind === "none") {
      connection.responseRead = true;
    } else if (framing.kind === "length" && buffer.length - end >= framing.length) {
      // The whole body came with the head (the usual small answer): bytes at hand, no stream.
      connection.buffer = undefined;
      connection.body = undefined;
      connection.phase = Phase.Reading;
      connection.responseRead = true;
      if (buffer.length - end > framing.length) connection.reusable = false;
      this.#settle(exchange);
      exchange.resolve({ status: head.status, headers: fields, body: buffer.subarray(end, end + framing.length) });
      if (connection.requestSent) this.#release(connection);
      return;
    } else {
      body = new IncomingBody(framing, connection, (whole) => {
        if (!whole) return; // abandoned or failed: the connection is being destroyed
        connection.responseRead = true;
        if (connection.feeding) connection.releaseAfterFeed = true;
        else if (connection.requestSent) this.#release(connection);
      });
    }
    connection.body = body ?? undefined;
    connection.phase = Phase.Reading;
    this.#settle(exchange);
    exchange.resolve({ status: head.status, headers: fields, body });
    if (body !== null && end < buffer.length) {
      this.#feed(connection, body, buffer, end);
    } else if (body === null && end < buffer.length) {
      connection.reusable = false;
    }
    if (body === null && connection.requestSent) this.#release(connection);
  }

  /** The exchange got its answer (or failed): stop listening for its cancellation. */
  #settle(exchange: Exchange): void {
    exchange.settled = true;
    exchange.unlisten();
  }

  /** A connection with nothing on it: into the idle pool, or closed when the pool is full. */
  #park(connection: Connection): void {
    const pool = connection.pool;
    if (!connection.reusable || this.#closed || pool.idle.length >= this.#maxIdle || connection.socket === undefined) {
      this.destroy(connection, undefined);
      return;
    }
    connection.phase = Phase.Idle;
    connection.idleSince = this.#tick;
    pool.idle.push(connection);
    this.#sweeping();
  }

  /** Both the request and the response are through: back to the pool, or closed. */
  #release(connection: Connection): void {
    if (connection.phase !== Phase.Reading) return;
    connection.exchange = undefined;
    connection.body = undefined;
    connection.uses++;
    this.#park(connection);
  }

  onClose(connection: Connection): void {
    if (connection.phase === Phase.Dead) return;
    const where = `${connection.pool.origin.hostname}:${connection.pool.origin.port}`;
    if (connection.phase === Phase.Reading && connection.body !== undefined && !connection.body.ended) {
      // A body that runs until close ends here; any other is cut short.
      connection.body.connectionClosed();
      if (connection.body.ended) {
        connection.reusable = false;
        this.destroy(connection, undefined);
        return;
      }
    }
    this.destroy(connection, new ClientError("reset", `${where} closed the connection before answering`));
  }

  /** Closes the connection; the exchange on it (if unanswered) fails with `error`, its body is cut. */
  destroy(connection: Connection, error: unknown): void {
    if (connection.phase === Phase.Dead) return;
    const wasIdle = connection.phase === Phase.Idle;
    connection.phase = Phase.Dead;
    if (connection.output !== undefined) connection.output.closed = true;
    const exchange = connection.exchange;
    connection.exchange = undefined;
    if (exchange !== undefined && !exchange.settled) {
      if (exchange.reused && exchange.replayable && !connection.gotBytes && error instanceof ClientError && error.failure === "reset" && !this.#closed) {
        // The server closed the idle connection as we used it: once more, on a new one.
        exchange.reused = false;
        exchange.unlisten();
        exchange.connection = undefined;
        this.#connectAndSend(exchange);
      } else {
        this.#settle(exchange);
        exchange.reject(error ?? new ClientError("reset", "the connection was closed"));
      }
    } else if (exchange !== undefined) {
      const failure = error ?? new ClientError("reset", "the connection was closed");
      connection.body?.fail(failure instanceof Error ? new BodyError(failure.message, { cause: failure }) : new BodyError(String(failure)));
    }
    connection.writer?.abandon(new BodyError("the upstream connection closed"));
    connection.writer = undefined;
    if (wasIdle) {
      const idle = connection.pool.idle;
      const at = idle.indexOf(connection);
      if (at >= 0) idle.splice(at, 1);
    }
    connection.socket?.terminate();
  }
}
