import { describe, expect, test } from "bun:test";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { parseTraceParent, W3CTraceContextPropagator } from "@opentelemetry/core";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { seededRandom } from "../../testing/seeded-random.ts";
import { PooledIdGenerator } from "./ids.ts";
import { formatTraceparent, parseTraceparent, ratioBound } from "./trace-context.ts";

const SEED = Number(process.env.SEED ?? 20240611);
const CANONICAL = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/** Single-character edits of a valid traceparent: the inputs where a hand-written check could go wrong. */
function mutations(random: () => number, count: number): string[] {
  const alphabet = "0123456789abcdefABCDEFfg- \t.x";
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const chars = [...CANONICAL];
    const at = Math.floor(random() * chars.length);
    const kind = random();
    const c = alphabet[Math.floor(random() * alphabet.length)] ?? "0";
    if (kind < 0.6) chars[at] = c;
    else if (kind < 0.8) chars.splice(at, 1);
    else chars.splice(at, 0, c);
    out.push(chars.join(""));
  }
  return out;
}

describe("traceparent", () => {
  test(`parses exactly what the propagator's parser accepts, with the same fields (seed ${SEED}; SEED=... replays)`, () => {
    const random = seededRandom(SEED);
    const inputs = [
      CANONICAL,
      CANONICAL.replace(/-01$/, "-00"),
      CANONICAL.replace(/-01$/, "-ff"),
      `00-${"0".repeat(32)}-b7ad6b7169203331-01`,
      `00-0af7651916cd43dd8448eb211c80319c-${"0".repeat(16)}-01`,
      `ff${CANONICAL.slice(2)}`,
      `01${CANONICAL.slice(2)}`,
      `01${CANONICAL.slice(2)}-future`,
      `${CANONICAL}-extra`,
      ` ${CANONICAL}`,
      `${CANONICAL} `,
      CANONICAL.toUpperCase(),
      "",
      ...mutations(random, 20_000),
    ];
    for (const input of inputs) {
      const expected = parseTraceParent(input);
      const actual = parseTraceparent(input);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        throw new Error(`seed ${SEED}: ${JSON.stringify(input)} parsed as ${JSON.stringify(actual)}, propagator says ${JSON.stringify(expected)}`);
      }
    }
  });

  test("formats what the propagator injects", () => {
    const propagator = new W3CTraceContextPropagator();
    const ids = new PooledIdGenerator();
    for (const traceFlags of [0, 1]) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags }), carrier, {
        set: (target, key, value) => {
          target[key] = value;
        },
      });
      expect(formatTraceparent(traceId, spanId, traceFlags)).toBe(carrier.traceparent as string);
    }
    expect(formatTraceparent("a".repeat(32), "b".repeat(16), 0x11)).toBe(`00-${"a".repeat(32)}-${"b".repeat(16)}-11`);
  });
});

describe("root sampling", () => {
  test("a generated trace id's key against ratioBound decides as TraceIdRatioBasedSampler does", () => {
    const ids = new PooledIdGenerator();
    for (const ratio of [0, 1e-6, 0.01, 0.1, 0.3, 0.5, 0.999, 1]) {
      const bound = ratioBound(ratio);
      const sdk = new TraceIdRatioBasedSampler(ratio);
      let sampled = 0;
      for (let i = 0; i < 5000; i++) {
        const traceId = ids.generateTraceId();
        const ours = ids.lastTraceIdKey < bound;
        const expected = sdk.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
        if (ours !== expected) throw new Error(`ratio ${ratio}, trace ${traceId}: ours ${ours}, SDK ${expected}`);
        if (ours) sampled++;
      }
      if (ratio === 0.5) expect(sampled).toBeGreaterThan(2000);
    }
  });
});
