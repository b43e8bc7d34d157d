import { describe, expect, test } from "bun:test";
import { seededRandom } from "../testing/seeded-random.ts";
import { TripExpressionError } from "./errors.ts";
import { compileTrip, MAX_TRIP_LENGTH, parseTrip, type TripStats } from "./trip.ts";

const SEED = Number(process.env.POLICY_SEED ?? 0x7219);
const REPLAY = `POLICY_SEED=${SEED} bun test internal/policy/trip.test.ts replays it`;

function stats(partial: Partial<TripStats>): TripStats {
  return { consecutiveFailures: 0, requests: 0, failures: 0, errorRate: 0, ...partial };
}

function tripError(expression: string): TripExpressionError {
  try {
    parseTrip(expression);
  } catch (error) {
    if (error instanceof TripExpressionError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(expression)} to be refused`);
}

describe("compileTrip", () => {
  test("evaluates the documented examples", () => {
    const consecutive = compileTrip("consecutiveFailures >= 5");
    expect(consecutive(stats({ consecutiveFailures: 4 }))).toBe(false);
    expect(consecutive(stats({ consecutiveFailures: 5 }))).toBe(true);

    const rate = compileTrip("requests >= 20 && errorRate > 0.5");
    expect(rate(stats({ requests: 19, failures: 19, errorRate: 1 }))).toBe(false);
    expect(rate(stats({ requests: 20, failures: 10, errorRate: 0.5 }))).toBe(false);
    expect(rate(stats({ requests: 20, failures: 11, errorRate: 0.55 }))).toBe(true);
  });

  test("&& binds tighter than ||, ! negates a parenthesised expression, constants may stand left", () => {
    const trip = compileTrip("failures > 3 || requests > 10 && errorRate >= 0.5");
    expect(trip(stats({ failures: 4 }))).toBe(true);
    expect(trip(stats({ requests: 11, errorRate: 0.4 }))).toBe(false);
    expect(trip(stats({ requests: 11, errorRate: 0.5 }))).toBe(true);
    expect(compileTrip("!(requests < 10)")(stats({ requests: 10 }))).toBe(true);
    expect(compileTrip("!!(requests < 10)")(stats({ requests: 10 }))).toBe(false);
    expect(compileTrip("5 <= consecutiveFailures")(stats({ consecutiveFailures: 5 }))).toBe(true);
    expect(compileTrip("5 < consecutiveFailures")(stats({ consecutiveFailures: 5 }))).toBe(false);
    expect(compileTrip("failures == requests")(stats({ failures: 3, requests: 3 }))).toBe(true);
    expect(compileTrip("failures != requests")(stats({ failures: 3, requests: 3 }))).toBe(false);
    expect(compileTrip("\tfailures>=2.50&&requests<=3 ")(stats({ failures: 3, requests: 3 }))).toBe(true);
  });
});

describe("parseTrip errors name the column and what was expected", () => {
  const cases: [string, number, string][] = [
    ["failurs >= 5", 1, "unknown variable 'failurs' at column 1; expected one of consecutiveFailures, requests, failures, errorRate"],
    ["requests >= 20 && errorRate >", 30, "expected a number or a variable at column 30, found the end of the expression"],
    ["requests >= 20 &&", 18, "expected a number or a variable at column 18"],
    ["consecutiveFailures >= 5 & requests > 1", 26, "unexpected '&' at column 26; expected '&&'"],
    ["requests > 1 | failures > 1", 14, "unexpected '|' at column 14; expected '||'"],
    ["requests = 5", 10, "unexpected '=' at column 10; expected '=='"],
    ["(requests > 5", 14, "expected ')' at column 14 to close the '(' at column 1, found the end of the expression"],
    ["((requests > 5) || (failures > 1)", 34, "expected ')' at column 34 to close the '(' at column 1"],
    ["requests > 5)", 13, "unexpected ')' at column 13: it has no matching '('"],
    ["requests > 5 failures", 14, "expected '&&', '||' or the end of the expression at column 14, found 'failures'"],
    ["requests 5", 10, "expected a comparison (>, >=, <, <=, ==, !=) at column 10, found '5'"],
    ["requests", 9, "expected a comparison"],
    ["!requests > 5", 2, "expected '(' after '!'"],
    ["requests > 5.", 14, "expected a digit after the decimal point at column 14"],
    ["requests > .5", 12, "unexpected '.' at column 12"],
    ["requests > -1", 12, "unexpected '-' at column 12"],
    ["requests > 5 && errorRate > 50", 29, "errorRate is a fraction from 0 to 1, but is compared with 50 at column 29"],
    ["1 > 2", 1, "comparison of two numbers at column 1"],
    ["", 1, "expected an expression at column 1"],
    ["   ", 1, "expected an expression at column 1"],
    ["()", 2, "expected a number or a variable at column 2, found ')'"],
    ["requests > 5 && ()", 18, "expected a number or a variable at column 18"],
    ["requests # 5", 10, "unexpected character '#' at column 10"],
    ["requests >> 5", 11, "expected a number or a variable at column 11, found '>'"],
  ];
  for (const [expression, column, message] of cases) {
    test(JSON.stringify(expression), () => {
      const error = tripError(expression);
      expect(error.column).toBe(column);
      expect(error.expression).toBe(expression);
      expect(error.message).toContain(message);
    });
  }

  test("nesting and length are bounded", () => {
    const nested = (depth: number) => `${"(".repeat(depth)}requests > 1${")".repeat(depth)}`;
    expect(() => parseTrip(nested(60))).not.toThrow();
    expect(tripError(nested(80)).message).toContain("nests deeper than 64 levels");
    const long = Array.from({ length: 80 }, () => "requests > 1").join(" && ");
    expect(long.length).toBeGreaterThan(MAX_TRIP_LENGTH);
    expect(tripError(long).column).toBe(MAX_TRIP_LENGTH + 1);
  });
});

// A random tree, rendered to text with as few parentheses as precedence allows (plus some extra
// ones and random spacing), evaluated directly as the reference.
type Ref =
  | { kind: "cmp"; op: string; left: string; right: string }
  | { kind: "and" | "or"; left: Ref; right: Ref }
  | { kind: "not"; operand: Ref };

const VARS = ["consecutiveFailures", "requests", "failures", "errorRate"] as const;
const OPS = [">", ">=", "<", "<=", "==", "!="] as const;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function randomNumber(random: () => number, variable: string): string {
  if (variable === "errorRate") return pick(random, ["0", "0.25", "0.5", "0.75", "1", "1.0", "0.1", "0.333"]);
  const n = Math.floor(random() * 12);
  return pick(random, [String(n), String(n), `${n}.0`, `${n}.5`]);
}

function randomTree(random: () => number, depth: number): Ref {
  const roll = random();
  if (depth <= 0 || roll < 0.35) {
    const variable = pick(random, VARS);
    const other = random() < 0.15 ? pick(random, VARS) : randomNumber(random, variable);
    const flip = random() < 0.3;
    return { kind: "cmp", op: pick(random, OPS), left: flip ? other : variable, right: flip ? variable : other };
  }
  if (roll < 0.5) return { kind: "not", operand: randomTree(random, depth - 1) };
  return { kind: roll < 0.75 ? "and" : "or", left: randomTree(random, depth - 1), right: randomTree(random, depth - 1) };
}

function render(node: Ref, random: () => number, parent: number): string {
  const sp = () => pick(random, ["", " ", " ", "  "]);
  let text: string;
  let precedence: number;
  switch (node.kind) {
    case "cmp":
      text = `${node.left}${sp()}${node.op}${sp()}${node.right}`;
      precedence = 3;
      break;
    case "not":
      text = node.operand.kind === "not" ? `!${sp()}${render(node.operand, random, 3)}` : `!${sp()}(${render(node.operand, random, 0)})`;
      precedence = 3;
      break;
    case "and":
      text = `${render(node.left, random, 2)}${sp()}&&${sp()}${render(node.right, random, 3)}`;
      precedence = 2;
      break;
    case "or":
      text = `${render(node.left, random, 1)}${sp()}||${sp()}${render(node.right, random, 2)}`;
      precedence = 1;
      break;
  }
  return precedence < parent || random() < 0.1 ? `(${sp()}${text}${sp()})` : text;
}

function evaluate(node: Ref, s: TripStats): boolean {
  const value = (operand: string) => ((VARS as readonly string[]).includes(operand) ? s[operand as keyof TripStats] : Number(operand));
  switch (node.kind) {
    case "and":
      return evaluate(node.left, s) && evaluate(node.right, s);
    case "or":
      return evaluate(node.left, s) || evaluate(node.right, s);
    case "not":
      return !evaluate(node.operand, s);
    case "cmp": {
      const a = value(node.left);
      const b = value(node.right);
      return { ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b, "==": a === b, "!=": a !== b }[node.op] as boolean;
    }
  }
}

function randomStats(random: () => number): TripStats {
  const requests = Math.floor(random() * 12);
  const failures = Math.floor(random() * (requests + 1));
  return {
    consecutiveFailures: Math.floor(random() * 12),
    requests,
    failures,
    errorRate: requests === 0 ? 0 : failures / requests,
  };
}

describe("compileTrip agrees with a reference evaluation on random expressions", () => {
  test(`2000 expressions × 20 stats (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    for (let i = 0; i < 2000; i++) {
      const tree = randomTree(random, 5);
      const text = render(tree, random, 0);
      let compiled;
      try {
        compiled = compileTrip(text);
      } catch (error) {
        throw new Error(`${JSON.stringify(text)} was refused: ${(error as Error).message}; ${REPLAY}`);
      }
      // The grammar is a subset of JavaScript's expressions with the same meaning: the engine's
      // own parser is a second, independent reference (test-only; the compiler never evaluates code).
      const engine = new Function(...VARS, `return (${text});`) as (...values: number[]) => boolean;
      for (let j = 0; j < 20; j++) {
        const s = randomStats(random);
        const expected = evaluate(tree, s);
        const actual = compiled(s);
        const byEngine = engine(s.consecutiveFailures, s.requests, s.failures, s.errorRate);
        if (actual !== expected || byEngine !== expected) {
          throw new Error(
            `${JSON.stringify(text)} on ${JSON.stringify(s)}: compiled ${actual}, reference ${expected}, engine ${byEngine}; ${REPLAY}`,
          );
        }
      }
    }
  });

  test(`mangled expressions are refused with a TripExpressionError inside the text, or still compile (seed ${SEED})`, () => {
    const random = seededRandom(SEED + 1);
    const noise = ["(", ")", "!", "&", "|", "=", ">", "<", " ", "1", ".", "x", "&&", "||"];
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const text = render(randomTree(random, 4), random, 0);
      const at = Math.floor(random() * (text.length + 1));
      const mangled =
        random() < 0.5 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + pick(random, noise) + text.slice(at);
      try {
        compileTrip(mangled)(randomStats(random));
      } catch (error) {
        if (!(error instanceof TripExpressionError) || error.column < 1 || error.column > mangled.length + 1) {
          throw new Error(`${JSON.stringify(mangled)}: ${String(error)}; ${REPLAY}`);
        }
        expect(error.message).toContain(`column ${error.column}`);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(500);
  });
});
