// An HTTP/1.1 server on Bun's TCP sockets, for the sidecar's proxy ports.
//
// Why by hand and not Bun.serve: measured on the benchmark machine, a proxy built on Bun.serve and
// fetch reaches about 0.7x of nginx's requests per second and costs about twice nginx's CPU per
// request at a fixed rate, while the same proxy on Bun's raw sockets with its own HTTP/1.1 code
// reaches about 1.1x nginx: Bun.serve materialises a Request, its Headers and a Response per call
// and fetch crosses to its own thread and back. Here a request is parsed from the bytes into a
// Fields list, handed to the handler, and its answer written back with one send(2) for the head
// and a small body. Bodies stream both ways with backpressure (see body.ts); keep-alive,
// pipelining (answered in order), HTTP/1.0 clients, Expect: 100-continue, strict parsing (head.ts),
// limits, lingering close and a graceful stop are handled here.
import type { Socket, TCPSocketListener } from "bun";
import { BodyError, BodyTooLargeError, bodyLength, type Body, type BodySource } from "./body.ts";
import { ChunkedError } from "./chunked.ts";
import { Fields } from "./fields.ts";
import { HeadError, findHeadEnd, hasBareLfEnd, originForm, parseRequestHead, reasonPhrase, type RequestHead } from "./head.ts";
import { IncomingBody, type BodyControl } from "./incoming.ts";
import { BodyWriter, HEAD, Output } from "./output.ts";
import type { CancelLink } from "./client.ts";

/** A request as the handler sees it. */
export interface ServerRequest extends CancelLink {
  readonly method: string;
  /** The request target as sent: normally origin-form, a path and query. */
  readonly target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly minor: 0 | 1;
  /** The request's fields; the handler may change them in place (to forward them). */
  readonly headers: Fields;
  /** Bytes when the whole body came with the head, a source while it arrives, null without a body. */
  readonly body: Body;
  /**
   * Aborted when the client goes away before the answer is written. Made on first use; the
   * cheaper CancelLink side (cancelled, onCancel) serves code that only needs to be told.
   */
  readonly signal: AbortSignal;
  readonly remoteAddress: string;
}

/** An answer: its status, fields and body. Framing fields (Content-Length, Transfer-Encoding, Connection) are the server's to set. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Fields;
  readonly body: Body;
}

export type ServerHandler = (request: ServerRequest) => HttpResponse | Promise<HttpResponse>;

export interface ServerOptions {
  readonly hostname: string;
  readonly port: number;
  readonly handler: ServerHandler;
  /** Builds the JSON error answers the server gives itself (bad requests, a handler that threw). */
  readonly errorResponse: (status: number, code: string, message: string) => HttpResponse;
  /** Called when a handler throws or rejects; the client gets a 500. */
  readonly onHandlerError?: (error: unknown, request: ServerRequest) => void;
  /** Told of a bug met while handling a socket event (the connection is closed). */
  readonly onInternalError?: (error: unknown) => void;
  /** Largest request head; default 64 KiB. Past it: 431. */
  readonly maxHeadBytes?: number;
  /** Most header fields; default 100. Past it: 431. */
  readonly maxFields?: number;
  /** A connection with no request under way is closed after this long (checked once a second); default 30 s. */
  readonly idleTimeoutSeconds?: number;
}

/** A listening server. */
export interface Http1Server {
  readonly port: number;
  /** Requests received and not yet answered whole. */
  readonly pendingRequests: number;
  /**
   * Stops accepting. Without `force`, idle connections close at once and busy ones after their
   * answer (which carries Connection: close); resolves when the last is gone. With `force`, every
   * connection is cut now.
   */
  stop(force: boolean): Promise<void>;
  /**
   * Begins a drain: the port keeps accepting, but every answer from now on carries
   * Connection: close and its connection closes after it. A client learns of the close from the
   * answer itself, before it could reuse the connection, so nothing it sends is lost (closing an
   * idle keep-alive connection instead races with a request the client may be sending on it).
   */
  closeAfterEachResponse(): void;
}

