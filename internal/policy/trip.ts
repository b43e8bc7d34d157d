// Circuit-breaker trip expressions: "consecutiveFailures >= 5", "requests >= 20 && errorRate > 0.5".
//
// A hand-written recursive-descent parser rather than a parser library or an expression package:
// the grammar is a dozen productions, an expression is compiled once per policy change, and the
// compiled closure runs on the request path, so the folder stays dependency-free and Node-safe,
// and the error messages can name the exact column. Nothing is ever evaluated as code.
//
//   or         := and ("||" and)*
//   and        := unary ("&&" unary)*
//   unary      := "!" ("!" unary | "(" or ")") | "(" or ")" | comparison
//   comparison := operand (">" | ">=" | "<" | "<=" | "==" | "!=") operand
//   operand    := number | variable
//
// "!" must be followed by "(" (or another "!"), so that "!requests > 5" is refused instead of
// meaning something different from what a C or JavaScript reader expects. Every valid expression
// therefore means what it would mean in JavaScript.
import { TripExpressionError } from "./errors.ts";

export const TRIP_VARIABLES = ["consecutiveFailures", "requests", "failures", "errorRate"] as const;
export type TripVariable = (typeof TRIP_VARIABLES)[number];

/** What a circuit breaker knows when it decides whether to trip. */
export interface TripStats {
  /** Failures in a row since the last success. */
  readonly consecutiveFailures: number;
  /** Requests completed in the rolling window. */
  readonly requests: number;
  /** Failed requests in the rolling window. */
  readonly failures: number;
  /** failures / requests in the rolling window, 0 when there were no requests. */
  readonly errorRate: number;
}

export type TripPredicate = (stats: TripStats) => boolean;

export type TripComparator = ">" | ">=" | "<" | "<=" | "==" | "!=";

export type TripOperand =
  | { readonly kind: "number"; readonly value: number; readonly column: number }
  | { readonly kind: "variable"; readonly name: TripVariable; readonly column: number };

export type TripNode =
  | { readonly kind: "compare"; readonly op: TripComparator; readonly left: TripOperand; readonly right: TripOperand }
  | { readonly kind: "and" | "or"; readonly left: TripNode; readonly right: TripNode }
  | { readonly kind: "not"; readonly operand: TripNode };

export const MAX_TRIP_LENGTH = 1000;
const MAX_DEPTH = 64;

type Token =
  | { readonly kind: "number"; readonly value: number; readonly column: number; readonly text: string }
  | { readonly kind: "name"; readonly text: string; readonly column: number }
  | { readonly kind: "symbol"; readonly text: string; readonly column: number }
  | { readonly kind: "end"; readonly column: number; readonly text: "" };

const COMPARATORS: ReadonlySet<string> = new Set([">", ">=", "<", "<=", "==", "!="]);
const VARIABLES: ReadonlySet<string> = new Set(TRIP_VARIABLES);
const EXPECTED_VARIABLE = `one of ${TRIP_VARIABLES.join(", ")}`;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const fail = (index: number, message: (column: string) => string): never => {
    throw new TripExpressionError(source, index + 1, message(`column ${index + 1}`));
  };
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === " " || ch === "\t") {
      i++;
      continue;
    }
    const start = i;
    if (ch >= "0" && ch <= "9") {
      while (i < source.length && isDigit(source[i])) i++;
      if (source[i] === ".") {
        i++;
        if (!isDigit(source[i])) fail(i, (at) => `expected a digit after the decimal point at ${at}`);
        while (i < source.length && isDigit(source[i])) i++;
      }
      const text = source.slice(start, i);
      tokens.push({ kind: "number", value: Number(text), column: start + 1, text });
      continue;
    }
    if (isLetter(ch)) {
      while (i < source.length && (isLetter(source[i]) || isDigit(source[i]))) i++;
      tokens.push({ kind: "name", text: source.slice(start, i), column: start + 1 });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (two === "&&" || two === "||" || two === ">=" || two === "<=" || two === "==" || two === "!=") {
      tokens.push({ kind: "symbol", text: two, column: start + 1 });
      i += 2;
      continue;
    }
    if (ch === ">" || ch === "<" || ch === "!" || ch === "(" || ch === ")") {
      tokens.push({ kind: "symbol", text: ch, column: start + 1 });
      i++;
      continue;
    }
    if (ch === "&" || ch === "|" || ch === "=") fail(i, (at) => `unexpected '${ch}' at ${at}; expected '${ch}${ch}'`);
    if (ch === ".") fail(i, (at) => `unexpected '.' at ${at}; a number starts with a digit (write 0.5)`);
    if (ch === "-") fail(i, (at) => `unexpected '-' at ${at}; no number here is negative`);
    fail(i, (at) => `unexpected character '${ch}' at ${at}`);
  }
  tokens.push({ kind: "end", column: source.length + 1, text: "" });
  return tokens;
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

