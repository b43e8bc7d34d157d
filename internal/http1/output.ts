// Writing to a Bun socket in order. Bun's socket.write is unbuffered (one send(2)); when the kernel
// takes less than offered, the rest waits here until the socket's drain event, and every later
// write queues behind it. A body being written answers "full" while anything waits, which is how a
// slow reader pauses the socket the body comes from.
import type { Socket } from "bun";
import { LAST_CHUNK, encodeChunk } from "./chunked.ts";
import { BodyError, type BodySink, type BodySource } from "./body.ts";

/** One reusable buffer for a head and a small body, so that most messages go out in one send(2). */
const SCRATCH = Buffer.allocUnsafe(65_536) as Buffer & { latin1Write(text: string, offset: number): number };
/** Bodies up to this size are copied behind their head into one write. */
const COALESCE_BYTES = 16_384;

/** Room for a head in SCRATCH, leaving space for a small body behind it. */
const HEAD_ROOM = SCRATCH.length - COALESCE_BYTES;
const CRLF = "\r\n";
const COLON = ": ";

/**
 * Builds one message head straight into SCRATCH, piece by piece: the pieces are strings that exist
 * anyway (field names and values), so a head allocates nothing of its own, where concatenating
 * it allocated the joined string and the pieces' ropes on every message. One head at a time:
 * start(), add, then Output.writeBuiltHead() without awaiting in between. A head larger than the
 * room carries on as a string.
 */
export class HeadBuilder {
  #pos = 0;
  #spill: string | undefined;

  start(): this {
    this.#pos = 0;
    this.#spill = undefined;
    return this;
  }

  /** Appends latin1 text (one byte per character). */
  add(text: string): this {
    if (this.#spill !== undefined) {
      this.#spill += text;
    } else if (this.#pos + text.length > HEAD_ROOM) {
      this.#spill = SCRATCH.toString("latin1", 0, this.#pos) + text;
    } else {
      this.#pos += SCRATCH.latin1Write(text, this.#pos);
    }
    return this;
  }

  /** Appends `name: value` and CRLF. */
  field(name: string, value: string): this {
    return this.add(name).add(COLON).add(value).add(CRLF);
  }

  /** Ends the head (the empty line). */
  end(): this {
    return this.add(CRLF);
  }

  /** @internal */
  get bytes(): number {
    return this.#pos;
  }

  /** @internal */
  get spill(): string | undefined {
    return this.#spill;
  }
}

/** The one head being built (see HeadBuilder). */
export const HEAD = new HeadBuilder();

export class Output {
  #pending: Uint8Array[] | undefined;
  #pendingBytes = 0;
  /** Called once everything queued has been handed to the kernel. */
  onDrained: (() => void) | undefined;
  #endAfterFlush = false;
  closed = false;

  constructor(private readonly socket: Socket<unknown>) {}