const DEFAULT_MAX_HEAD = 65_536;
const DEFAULT_MAX_FIELDS = 100;
const DEFAULT_IDLE_SECONDS = 30;
/** After a final answer on a connection being closed, how long unread input is drained before the socket is cut. */
const LINGER_SECONDS = 2;
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n", "latin1");

/** Status lines of the common statuses, made once. */
const STATUS_LINES: Record<number, string> = {};
for (const code of [200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 409, 412, 413, 429, 431, 499, 500, 502, 503, 504]) {
  STATUS_LINES[code] = `HTTP/1.1 ${code} ${reasonPhrase(code)}\r\n`;
}

let cachedDate = "";
let cachedDateAt = 0;
/** The Date field's value, formatted at most once a second. */
function httpDate(): string {
  const now = Date.now();
  if (now - cachedDateAt >= 1000) {
    cachedDate = new Date(now).toUTCString();
    cachedDateAt = now - (now % 1000);
  }
  return cachedDate;
}

/** The fields a server writes itself; what the handler put there is dropped. */
function isFramingField(name: string): boolean {
  return name === "content-length" || name === "transfer-encoding" || name === "connection" || name === "keep-alive";
}

const enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** A request is being handled (its body may still be arriving). */
  Busy,
  /** The last answer was sent and the socket half-closed: input is read and dropped until the client closes. */
  Linger,
  Closed,
}

const CLIENT_GONE = new DOMException("the client closed the connection", "AbortError");

class Request implements ServerRequest {
  #controller: AbortController | undefined;
  #closed = false;
  onCancel: (() => void) | undefined = undefined;

  constructor(
    readonly method: string,
    readonly target: string,
    readonly minor: 0 | 1,
    readonly headers: Fields,
    readonly body: Body,
    private readonly socket: Socket<Connection>,
  ) {}

