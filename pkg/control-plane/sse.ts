// Server-Sent Events over fetch, without EventSource (absent from Node 20, and unable to send an
// Authorization header): an incremental parser of the text/event-stream format and a reader
// that pulls events from a response body, with an idle limit so a silently dead connection is
// noticed (the control plane writes a keepalive comment every 15 s).

/** One dispatched event. `id` is present only when the event carried an `id:` field. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
  /** The server's reconnection delay (`retry:`), when the event set one. */
  readonly retry?: number;
}

/**
 * The text/event-stream grammar (WHATWG HTML, "event stream interpretation"): lines end with
 * LF, CR or CRLF; a blank line dispatches; `:` starts a comment; a field without a colon has an
 * empty value; one leading space of a value is dropped. Feed it text in chunks of any size.
 */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private id: string | undefined;
  private retry: number | undefined;
  /** A CR ended the last chunk; an LF starting the next one belongs to it. */
  private pendingCr = false;

  /** Parses another chunk and answers the events it completed. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the end of the buffer may be the first half of a CRLF split across chunks.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) this.pendingCr = true;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const message: SseMessage | undefined =
      this.data.length === 0
        ? undefined
        : {
            event: this.event === "" ? "message" : this.event,
            data: this.data.join("\n"),
            ...(this.id !== undefined ? { id: this.id } : {}),
            ...(this.retry !== undefined ? { retry: this.retry } : {}),
          };
    this.event = "";
    this.data = [];
    this.id = undefined;
    this.retry = undefined;
    return message;
  }
}

/** Raised by `SseStream.next` when nothing, not even a keepalive, arrived within the idle limit. */
export class SseIdleError extends Error {
  override readonly name = "SseIdleError";
}

interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** Events from one response body, in order; `next` answers undefined once the stream ends. */
export class SseStream {
  private readonly reader: ChunkReader;
  private readonly decoder = new TextDecoder();
  private readonly parser = new SseParser();
  private readonly queue: SseMessage[] = [];

  constructor(
    body: ReadableStream<Uint8Array>,
    private readonly idleMs: number,
  ) {
    this.reader = body.getReader() as unknown as ChunkReader;
  }

  async next(): Promise<SseMessage | undefined> {
    for (;;) {
      const queued = this.queue.shift();
      if (queued) return queued;
      const chunk = await this.readWithin(this.idleMs);
      if (chunk.done || chunk.value === undefined) {
        if (chunk.done) return undefined;
        continue;
      }
      this.queue.push(...this.parser.push(this.decoder.decode(chunk.value, { stream: true })));
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }

  private async readWithin(ms: number): Promise<{ done: boolean; value?: Uint8Array }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SseIdleError(`nothing received for ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.reader.read(), idle]);
    } finally {
      clearTimeout(timer);
    }
  }
}
