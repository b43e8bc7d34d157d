// Byte-level helpers shared by the message and configuration-change codecs: unsigned varints up
// to 2^53-1, length-prefixed bytes and UTF-8 strings, with every read bounds-checked.

import { MessageDecodeError } from "./errors.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** A growable output buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  /** Unsigned LEB128 of a safe non-negative integer (at most 8 bytes). */
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a non-negative safe integer: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  string(s: string): void {
    this.bytes(utf8Encoder.encode(s));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** A bounds-checked reader; every failure is a MessageDecodeError. */
export class ByteReader {
  pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(what: string): never {
    throw new MessageDecodeError(what, this.pos);
  }

  u8(): number {
    if (this.pos >= this.buf.length) this.fail("truncated");
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail("integer out of range");
        if (i > 0 && b === 0) this.fail("non-minimal varint");
        return result;
      }
      scale *= 0x80;
    }
    this.fail("varint too long");
  }

  /** A count of items each taking at least `minItemBytes`: rejects counts the input cannot hold. */
  count(minItemBytes: number): number {
    const n = this.varint();
    if (n * minItemBytes > this.remaining) this.fail(`count ${n} exceeds the input`);
    return n;
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.remaining) this.fail(`length ${n} exceeds the input`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(maxLength: number): string {
    const n = this.varint();
    if (n > this.remaining) this.fail(`length ${n} exceeds the input`);
    if (n > maxLength) this.fail(`string of ${n} bytes exceeds ${maxLength}`);
    const view = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Decoder.decode(view);
    } catch {
      this.fail("invalid UTF-8");
    }
  }
}