  get signal(): AbortSignal {
    const controller = (this.#controller ??= new AbortController());
    if (this.#closed && !controller.signal.aborted) controller.abort(CLIENT_GONE);
    return controller.signal;
  }

  get cancelled(): boolean {
    return this.#closed;
  }

  get cancelReason(): unknown {
    return CLIENT_GONE;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  clientGone(): void {
    if (this.#closed) return;
    this.#closed = true;
    const onCancel = this.onCancel;
    this.onCancel = undefined;
    onCancel?.();
    this.#controller?.abort(CLIENT_GONE);
  }
}

class Connection implements BodyControl {
  phase = Phase.Head;
  /** Bytes received and not yet parsed: a partial head, or requests pipelined behind the current one. */
  buffer: Buffer | undefined;
  readonly output: Output;
  request: Request | undefined;
  body: IncomingBody | undefined;
  writer: BodyWriter | undefined;
  requestDone = true;
  responseDone = true;
  keepAlive = true;
  /** Paused by a body's backpressure (as opposed to while a request is handled). */
  pausedForBody = false;
  /** When the first bytes of the head being read arrived. */
  headStartedAt = 0;
  /** The server's tick (seconds) when the connection became idle or began to linger. */
  since = 0;
  /** Inside readHead (see there), and whether more bytes are waiting for its loop. */
  reading = false;
  readAgain = false;
  /** The current answer's head has been written. */
  responseStarted = false;

  constructor(
    readonly socket: Socket<Connection>,
    readonly server: Server,
  ) {
    this.output = new Output(socket as Socket<unknown>);
  }

  // BodyControl, for the request body.
  pause(): void {
    this.pausedForBody = true;
    this.socket.pause();
  }

  resume(): void {
    this.pausedForBody = false;
    if (this.phase !== Phase.Closed) this.socket.resume();
  }

  abandon(): void {
    // Nobody reads the rest of the request body: answer, then close instead of parsing the next request.
    this.keepAlive = false;
    if (this.pausedForBody) this.resume();
  }
}

class Server implements Http1Server {
  readonly port: number;
  pendingRequests = 0;
  readonly connections = new Set<Connection>();
  readonly maxHead: number;
  readonly maxFields: number;
  readonly idleSeconds: number;
  stopping = false;
  /** Set by closeAfterEachResponse: no connection is kept alive past its current answer. */
  draining = false;
  /** Seconds counted by the sweep. */
  tick = 0;
  #sweeper: ReturnType<typeof setInterval>;
  #listener: TCPSocketListener<Connection>;
  #allClosed: (() => void) | undefined;
  #stopped: Promise<void> | undefined;

  constructor(readonly options: ServerOptions) {
    this.maxHead = options.maxHeadBytes ?? DEFAULT_MAX_HEAD;
    this.maxFields = options.maxFields ?? DEFAULT_MAX_FIELDS;
    this.idleSeconds = options.idleTimeoutSeconds ?? DEFAULT_IDLE_SECONDS;
    const server = this;
    /** A connection closed, whether cleanly or with an error. */
    const closed = (socket: Socket<Connection>) => {
      const connection = socket.data as Connection | undefined;
      if (connection === undefined) return;
      try {
        server.onClose(connection);
      } catch (error) {
        server.options.onInternalError?.(error);
      }
    };
    this.#listener = Bun.listen<Connection>({
      hostname: options.hostname,
      port: options.port,
      socket: {
        open(socket) {
          socket.setNoDelay(true);
          const connection = new Connection(socket, server);
          socket.data = connection;
          server.connections.add(connection);
          connection.since = server.tick;
        },
        // Each event in its own try: an exception here would end the process, so a bug closes the
        // one connection instead (crashed) and is reported. No closure per event: these run for
        // every packet.
        data(socket, chunk) {
          const connection = socket.data as Connection | undefined;
          if (connection === undefined) return;
          try {
            server.onData(connection, chunk);
          } catch (error) {
            server.crashed(connection, error);
          }
        },
        drain(socket) {
          const connection = socket.data as Connection | undefined;
          if (connection === undefined) return;
          try {
            connection.output.drain();
          } catch (error) {
            server.crashed(connection, error);
          }
        },
        end(socket) {
          const connection = socket.data as Connection | undefined;
          if (connection === undefined) return;
          try {
            server.onEnd(connection);
          } catch (error) {
            server.crashed(connection, error);
          }
        },
        close: closed,
        error: closed,
      },
    });
    this.port = this.#listener.port;
    this.#sweeper = setInterval(() => this.sweep(), 1000);
    this.#sweeper.unref?.();
  }

  /** A bug met while handling a socket event: the connection is closed and the error reported. */
  crashed(connection: Connection, error: unknown): void {
    this.options.onInternalError?.(error);
    try {
      this.onClose(connection);
    } finally {
      connection.socket.terminate();
    }
  }

  onData(connection: Connection, chunk: Buffer): void {
    switch (connection.phase) {
      case Phase.Head:
        this.readHead(connection, connection.buffer === undefined ? chunk : Buffer.concat([connection.buffer, chunk]));
        return;
      case Phase.Busy: {
        const body = connection.body;
        if (body !== undefined && !connection.requestDone) {
          const used = this.feedBody(connection, body, chunk, 0);
          if (used < 0 || used === chunk.length) return;
          chunk = chunk.subarray(used);
        }
        this.hold(connection, chunk);
        return;
      }
      default:
        return; // lingering or closed: dropped
    }
  }

  /** Bytes behind the current request (a pipelined one): kept until the current answer is out. */
  hold(connection: Connection, chunk: Buffer): void {
    const held = connection.buffer === undefined ? chunk : Buffer.concat([connection.buffer, chunk]);
    connection.buffer = held;
    if (held.length > this.maxHead) connection.socket.pause();
  }

  /** Feeds the request body; -1 when the connection was closed over a framing error. */
  feedBody(connection: Connection, body: IncomingBody, bytes: Buffer, start: number): number {
    try {
      return body.feed(bytes, start);
    } catch (error) {
      if (!(error instanceof ChunkedError)) throw error;
      this.refuseAndClose(connection, 400, "bad_request", `malformed chunked request body: ${error.message}`);
      return -1;
    }
  }

  /**
   * Reads the request(s) at the start of `buffer`. A synchronous handler answers within dispatch,
   * and the answer's end reads the next pipelined request: that would recurse once per request,
   * so exchangeDone leaves the bytes to this loop when it is already under way.
   */
  readHead(connection: Connection, buffer: Buffer): void {
    if (connection.reading) {
      connection.buffer = buffer;
      connection.readAgain = true;
      return;
    }
    connection.reading = true;
    try {
      this.readOne(connection, buffer);
      while (connection.readAgain) {
        connection.readAgain = false;
        const next = connection.buffer;
        connection.buffer = undefined;
        if (next === undefined || next.length === 0 || connection.phase !== Phase.Head) break;
        this.readOne(connection, next);
      }
    } finally {
      connection.reading = false;
      connection.readAgain = false;
    }
  }

  readOne(connection: Connection, buffer: Buffer): void {
    let end = findHeadEnd(buffer, 0);
    if (end < 0) {
      if (buffer.length > this.maxHead) {
        this.refuseAndClose(connection, 431, "head_too_large", `the request head is larger than ${this.maxHead} bytes`);
      } else if (hasBareLfEnd(buffer)) {
        this.refuseAndClose(connection, 400, "bad_request", "request lines must end with CRLF");
      } else {
        // A head that trickles in gets the idle time in all, however often a byte arrives.
        if (connection.buffer === undefined) connection.headStartedAt = Date.now();
        else if (Date.now() - connection.headStartedAt > this.idleSeconds * 1000) {
          this.refuseAndClose(connection, 408, "request_timeout", "the request head did not arrive in time");
          return;
        }
        connection.buffer = buffer;
      }
      return;
    }
    if (end > this.maxHead) {
      this.refuseAndClose(connection, 431, "head_too_large", `the request head is larger than ${this.maxHead} bytes`);
      return;
    }
    let head: RequestHead;
    try {
      head = parseRequestHead(buffer, end, { maxFields: this.maxFields });
    } catch (error) {
      if (!(error instanceof HeadError)) throw error;
      const code = error.status === 431 ? "head_too_large" : error.status === 505 ? "http_version_not_supported" : error.status === 501 ? "not_implemented" : "bad_request";
      this.refuseAndClose(connection, error.status, code, error.message);
      return;
    }
    connection.buffer = undefined;
    connection.phase = Phase.Busy;
    connection.keepAlive = head.keepAlive && !this.stopping && !this.draining;
    connection.responseDone = false;
    let body: IncomingBody | undefined;
    let bytes: Uint8Array | undefined;
    if (head.framing.kind === "length" && buffer.length - end >= head.framing.length) {
      // The whole body came with the head: bytes at hand, no stream.
      bytes = buffer.subarray(end, end + head.framing.length);
      end += head.framing.length;
      connection.requestDone = true;
    } else if (head.framing.kind !== "none") {
      body = new IncomingBody(head.framing, connection, (whole) => this.requestBodyFinished(connection, whole));
      connection.requestDone = false;
      // HTTP/1.0 has no 100 Continue: the expectation is ignored there (RFC 9110 §10.1.1).
      if (head.expectContinue && head.minor === 1) connection.output.write(CONTINUE);
    } else {
      connection.requestDone = true;
    }
    connection.body = body;
    const request = new Request(head.method, originForm(head.target), head.minor, head.fields, body ?? bytes ?? null, connection.socket);
    connection.request = request;
    this.pendingRequests++;
    // Body bytes that came with the head go to the body first; anything after belongs to the next request.
    if (end < buffer.length) {
      let at = end;
      if (body !== undefined) {
        at = this.feedBody(connection, body, buffer, end);
        if (at < 0) return;
      }
      if (at < buffer.length) this.hold(connection, buffer.subarray(at));
    }
    this.dispatch(connection, request);
  }

  dispatch(connection: Connection, request: Request): void {
    let result: HttpResponse | Promise<HttpResponse>;
    try {
      result = this.options.handler(request);
    } catch (error) {
      this.handlerFailed(connection, request, error);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.respond(connection, request, response),
        (error: unknown) => this.handlerFailed(connection, request, error),
      );
    } else {
      this.respond(connection, request, result);
    }
  }

  handlerFailed(connection: Connection, request: Request, error: unknown): void {
    if (error instanceof BodyTooLargeError) {
      this.respond(connection, request, this.options.errorResponse(413, "payload_too_large", error.message));
      return;
    }
    this.options.onHandlerError?.(error, request);
    this.respond(connection, request, this.options.errorResponse(500, "internal", "internal error; see the log"));
  }

  requestBodyFinished(connection: Connection, whole: boolean): void {
    if (whole) connection.requestDone = true;
    else connection.keepAlive = false;
    if (connection.responseDone) this.exchangeDone(connection);
  }

  /** Writes the answer to `request`: head, then the body (in one write when small). */
  respond(connection: Connection, request: Request, response: HttpResponse): void {
    if (connection.phase === Phase.Closed || connection.request !== request) {
      // The client went away meanwhile: a streamed answer is cancelled, nothing is written.
      const body = response.body;
      if (body !== null && !(body instanceof Uint8Array)) body.cancel(new BodyError("the client closed the connection"));
      return;
    }
    const status = response.status;
    const body = response.body;
    const noBody = request.method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (this.stopping || this.draining || !connection.requestDone) connection.keepAlive = false;
    const length = bodyLength(body);

    const head = HEAD.start().add(STATUS_LINES[status] ?? `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
    const list = response.headers.list;
    let hasDate = false;
    let keptLength = false;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (isFramingField(name)) {
        // HEAD and 304 answers keep the Content-Length the full answer would have had; a 1xx or
        // 204 may not carry one (RFC 9110 §8.6).
        if (noBody && name === "content-length" && !keptLength && (request.method === "HEAD" || status === 304)) {
          keptLength = true;
          head.field("content-length", list[i + 1]!);
        }
        continue;
      }
      if (name === "date") hasDate = true;
      head.field(name, list[i + 1]!);
    }
    if (!hasDate) head.field("date", httpDate());
    let chunked = false;
    if (!noBody) {
      if (length !== undefined) head.field("content-length", String(length));
      else if (request.minor === 1) {
        head.field("transfer-encoding", "chunked");
        chunked = true;
      } else connection.keepAlive = false; // HTTP/1.0: the body runs until close
    }
    if (!connection.keepAlive) head.field("connection", "close");
    else if (request.minor === 0) head.field("connection", "keep-alive");
    head.end();

    const output = connection.output;
    connection.responseStarted = true;
    if (noBody || body === null) {
      if (body !== null && !(body instanceof Uint8Array)) body.cancel(new BodyError("an answer without a body"));
      output.writeBuiltHead();
      this.responseFinished(connection);
    } else if (body instanceof Uint8Array) {
      output.writeBuiltHead(body);
      this.responseFinished(connection);
    } else {
      output.writeBuiltHead();
      const writer = new BodyWriter(
        output,
        body,
        chunked,
        () => {
          // A source that offered more than it declared: the declared bytes went out; the
          // connection closes after them rather than carry on from a confused handler.
          if (writer.excess) connection.keepAlive = false;
          connection.writer = undefined;
          this.responseFinished(connection);
        },
        () => {
          // The body broke off mid-answer: the client cannot be told with a status any more, so
          // the connection is cut, which it sees as an incomplete message.
          connection.writer = undefined;
          connection.socket.terminate();
        },
        chunked ? undefined : length,
      );
      connection.writer = writer;
      writer.start();
    }
  }

  responseFinished(connection: Connection): void {
    connection.responseDone = true;
    connection.responseStarted = false;
    this.pendingRequests--;
    connection.request = undefined;
    if (connection.requestDone || !connection.keepAlive) this.exchangeDone(connection);
    if (this.stopping) this.checkStopped();
  }

  /** Both halves of an exchange are over: read the next request, or close. */
  exchangeDone(connection: Connection): void {
    if (connection.phase !== Phase.Busy || !connection.responseDone) return;
    connection.body = undefined;
    if (!connection.keepAlive) {
      connection.phase = Phase.Linger;
      connection.buffer = undefined;
      connection.output.endWhenFlushed();
      connection.socket.resume();
      connection.since = this.tick;
      return;
    }
    connection.phase = Phase.Head;
    connection.requestDone = true;
    connection.since = this.tick;
    const held = connection.buffer;
    connection.buffer = undefined;
    connection.socket.resume();
    if (held !== undefined && held.length > 0) this.readHead(connection, held);
  }

  /** Answers a request that cannot be read (with the JSON error) and closes the connection after it. */
  refuseAndClose(connection: Connection, status: number, code: string, message: string): void {
    if (connection.responseStarted) {
      // An answer is already being written: another status line cannot follow its head. The
      // connection is cut, which the client sees as an incomplete answer.
      connection.keepAlive = false;
      connection.request?.clientGone();
      connection.writer?.abandon(new BodyError(message));
      connection.socket.terminate();
      return;
    }
    const response = this.options.errorResponse(status, code, message);
    connection.keepAlive = false;
    const request = connection.request;
    connection.buffer = undefined;
    if (request !== undefined && !connection.responseDone) {
      // Mid-request (a broken body): the handler's answer will never be written.
      request.clientGone();
      connection.writer?.abandon(new BodyError(message));
      this.pendingRequests--;
    }
    connection.request = undefined;
    connection.phase = Phase.Linger;
    const bytes = response.body instanceof Uint8Array ? response.body : new Uint8Array(0);
    let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    for (const [name, value] of response.headers) if (!isFramingField(name)) head += `${name}: ${value}\r\n`;
    head += `date: ${httpDate()}\r\ncontent-length: ${bytes.byteLength}\r\nconnection: close\r\n\r\n`;
    connection.output.writeHead(head, bytes);
    connection.output.endWhenFlushed();
    connection.since = this.tick;
    if (this.stopping) this.checkStopped();
  }

  onEnd(connection: Connection): void {
    // The client sent FIN. Between requests that is goodbye; mid-body the body is cut short. Bun
    // then closes the socket (no half-open connections), so a request under way is cancelled, as
    // nginx treats a client that closes early ("client prematurely closed connection").
    if (connection.phase === Phase.Head || connection.phase === Phase.Linger) {
      connection.socket.end();
      return;
    }
    if (!connection.requestDone) connection.body?.connectionClosed();
    connection.keepAlive = false;
  }

  /**
   * Once a second: closes connections idle (between requests) for idleSeconds, answers 408 to a
   * head that has been arriving for that long, and cuts lingering ones after LINGER_SECONDS. A
   * sweep rather than a socket timeout per connection: re-arming one on every request was a
   * native call or two per request on the proxy's hot path.
   */
  sweep(): void {
    const now = ++this.tick;
    for (const connection of this.connections) {
      const age = now - connection.since;
      if (connection.phase === Phase.Head) {
        if (age < this.idleSeconds) continue;
        if (connection.buffer !== undefined && connection.buffer.length > 0) this.refuseAndClose(connection, 408, "request_timeout", "the request head did not arrive in time");
        else connection.socket.terminate();
      } else if (connection.phase === Phase.Linger && age >= LINGER_SECONDS) {
        connection.socket.terminate();
      }
    }
  }

  onClose(connection: Connection | undefined): void {
    if (connection === undefined || connection.phase === Phase.Closed) return;
    const busy = connection.phase === Phase.Busy && !connection.responseDone;
    connection.phase = Phase.Closed;
    connection.output.closed = true;
    this.connections.delete(connection);
    connection.body?.connectionClosed();
    connection.writer?.abandon(new BodyError("the client closed the connection"));
    if (busy) {
      connection.request?.clientGone();
      connection.request = undefined;
      this.pendingRequests--;
    }
    if (this.stopping) this.checkStopped();
  }

  checkStopped(): void {
    for (const connection of this.connections) {
      if (connection.phase === Phase.Head && (connection.buffer === undefined || connection.buffer.length === 0)) {
        connection.phase = Phase.Linger;
        connection.socket.end();
        connection.since = this.tick;
      }
    }
    if (this.connections.size === 0) {
      clearInterval(this.#sweeper);
      this.#allClosed?.();
    }
  }

  closeAfterEachResponse(): void {
    this.draining = true;
  }

  stop(force: boolean): Promise<void> {
    this.stopping = true;
    this.#listener.stop(force);
    if (force) {
      for (const connection of this.connections) connection.socket.terminate();
    }
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#allClosed = resolve;
    });
    this.checkStopped();
    return this.#stopped;
  }
}

/** Opens a listening socket and serves HTTP/1.1 on it. Throws (EADDRINUSE and the like) if it cannot listen. */
export function listenHttp1(options: ServerOptions): Http1Server {
  return new Server(options);
}
