// W3C trace context on the request path. Every request that arrives from another sidecar carries a
// traceparent, so reading it is per-request work: the propagator's regular expression (with the
// Context it then builds) costs more than all the rest of an unsampled request. The canonical form
// (version 00, 55 characters) is checked by hand here; anything else goes to @opentelemetry/core's
// parseTraceParent, so the answer is the same as the propagator's for every input.

import { parseTraceParent } from "@opentelemetry/core";

export interface ParsedTraceparent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

const CANONICAL_LENGTH = 55; // "00-" + 32 + "-" + 16 + "-" + 2
const DASH = 0x2d;
const ZERO = 0x30;

/** Whether `value[start, end)` is lower-case hex (what the propagator's pattern accepts) and not all zeroes. */
function isHex(value: string, start: number, end: number, allowZero: boolean): boolean {
  let nonZero = allowZero;
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === ZERO) continue;
    if (!((c > ZERO && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
    nonZero = true;
  }
  return nonZero;
}

function hexDigit(c: number): number {
  return c <= 0x39 ? c - ZERO : c - 0x57;
}

/**
 * Parses a traceparent header as W3CTraceContextPropagator does (same acceptance, same fields);
 * null when it is missing or invalid, in which case the request starts a new trace.
 */
export function parseTraceparent(header: string): ParsedTraceparent | null {
  if (
    header.length === CANONICAL_LENGTH &&
    header.charCodeAt(0) === ZERO &&
    header.charCodeAt(1) === ZERO &&
    header.charCodeAt(2) === DASH &&
    header.charCodeAt(35) === DASH &&
    header.charCodeAt(52) === DASH &&
    isHex(header, 3, 35, false) &&
    isHex(header, 36, 52, false) &&
    isHex(header, 53, 55, true)
  ) {
    return {
      traceId: header.substring(3, 35),
      spanId: header.substring(36, 52),
      traceFlags: hexDigit(header.charCodeAt(53)) * 16 + hexDigit(header.charCodeAt(54)),
    };
  }
  return parseTraceParent(header);
}

const FLAGS_HEX = Array.from({ length: 256 }, (_, flags) => flags.toString(16).padStart(2, "0"));

/** The traceparent value for a (valid) span context, as W3CTraceContextPropagator writes it. */
export function formatTraceparent(traceId: string, spanId: string, traceFlags: number): string {
  return `00-${traceId}-${spanId}-${FLAGS_HEX[traceFlags & 0xff] ?? "00"}`;
}

/**
 * The bound of TraceIdRatioBasedSampler(ratio): a root is sampled when the XOR of its trace id's
 * four 32-bit words (PooledIdGenerator.lastTraceIdKey) is below it. Taken here rather than by
 * asking the SDK's sampler, which checks the id with a regular expression and allocates its
 * answer; trace-context.test.ts holds the two to the same decisions.
 */
export function ratioBound(ratio: number): number {
  if (!(ratio > 0)) return 0;
  return ratio >= 1 ? 0x100000000 : Math.floor(ratio * 0xffffffff);
}
