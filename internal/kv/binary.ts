// The byte-level encoding shared by commands and snapshots: unsigned LEB128 varints for safe
// integers, length-prefixed UTF-8 strings, and a CRC-32 for snapshots. Canonical by construction
// (minimal varints only, strict UTF-8), so that equal data always gives equal bytes.

const encoder = new TextEncoder();
// ignoreBOM: a value starting with U+FEFF must come back with it.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Thrown by ByteReader; callers turn it into their own named error. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
}

/** A growable buffer written front to back. */
export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(initialCapacity = 64) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value & 0xff;
  }

  /** A non-negative safe integer, 7 bits a byte, least significant first. */
  uvarint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative safe integer: ${value}`);
    this.reserve(8);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  string(value: string): void {
    // A UTF-16 code unit becomes at most 3 UTF-8 bytes.
    const max = value.length * 3;
    this.reserve(max + 8);
    if (max < 0x80) {
      // Length fits one varint byte: encode in place, then write the length before it.
      const { written } = encoder.encodeInto(value, this.buffer.subarray(this.length + 1));
      this.buffer[this.length] = written;
      this.length += 1 + written;
      return;
    }
    const bytes = encoder.encode(value);
    this.uvarint(bytes.length);
    this.bytes(bytes);
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  u32(value: number): void {
    this.reserve(4);
    this.buffer[this.length++] = (value >>> 24) & 0xff;
    this.buffer[this.length++] = (value >>> 16) & 0xff;
    this.buffer[this.length++] = (value >>> 8) & 0xff;
    this.buffer[this.length++] = value & 0xff;
  }

  /** The bytes written so far (a copy trimmed to length). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** Reads what ByteWriter wrote, throwing DecodeError on anything out of place. */
export class ByteReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    const value = this.bytes[this.offset];
    if (value === undefined) throw new DecodeError("unexpected end of data");
    this.offset++;
    return value;
  }

  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const byte = this.u8();
      // Seven bytes carry 49 bits; a safe integer leaves 4 for the eighth.
      if (i === 7 && byte > 0x0f) throw new DecodeError("varint beyond the safe integer range");
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw new DecodeError("non-minimal varint");
        return result;
      }
      scale *= 0x80;
    }
  }

  string(): string {
    const length = this.uvarint();
    if (length > this.remaining) throw new DecodeError("string runs past the end of data");
    const start = this.offset;
    this.offset += length;
    try {
      return decoder.decode(this.bytes.subarray(start, this.offset));
    } catch {
      throw new DecodeError("invalid UTF-8");
    }
  }

  u32(): number {
    if (this.remaining < 4) throw new DecodeError("unexpected end of data");
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /** Fails unless every byte has been read. */
  end(): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} unexpected trailing bytes`);
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as in zlib and gzip). */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Whether a string is well-formed UTF-16 (no lone surrogate), i.e. survives a UTF-8 round trip. */
export function isWellFormed(value: string): boolean {
  const native = (value as { isWellFormed?: () => boolean }).isWellFormed;
  return native !== undefined ? native.call(value) : !LONE_SURROGATE.test(value);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
