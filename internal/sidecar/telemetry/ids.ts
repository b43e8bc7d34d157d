import type { IdGenerator } from "@opentelemetry/sdk-trace-base";

const POOL_BYTES = 4096;
const INVALID_SPAN_ID = "0000000000000000";
const INVALID_TRACE_ID = "00000000000000000000000000000000";

/**
 * Trace and span ids cut from a pool of cryptographically random bytes, hex-encoded in one go
 * every 256 span ids: about a quarter of the cost of the SDK's RandomIdGenerator, which calls
 * Math.random and formats a buffer for every id. Every request gets at least one span id, sampled
 * or not, so this sits on the hot path.
 *
 * `prime(traceId)` makes the next `generateTraceId()` answer that id. The sidecar decides
 * sampling for a root span itself (so that an unsampled request never enters the SDK) and then,
 * for a sampled one, lets the SDK create the span with the very trace id the decision was made on.
 */
export class PooledIdGenerator implements IdGenerator {
  private readonly bytes = new Uint8Array(POOL_BYTES);
  private readonly words = new DataView(this.bytes.buffer);
  private hex = "";
  private position = 0;
  private primed: string | undefined;
  /**
   * For the trace id last generated from the pool: the XOR of its four big-endian 32-bit words,
   * the number TraceIdRatioBasedSampler compares with its bound. Read from the bytes, because
   * reading the characters of a freshly cut id costs several times more than cutting it.
   */
  lastTraceIdKey = 0;

  prime(traceId: string): void {
    this.primed = traceId;
  }

  /** Drops a primed id the SDK did not ask for, so it can never leak into a later trace. */
  unprime(): void {
    this.primed = undefined;
  }

  generateTraceId(): string {
    const primed = this.primed;
    if (primed !== undefined) {
      this.primed = undefined;
      return primed;
    }
    const id = this.take(32, INVALID_TRACE_ID);
    const at = (this.position - 32) / 2;
    const words = this.words;
    this.lastTraceIdKey = (words.getUint32(at) ^ words.getUint32(at + 4) ^ words.getUint32(at + 8) ^ words.getUint32(at + 12)) >>> 0;
    return id;
  }

  generateSpanId(): string {
    return this.take(16, INVALID_SPAN_ID);
  }

  private take(length: number, invalid: string): string {
    for (;;) {
      if (this.position + length > this.hex.length) this.refill();
      const id = this.hex.substring(this.position, this.position + length);
      this.position += length;
      // All zeroes is the one invalid value (W3C trace context); 2^-64 at worst, but cheap to rule out.
      if (id !== invalid) return id;
    }
  }

  private refill(): void {
    crypto.getRandomValues(this.bytes);
    this.hex = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString("hex");
    this.position = 0;
  }
}