function isLetter(ch: string | undefined): boolean {
  return ch !== undefined && ((ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || ch === "_");
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
  ) {}

  parse(): TripNode {
    const node = this.or();
    const next = this.peek();
    if (next.text === ")") {
      throw new TripExpressionError(this.source, next.column, `unexpected ')' at column ${next.column}: it has no matching '('`);
    }
    if (next.kind !== "end") this.fail(next, "'&&', '||' or the end of the expression");
    return node;
  }

  private or(): TripNode {
    let left = this.and();
    while (this.peek().text === "||") {
      this.index++;
      left = { kind: "or", left, right: this.and() };
    }
    return left;
  }

  private and(): TripNode {
    let left = this.unary();
    while (this.peek().text === "&&") {
      this.index++;
      left = { kind: "and", left, right: this.unary() };
    }
    return left;
  }

  private unary(): TripNode {
    const token = this.peek();
    if (++this.depth > MAX_DEPTH) {
      throw new TripExpressionError(this.source, token.column, `expression nests deeper than ${MAX_DEPTH} levels at column ${token.column}`);
    }
    let node: TripNode;
    if (token.text === "!") {
      this.index++;
      const next = this.peek();
      if (next.text !== "(" && next.text !== "!") this.fail(next, "'(' after '!' (write !(requests > 5))");
      node = { kind: "not", operand: this.unary() };
    } else if (token.text === "(") {
      this.index++;
      node = this.or();
      const close = this.peek();
      if (close.text !== ")") this.fail(close, "')'", ` to close the '(' at column ${token.column}`);
      this.index++;
    } else {
      node = this.comparison();
    }
    this.depth--;
    return node;
  }

  private comparison(): TripNode {
    const left = this.operand();
    const op = this.peek();
    if (op.kind !== "symbol" || !COMPARATORS.has(op.text)) this.fail(op, "a comparison (>, >=, <, <=, ==, !=)");
    this.index++;
    const right = this.operand();
    if (left.kind === "number" && right.kind === "number") {
      throw new TripExpressionError(
        this.source,
        left.column,
        `comparison of two numbers at column ${left.column}; one side must be ${EXPECTED_VARIABLE}`,
      );
    }
    checkFraction(this.source, left, right);
    checkFraction(this.source, right, left);
    return { kind: "compare", op: op.text as TripComparator, left, right };
  }

  private operand(): TripOperand {
    const token = this.peek();
    if (token.kind === "number") {
      this.index++;
      return { kind: "number", value: token.value, column: token.column };
    }
    if (token.kind === "name") {
      if (!VARIABLES.has(token.text)) {
        throw new TripExpressionError(
          this.source,
          token.column,
          `unknown variable '${token.text}' at column ${token.column}; expected ${EXPECTED_VARIABLE}`,
        );
      }
      this.index++;
      return { kind: "variable", name: token.text as TripVariable, column: token.column };
    }
    return this.fail(token, "a number or a variable");
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private fail(token: Token, expected: string, purpose = ""): never {
    const found = token.kind === "end" ? "the end of the expression" : `'${token.text}'`;
    throw new TripExpressionError(this.source, token.column, `expected ${expected} at column ${token.column}${purpose}, found ${found}`);
  }
}

// errorRate is a fraction; "errorRate > 50" is a percentage written by mistake and would never trip.
function checkFraction(source: string, variable: TripOperand, other: TripOperand): void {
  if (variable.kind === "variable" && variable.name === "errorRate" && other.kind === "number" && other.value > 1) {
    throw new TripExpressionError(
      source,
      other.column,
      `errorRate is a fraction from 0 to 1, but is compared with ${other.value} at column ${other.column} (write 0.5 for 50%)`,
    );
  }
}

/**
 * Parses a trip expression into its syntax tree, or throws a TripExpressionError whose message
 * names the column and what was expected there. Besides the grammar it refuses comparisons of two
 * numbers and an errorRate compared with a number above 1 (a percentage written by mistake).
 */
export function parseTrip(expression: string): TripNode {
  if (expression.length > MAX_TRIP_LENGTH) {
    throw new TripExpressionError(expression, MAX_TRIP_LENGTH + 1, `expression is longer than ${MAX_TRIP_LENGTH} characters`);
  }
  const tokens = tokenize(expression);
  if (tokens.length === 1) throw new TripExpressionError(expression, 1, "expected an expression at column 1, found nothing");
  return new Parser(expression, tokens).parse();
}

/**
 * Compiles a trip expression once into a predicate over breaker statistics: a tree of small
 * closures, with no eval and no allocation per call. Throws a TripExpressionError as parseTrip
 * does. `==` and `!=` compare numbers exactly.
 */
export function compileTrip(expression: string): TripPredicate {
  return compileNode(parseTrip(expression));
}

type Read = (stats: TripStats) => number;

const READ: Record<TripVariable, Read> = {
  consecutiveFailures: (s) => s.consecutiveFailures,
  requests: (s) => s.requests,
  failures: (s) => s.failures,
  errorRate: (s) => s.errorRate,
};

const FLIPPED: Record<TripComparator, TripComparator> = { ">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!=" };

function compileNode(node: TripNode): TripPredicate {
  switch (node.kind) {
    case "and": {
      const left = compileNode(node.left);
      const right = compileNode(node.right);
      return (s) => left(s) && right(s);
    }
    case "or": {
      const left = compileNode(node.left);
      const right = compileNode(node.right);
      return (s) => left(s) || right(s);
    }
    case "not": {
      const operand = compileNode(node.operand);
      return (s) => !operand(s);
    }
    case "compare":
      return compileComparison(node.op, node.left, node.right);
  }
}

function compileComparison(op: TripComparator, left: TripOperand, right: TripOperand): TripPredicate {
  // The common shape, a variable against a constant, reads one field and compares with a constant.
  if (left.kind === "number" && right.kind === "variable") return compileConstant(READ[right.name], FLIPPED[op], left.value);
  if (left.kind === "variable" && right.kind === "number") return compileConstant(READ[left.name], op, right.value);
  const a = operandReader(left);
  const b = operandReader(right);
  switch (op) {
    case ">":
      return (s) => a(s) > b(s);
    case ">=":
      return (s) => a(s) >= b(s);
    case "<":
      return (s) => a(s) < b(s);
    case "<=":
      return (s) => a(s) <= b(s);
    case "==":
      return (s) => a(s) === b(s);
    case "!=":
      return (s) => a(s) !== b(s);
  }
}

function compileConstant(read: Read, op: TripComparator, k: number): TripPredicate {
  switch (op) {
    case ">":
      return (s) => read(s) > k;
    case ">=":
      return (s) => read(s) >= k;
    case "<":
      return (s) => read(s) < k;
    case "<=":
      return (s) => read(s) <= k;
    case "==":
      return (s) => read(s) === k;
    case "!=":
      return (s) => read(s) !== k;
  }
}

function operandReader(operand: TripOperand): Read {
  if (operand.kind === "variable") return READ[operand.name];
  const value = operand.value;
  return () => value;
}
