// The body of a message being read from a socket: the request body on the server side, the
// response body on the client side. It decodes the framing (a length, chunked, or until close),
// holds what arrives before anyone reads it (pausing the socket past a bound), and then passes
// chunks straight on to the sink, pausing the socket whenever the sink is full.
import { BodyError, type BodySink, type BodySource } from "./body.ts";
import { ChunkedDecoder, ChunkedError } from "./chunked.ts";
import type { Framing } from "./head.ts";

/** What a body asks of the connection it is read from. */
export interface BodyControl {
  pause(): void;
  resume(): void;
  /** The reader gave up on the body: the connection cannot carry another message unless it reads the rest itself. */
  abandon(reason: Error): void;
}

/** Bytes held for a reader that has not started reading before the socket is paused. */
const QUEUE_HIGH_WATER = 262_144;

const enum State {
  Open,
  Ended,
  Failed,
  Cancelled,
}

export class IncomingBody implements BodySource {
  readonly length: number | undefined;
  #remaining: number;
  readonly #decoder: ChunkedDecoder | undefined;
  readonly #untilClose: boolean;
  #sink: BodySink | undefined;
  #queue: Uint8Array[] | undefined;
  #queued = 0;
  #state = State.Open;
  #error: Error | undefined;
  #paused = false;
  readonly #deliver = (chunk: Uint8Array) => this.#push(chunk);

  /**
   * @param onFinish called once, when the body has been read whole (true) or broke off (false);
   *   the connection then knows whether it can carry another message.
   */
  constructor(
    framing: Exclude<Framing, { kind: "none" }>,
    private readonly control: BodyControl,
    private readonly onFinish: (whole: boolean) => void,
  ) {
    this.length = framing.kind === "length" ? framing.length : undefined;
    this.#remaining = framing.kind === "length" ? framing.length : 0;
    this.#decoder = framing.kind === "chunked" ? new ChunkedDecoder() : undefined;
    this.#untilClose = framing.kind === "close";
  }

  /** True once the body was read whole. */
  get ended(): boolean {
    return this.#state === State.Ended;
  }

  /** True while nobody reads it any more, or it broke off. */
  get abandoned(): boolean {
    return this.#state === State.Cancelled || this.#state === State.Failed;
  }

  /**
   * Takes the body's share of `bytes` from `start`; answers where this body's bytes stop (the
   * rest belongs to the next message). Throws ChunkedError on broken chunked framing (the body
   * has then failed).
   */
  feed(bytes: Uint8Array, start: number): number {
    if (this.#state === State.Ended || this.#state === State.Failed) return start;
    if (this.#untilClose) {
      if (start < bytes.length) this.#push(start === 0 ? bytes : bytes.subarray(start));
      return bytes.length;
    }
    const decoder = this.#decoder;
    if (decoder !== undefined) {
      let at: number;
      try {
        at = decoder.push(bytes, start, this.#deliver);
      } catch (error) {
        this.fail(new BodyError(`malformed chunked body: ${(error as ChunkedError).message}`));
        throw error;
      }
      if (decoder.done) this.#finish();
      return at;
    }
    const take = Math.min(this.#remaining, bytes.length - start);
    if (take > 0) this.#push(start === 0 && take === bytes.length ? bytes : bytes.subarray(start, start + take));
    this.#remaining -= take;
    if (this.#remaining === 0) this.#finish();
    return start + take;
  }

  /** The connection closed: the end of a body that runs until close, else a body cut short. */
  connectionClosed(): void {
    if (this.#state !== State.Open) return;
    if (this.#untilClose) this.#finish();
    else this.fail(new BodyError("the connection closed before the body was complete"));
  }

  /** The body broke off. */
  fail(error: Error): void {
    if (this.#state === State.Ended || this.#state === State.Failed) return;
    const wasCancelled = this.#state === State.Cancelled;
    this.#state = State.Failed;
    this.#error = error;
    this.#queue = undefined;
    if (!wasCancelled) {
      this.#sink?.fail(error);
      this.onFinish(false);
    }
  }

  #push(chunk: Uint8Array): void {
    if (this.#state !== State.Open) return; // cancelled: what still arrives is dropped
    const sink = this.#sink;
    if (sink !== undefined) {
      if (!sink.write(chunk) && !this.#paused && this.#state === State.Open) {
        this.#paused = true;
        this.control.pause();
      }
      return;
    }
    (this.#queue ??= []).push(chunk);
    this.#queued += chunk.byteLength;
    if (this.#queued > QUEUE_HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.control.pause();
    }
  }

  #finish(): void {
    if (this.#state !== State.Open) return;
    this.#state = State.Ended;
    if (this.#paused) {
      this.#paused = false;
      this.control.resume();
    }
    this.#sink?.end();
    this.onFinish(true);
  }

  pipe(sink: BodySink): void {
    if (this.#sink !== undefined) throw new Error("a body can be read only once");
    this.#sink = sink;
    const queue = this.#queue;
    this.#queue = undefined;
    this.#queued = 0;
    let full = false;
    if (queue !== undefined) for (const chunk of queue) if (!sink.write(chunk)) full = true;
    if (this.#state === State.Ended) sink.end();
    else if (this.#state === State.Failed) sink.fail(this.#error ?? new BodyError("the body broke off"));
    else if (this.#state === State.Open && this.#paused && !full) {
      this.#paused = false;
      this.control.resume();
    } else if (full && !this.#paused && this.#state === State.Open) {
      this.#paused = true;
      this.control.pause();
    }
  }

  resume(): void {
    if (this.#paused && this.#state === State.Open) {
      this.#paused = false;
      this.control.resume();
    }
  }

  cancel(reason: Error): void {
    if (this.#state !== State.Open) return;
    this.#state = State.Cancelled;
    this.#queue = undefined;
    this.#error = reason;
    this.control.abandon(reason);
    this.onFinish(false);
  }
}
