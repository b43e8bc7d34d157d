// The chunked transfer coding (RFC 9112 §7.1), decoded incrementally over whatever pieces the
// socket delivers, and encoded for bodies whose size is not known in advance. The decoder is strict
// in the same spirit as the head parser: hex sizes of bounded length, CRLF exactly where the
// grammar puts it, bounded chunk extensions and trailers (which are read and dropped).

/** The chunked framing was broken. */
export class ChunkedError extends Error {
  override readonly name = "ChunkedError";
}

const enum State {
  Size,
  /** Whitespace after the size (BWS): only more of it, ";" or CR may follow. */
  SizeWhitespace,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

/** 12 hex digits: 256 TiB, more than any body here; more digits could overflow a double's integers. */
const MAX_SIZE_DIGITS = 12;
const MAX_EXTENSION_BYTES = 4096;
const MAX_TRAILER_BYTES = 16_384;

function hexValue(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  if (byte >= 97 && byte <= 102) return byte - 87;
  if (byte >= 65 && byte <= 70) return byte - 55;
  return -1;
}

/**
 * Decodes one chunked body. push() takes the next bytes, hands every piece of payload to `emit`
 * (views into the given buffer, no copies) and answers how many bytes it used: all of them, or
 * fewer once the body has ended (the rest belongs to the next message). Throws ChunkedError.
 */
export class ChunkedDecoder {
  #state = State.Size;
  #remaining = 0;
  #digits = 0;
  #extension = 0;
  #trailer = 0;

  get done(): boolean {
    return this.#state === State.Done;
  }

  push(bytes: Uint8Array, start: number, emit: (chunk: Uint8Array) => void): number {
    let i = start;
    const end = bytes.length;
    while (i < end) {
      switch (this.#state) {
        case State.Size: {
          const byte = bytes[i]!;
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) throw new ChunkedError("chunk size too long");
            this.#remaining = this.#remaining * 16 + digit;
            i++;
            break;
          }
          if (this.#digits === 0) throw new ChunkedError("chunk size missing");
          if (byte === 13) this.#state = State.SizeLf;
          else if (byte === 59) this.#state = State.Extension;
          else if (byte === 32 || byte === 9) this.#state = State.SizeWhitespace;
          else throw new ChunkedError("invalid character in chunk size");
          i++;
          break;
        }
        case State.SizeWhitespace: {
          const byte = bytes[i]!;
          if (byte === 13) this.#state = State.SizeLf;
          else if (byte === 59) this.#state = State.Extension;
          else if (byte !== 32 && byte !== 9) throw new ChunkedError("only a chunk extension (';') may follow whitespace after a chunk size");
          else if (++this.#extension > MAX_EXTENSION_BYTES) throw new ChunkedError("chunk extensions too long");
          i++;
          break;
        }
        case State.Extension: {
          const byte = bytes[i]!;
          if (byte === 13) this.#state = State.SizeLf;
          else if (byte === 10 || byte < 9 || (byte > 9 && byte < 32) || byte === 127) throw new ChunkedError("invalid character in chunk extension");
          else if (++this.#extension > MAX_EXTENSION_BYTES) throw new ChunkedError("chunk extensions too long");
          i++;
          break;
        }
        case State.SizeLf: {
          if (bytes[i] !== 10) throw new ChunkedError("expected LF after chunk size");
          i++;
          this.#digits = 0;
          this.#state = this.#remaining === 0 ? State.TrailerStart : State.Data;
          break;
        }
        case State.Data: {
          const take = Math.min(this.#remaining, end - i);
          emit(bytes.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr: {
          if (bytes[i] !== 13) throw new ChunkedError("expected CRLF after chunk data");
          i++;
          this.#state = State.DataLf;
          break;
        }
        case State.DataLf: {
          if (bytes[i] !== 10) throw new ChunkedError("expected CRLF after chunk data");
          i++;
          this.#state = State.Size;
          break;
        }
        case State.TrailerStart: {
          // Either the final CRLF, or a trailer field line.
          const byte = bytes[i]!;
          i++;
          if (byte === 13) {
            this.#state = State.FinalLf;
          } else {
            if (byte === 10 || byte === 32 || byte === 9) throw new ChunkedError("malformed trailer section");
            this.#state = State.TrailerLine;
            if (++this.#trailer > MAX_TRAILER_BYTES) throw new ChunkedError("trailer section too long");
          }
          break;
        }
        case State.TrailerLine: {
          const byte = bytes[i]!;
          i++;
          if (++this.#trailer > MAX_TRAILER_BYTES) throw new ChunkedError("trailer section too long");
          if (byte === 13) this.#state = State.TrailerLf;
          else if (byte === 10 || byte === 0) throw new ChunkedError("malformed trailer field");
          break;
        }
        case State.TrailerLf: {
          if (bytes[i] !== 10) throw new ChunkedError("expected LF after a trailer field");
          i++;
          this.#state = State.TrailerStart;
          break;
        }
        case State.FinalLf: {
          if (bytes[i] !== 10) throw new ChunkedError("expected CRLF at the end of a chunked body");
          i++;
          this.#state = State.Done;
          return i;
        }
        case State.Done:
          return i;
      }
    }
    return i;
  }
}

const CRLF = Buffer.from("\r\n", "latin1");
/** The last chunk and the end of the (empty) trailer section. */
export const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");

/** One chunk of a chunked body as a single buffer: size line, data, CRLF (one write, one syscall). */
export function encodeChunk(data: Uint8Array): Buffer {
  const size = data.byteLength.toString(16);
  const out = Buffer.allocUnsafe(size.length + 2 + data.byteLength + 2);
  out.write(size, 0, "latin1");
  CRLF.copy(out, size.length);
  out.set(data, size.length + 2);
  CRLF.copy(out, size.length + 2 + data.byteLength);
  return out;
}