  /** Bytes still waiting for the socket to drain. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Queues or sends `data`; true when nothing is left waiting. `data` may be reused by the caller afterwards only if this copied it (see writeHead). */
  write(data: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.#pending !== undefined) {
      this.#pending.push(data);
      this.#pendingBytes += data.byteLength;
      return false;
    }
    const written = this.socket.write(data);
    if (written === data.byteLength) return true;
    if (written < 0) {
      this.closed = true;
      return false;
    }
    this.#pending = [data.subarray(written)];
    this.#pendingBytes = data.byteLength - written;
    return false;
  }

  /**
   * Writes a head (a latin1 string: one byte per character) and optionally a body through the
   * scratch buffer: head and a small body leave in one send(2). Anything the kernel does not take
   * is copied out of the scratch buffer before this returns.
   */
  writeHead(head: string, body?: Uint8Array): boolean {
    if (this.closed) return false;
    const headBytes = head.length;
    const bodyBytes = body === undefined ? 0 : body.byteLength;
    if (this.#pending !== undefined || headBytes + Math.min(bodyBytes, COALESCE_BYTES + 1) > SCRATCH.length) {
      const ok = this.write(Buffer.from(head, "latin1"));
      return body === undefined || bodyBytes === 0 ? ok : this.write(body) && ok;
    }
    // latin1Write (Bun's and Node's, undeclared in the types): write(text, 0, "latin1") without parsing the encoding name.
    SCRATCH.latin1Write(head, 0);
    return this.#sendScratch(headBytes, body);
  }

  /**
   * Writes the head just built in HEAD (see HeadBuilder) and optionally a body: head and a small
   * body leave in one send(2), as with writeHead.
   */
  writeBuiltHead(body?: Uint8Array): boolean {
    const spill = HEAD.spill;
    if (spill !== undefined || this.closed || this.#pending !== undefined) {
      return this.writeHead(spill ?? SCRATCH.toString("latin1", 0, HEAD.bytes), body);
    }
    return this.#sendScratch(HEAD.bytes, body);
  }

  /**
   * Sends the head that fills SCRATCH's first `headBytes`, with a small body copied after it (one
   * send(2)) or a larger one written next; keeps what the socket did not take.
   */
  #sendScratch(headBytes: number, body: Uint8Array | undefined): boolean {
    const bodyBytes = body === undefined ? 0 : body.byteLength;
    let total = headBytes;
    const coalesce = body !== undefined && bodyBytes <= COALESCE_BYTES;
    if (coalesce && bodyBytes > 0) {
      SCRATCH.set(body, total);
      total += bodyBytes;
    }
    const written = this.socket.write(SCRATCH, 0, total);
    if (written < 0) {
      this.closed = true;
      return false;
    }
    if (written < total) {
      this.#pending = [Buffer.from(SCRATCH.subarray(written, total))];
      this.#pendingBytes = total - written;
    }
    if (!coalesce && body !== undefined && bodyBytes > 0) return this.write(body);
    return this.#pending === undefined;
  }

  /** The socket can take more: send what waits; once all is gone, onDrained (or the deferred end). */
  drain(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    while (pending.length > 0) {
      const data = pending[0]!;
      const written = this.socket.write(data);
      if (written < 0) {
        this.closed = true;
        return;
      }
      this.#pendingBytes -= Math.max(0, written);
      if (written < data.byteLength) {
        pending[0] = data.subarray(written);
        return;
      }
      pending.shift();
    }
    this.#pending = undefined;
    this.#pendingBytes = 0;
    if (this.#endAfterFlush) {
      this.#endAfterFlush = false;
      this.socket.end();
      return;
    }
    this.onDrained?.();
  }

  /** Half-closes the socket (FIN) once everything queued has been sent. */
  endWhenFlushed(): void {
    if (this.closed) return;
    if (this.#pending === undefined) this.socket.end();
    else this.#endAfterFlush = true;
  }
}

/**
 * A sink that writes a streamed body to `output`, chunk-encoded or as it is (when the head
 * carried a Content-Length, or the connection closes at the end), and calls `done` once when the
 * body has been handed over whole, or `failed` when it broke off. A body sent under a declared
 * length must match it: bytes past it are never sent (the peer would read them as the next
 * message); the declared length goes out, the source is cancelled, `excess` is set and the body
 * counts as done, so the caller can close the connection after it. An end short of the declared
 * length is a failure (the caller cuts the connection).
 */
export class BodyWriter implements BodySink {
  #finished = false;
  #written = 0;
  /** The source offered more than the declared length (the surplus was dropped). */
  excess = false;

  constructor(
    private readonly output: Output,
    private readonly source: BodySource,
    private readonly chunked: boolean,
    private readonly done: () => void,
    private readonly failed: (error: Error) => void,
    /** The Content-Length announced for this body, when one was. */
    private readonly declared?: number,
  ) {}

  /** Starts the flow; resumes the source whenever the output drains. */
  start(): void {
    this.output.onDrained = () => {
      if (!this.#finished) this.source.resume();
    };
    this.source.pipe(this);
  }

  write(chunk: Uint8Array): boolean {
    if (this.#finished) return false;
    if (chunk.byteLength === 0) return true;
    if (this.declared !== undefined) {
      const room = this.declared - this.#written;
      if (chunk.byteLength > room) {
        if (room > 0) this.output.write(chunk.subarray(0, room));
        this.#written = this.declared;
        this.excess = true;
        this.source.cancel(new BodyError(`the body is longer than its declared length of ${this.declared} bytes`));
        this.end();
        return false;
      }
      this.#written += chunk.byteLength;
    }
    return this.output.write(this.chunked ? encodeChunk(chunk) : chunk);
  }

  end(): void {
    if (this.#finished) return;
    if (this.declared !== undefined && this.#written !== this.declared) {
      this.#mismatch(`the body ended after ${this.#written} of its declared ${this.declared} bytes`);
      return;
    }
    this.#finished = true;
    this.output.onDrained = undefined;
    if (this.chunked) this.output.write(LAST_CHUNK);
    this.done();
  }

  fail(error: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.output.onDrained = undefined;
    this.failed(error);
  }

  /** Stops writing and cancels the source (the connection is going away). */
  abandon(reason: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.output.onDrained = undefined;
    this.source.cancel(reason);
  }

  #mismatch(message: string): void {
    const error = new BodyError(message);
    this.#finished = true;
    this.output.onDrained = undefined;
    this.source.cancel(error);
    this.failed(error);
  }
}
