// The Prometheus text exposition format 0.0.4, read with one index scan per line: the aggregator
// parses every node's /metrics each cycle (200 nodes × ~500 lines every 5 s on two cores), so no
// regex, no per-line split, and names that repeat from one line to the next (a histogram's bucket
// lines, label names like `le`) reuse the string already made instead of slicing a new one.
// The grammar follows https://prometheus.io/docs/instrumenting/exposition_formats/ and, where the
// page is silent, what Prometheus' own parser (model/textparse/promparse.go) accepts.

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** # TYPE of each metric family by its name (histogram families: the base name, e.g. x for x_bucket/x_sum/x_count). */
  readonly types: ReadonlyMap<string, MetricType>;
}

/** A text the parser refused: `line` (1-based) is where, the message says what (without the line number). */
export class PromTextError extends Error {
  override readonly name = "PromTextError";

  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ParseLimits {
  /** Samples in one exposition, and also # TYPE and # HELP lines each (default 200 000). */
  readonly maxSamples?: number;
  /** Characters in one line, without its \n or \r\n (default 65 536). */
  readonly maxLineLength?: number;
  /** Labels on one sample (default 64). */
  readonly maxLabels?: number;
}

const DEFAULT_MAX_SAMPLES = 200_000;
const DEFAULT_MAX_LINE_LENGTH = 65_536;
const DEFAULT_MAX_LABELS = 64;

/**
 * Parses Prometheus text format 0.0.4 (and tolerates OpenMetrics' "# EOF"). Throws PromTextError naming the line.
 *
 * Accepts `# HELP name text` and `# TYPE name type` lines, other `#` comments (`# EOF` among them:
 * in 0.0.4 it is a comment), blank lines, CRLF, a last line without its line feed, blanks and tabs
 * between tokens, and sample lines `name{label="value",...} value [timestamp]` with an optional
 * trailing comma in the braces. A value is what Prometheus reads with Go's ParseFloat (decimal,
 * exponent, NaN, Inf and Infinity in any case, signed infinities; no hex floats or underscores, which
 * Prometheus refuses too); the timestamp must be an int64 and is then dropped. Refuses, with the
 * line number: a malformed line, an invalid metric or label name, `__name__` as a label, a duplicate
 * label, an unterminated label value, an escape other than \\ \" \n, a value that is not a float or
 * overflows, a second # TYPE for one family or # HELP for one name, a # TYPE after its family's
 * samples, a histogram bucket's `le` or a summary's `quantile` that is not a float, and anything
 * over `limits`, checked line by line so that a huge body fails early instead of growing the result.
 */
export function parsePrometheusText(text: string, limits?: ParseLimits): Exposition {
  return new Parser(text, limits).parse();
}

/** The type of the family a sample belongs to (handles _bucket/_sum/_count/_total/_created suffixes). */
export function familyOf(name: string, types: ReadonlyMap<string, MetricType>): { family: string; type: MetricType } {
  const exact = types.get(name);
  if (exact !== undefined) return { family: name, type: exact };
  const cut = name.lastIndexOf("_");
  if (cut > 0) {
    const family = name.slice(0, cut);
    const type = types.get(family);
    if (type !== undefined && SUFFIXES[type].includes(name.slice(cut + 1))) return { family, type };
  }
  return { family: name, type: "untyped" };
}

/**
 * A float as the text format writes it (a sample value, or a `le` / `quantile` label value):
 * Go's ParseFloat without hex floats or underscores. `undefined` when it is not one, or overflows.
 */
export function parsePromFloat(text: string): number | undefined {
  return readFloat(text, 0, text.length);
}

// The series each type adds to its family's name: x_bucket belongs to histogram x. _created and
// counters' _total are OpenMetrics', harmless to recognise here.
const SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: ["total", "created"],
  gauge: [],
  histogram: ["bucket", "sum", "count", "created"],
  summary: ["sum", "count", "created"],
  untyped: [],
};

const TYPES: ReadonlyMap<string, MetricType> = new Map(
  (["counter", "gauge", "histogram", "summary", "untyped"] as const).map((t) => [t, t]),
);

const TAB = 9;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const EQUALS = 61;
const BACKSLASH = 92;
const LOWER_N = 110;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

// Character classes of the ASCII range; anything above it is in none.
const NAME_START = 1; // [a-zA-Z_:]
const NAME = 2; // [a-zA-Z0-9_:]
const LABEL_START = 4; // [a-zA-Z_]
const LABEL = 8; // [a-zA-Z0-9_]
const DIGIT = 16;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  const digit = c >= 48 && c <= 57;
  CLASS[c] =
    (letter || c === 58 ? NAME_START | NAME : 0) | (digit ? NAME | LABEL | DIGIT : 0) | (letter ? LABEL_START | LABEL : 0);
}

function classOf(c: number): number {
  return c < 128 ? CLASS[c]! : 0;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

const RECENT_NAMES = 4;

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});

// Role of a sample in its family for which the parser checks a label.
const PLAIN = 0;
const BUCKET = 1; // its `le` must be a float
const QUANTILE = 2; // its `quantile` must be a float

class Parser {
  readonly #text: string;
  readonly #maxSamples: number;
  readonly #maxLineLength: number;
  readonly #maxLabels: number;
  readonly #samples: Sample[] = [];
  readonly #types = new Map<string, MetricType>();
  readonly #helped = new Set<string>();
  /** Every sample name seen so far, to refuse a # TYPE that comes after its family's samples. */
  readonly #seen = new Set<string>();
  #line = 0;
  // The last few sample names and what each needs of its labels: a histogram's lines cycle
  // through x_bucket, x_sum and x_count, so a new line's name is nearly always one of them.
  readonly #recentNames: string[] = [];
  readonly #recentRoles: number[] = [];
  #recentHit = 0;
  #recentNext = 0;
  /** Label names of the previous sample by position, reused when the next one has the same. */
  readonly #lastLabelNames: string[] = [];
  /** Label values of the previous sample by position, likewise. */
  readonly #lastLabelValues: string[] = [];
  /** Out-parameter of #labelValue. */
  #value = "";
  /** Where the next backslash is, at or after the label value being read (-1: to be found again). */
  #nextBackslash = -1;

  constructor(text: string, limits: ParseLimits | undefined) {
    this.#text = text;
    this.#maxSamples = limits?.maxSamples ?? DEFAULT_MAX_SAMPLES;
    this.#maxLineLength = limits?.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.#maxLabels = limits?.maxLabels ?? DEFAULT_MAX_LABELS;
  }

  parse(): Exposition {
    const text = this.#text;
    const length = text.length;
    let pos = 0;
    while (pos < length) {
      this.#line++;
      let lineEnd = text.indexOf("\n", pos);
      if (lineEnd === -1) lineEnd = length;
      let end = lineEnd;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--;
      if (end - pos > this.#maxLineLength) this.#fail(`line longer than ${this.#maxLineLength} characters (the limit)`);
      while (end > pos && isBlank(text.charCodeAt(end - 1))) end--;
      let start = pos;
      while (start < end && isBlank(text.charCodeAt(start))) start++;
      if (start < end) {
        if (text.charCodeAt(start) === HASH) this.#comment(start + 1, end);
        else this.#sample(start, end);
      }
      pos = lineEnd + 1;
    }
    return { samples: this.#samples, types: this.#types };
  }

  #sample(start: number, end: number): void {
    if (this.#samples.length >= this.#maxSamples) this.#fail(`more than ${this.#maxSamples} samples (the limit)`);
    const text = this.#text;
    let known = this.#recentName(start, end);
    if (known === -1) known = this.#newName(start, this.#metricName(start, end));
    const name = this.#recentNames[known]!;
    const role = this.#recentRoles[known];
    let i = skipBlanks(text, start + name.length, end);
    let labels = EMPTY_LABELS;
    if (i < end && text.charCodeAt(i) === OPEN_BRACE) {
      const built: Record<string, string> = {};
      i = skipBlanks(text, this.#labels(i + 1, end, built), end);
      labels = built;
    }
    const valueStart = i;
    while (i < end && !isBlank(text.charCodeAt(i))) i++;
    if (valueStart === i) this.#fail(`no value after ${quote(text, start, valueStart)}`);
    const value = readFloat(text, valueStart, i);
    if (value === undefined) this.#fail(badFloat(text, valueStart, i));
    i = skipBlanks(text, i, end);
    if (i < end) {
      const stampStart = i;
      while (i < end && !isBlank(text.charCodeAt(i))) i++;
      if (!isInt64(text, stampStart, i)) this.#fail(`timestamp ${quote(text, stampStart, i)} is not an integer (int64 milliseconds)`);
      if (skipBlanks(text, i, end) < end) this.#fail(`unexpected ${quote(text, skipBlanks(text, i, end), end)} after the timestamp`);
    }
    if (role === BUCKET) this.#checkFloatLabel(labels, "le", name);
    else if (role === QUANTILE) this.#checkFloatLabel(labels, "quantile", name);
    this.#samples.push({ name, labels, value });
  }

  /** The end of a metric name starting at `start`; refuses one that is not [a-zA-Z_:][a-zA-Z0-9_:]*. */
  #metricName(start: number, end: number): number {
    const text = this.#text;
    let i = start;
    if (i < end && classOf(text.charCodeAt(i)) & NAME_START) {
      i++;
      while (i < end && classOf(text.charCodeAt(i)) & NAME) i++;
    }
    const c = i < end ? text.charCodeAt(i) : SPACE;
    if (i === start || !(isBlank(c) || c === OPEN_BRACE)) {
      let tokenEnd = i;
      while (tokenEnd < end && !isBlank(text.charCodeAt(tokenEnd)) && (tokenEnd === start || text.charCodeAt(tokenEnd) !== OPEN_BRACE)) tokenEnd++;
      this.#fail(`invalid metric name ${quote(text, start, tokenEnd)}`);
    }
    return i;
  }

  /** Which of the recent names (known valid, already made) starts this line, or -1. */
  #recentName(start: number, end: number): number {
    const text = this.#text;
    const names = this.#recentNames;
    const n = names.length;
    for (let tried = 0, k = this.#recentHit; tried < n; tried++, k = k + 1 === n ? 0 : k + 1) {
      const name = names[k]!;
      if (text.startsWith(name, start) && endsToken(text, start + name.length, end)) {
        this.#recentHit = k;
        return k;
      }
    }
    return -1;
  }

  /** A sample name none of the recent ones: notes it, and what its family needs of its labels. */
  #newName(start: number, end: number): number {
    const name = this.#text.slice(start, end);
    this.#seen.add(name);
    const { family, type } = familyOf(name, this.#types);
    const role = type === "histogram" && name === `${family}_bucket` ? BUCKET : type === "summary" && name === family ? QUANTILE : PLAIN;
    const k = this.#recentNext;
    this.#recentNext = (k + 1) % RECENT_NAMES;
    this.#recentNames[k] = name;
    this.#recentRoles[k] = role;
    this.#recentHit = k;
    return k;
  }

  /** Reads `name="value",...}` (the brace already consumed) into `labels`; returns the index after `}`. */
  #labels(from: number, end: number, labels: Record<string, string>): number {
    const text = this.#text;
    let i = from;
    for (let count = 0; ; count++) {
      i = skipBlanks(text, i, end);
      if (i >= end) this.#fail("label set not closed with '}'");
      if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
      if (count === this.#maxLabels) this.#fail(`more than ${this.#maxLabels} labels on one sample (the limit)`);
      const nameStart = i;
      // As with metric names, the previous sample's label name in this position is usually this one.
      let name = this.#lastLabelNames[count];
      if (name !== undefined && text.startsWith(name, i) && endsLabelName(text, i + name.length, end)) i += name.length;
      else {
        if (classOf(text.charCodeAt(i)) & LABEL_START) {
          i++;
          while (i < end && classOf(text.charCodeAt(i)) & LABEL) i++;
        }
        name = text.slice(nameStart, i);
        this.#lastLabelNames[count] = name;
      }
      const nameEnd = i;
      i = skipBlanks(text, i, end);
      if (nameEnd === nameStart || i >= end || text.charCodeAt(i) !== EQUALS) this.#badLabelName(nameStart, nameEnd, end);
      i = skipBlanks(text, i + 1, end);
      if (i >= end || text.charCodeAt(i) !== QUOTE) this.#fail(`expected '"' to open the value of label "${name}"`);
      i = this.#labelValue(i + 1, end, name, count);
      if (name === "__name__") this.#fail(`label name "__name__" is reserved`);
      if (Object.hasOwn(labels, name)) this.#fail(`label "${name}" appears twice`);
      // A plain object's __proto__ is a setter, not a property: define it as one.
      if (name === "__proto__") Object.defineProperty(labels, name, { value: this.#value, enumerable: true, writable: true, configurable: true });
      else labels[name] = this.#value;
      i = skipBlanks(text, i, end);
      const c = i < end ? text.charCodeAt(i) : -1;
      if (c === COMMA) i++;
      else if (c === CLOSE_BRACE) return i + 1;
      else this.#fail(`expected ',' or '}' after the value of label "${name}"`);
    }
  }

  #badLabelName(start: number, nameEnd: number, end: number): never {
    const text = this.#text;
    let tokenEnd = nameEnd;
    while (tokenEnd < end && !' \t=,}"'.includes(text.charAt(tokenEnd))) tokenEnd++;
    if (tokenEnd > nameEnd) this.#fail(`invalid label name ${quote(text, start, tokenEnd)}`);
    if (nameEnd === start) this.#fail(`expected a label name, found ${quote(text, start, end)}`);
    this.#fail(`expected '=' after label name ${quote(text, start, nameEnd)}`);
  }

  /**
   * Reads a label value after its opening quote into #value (the previous sample's value in this
   * position when equal); returns the index after the closing quote.
   */
  #labelValue(from: number, end: number, label: string, position: number): number {
    const text = this.#text;
    const close = text.indexOf('"', from);
    if (close === -1 || close >= end) this.#fail(`unterminated value of label "${label}"`);
    if (this.#backslashFrom(from) > close) {
      const last = this.#lastLabelValues[position];
      if (last !== undefined && last.length === close - from && text.startsWith(last, from)) this.#value = last;
      else this.#value = this.#lastLabelValues[position] = text.slice(from, close);
      return close + 1;
    }
    let i = this.#nextBackslash;
    // Escapes: rare, so the value is assembled piecewise only here.
    let value = "";
    let chunk = from;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.#value = value + text.slice(chunk, i);
        return i + 1;
      }
      if (c === BACKSLASH) {
        const next = i + 1 < end ? text.charCodeAt(i + 1) : -1;
        const unescaped = next === BACKSLASH ? "\\" : next === QUOTE ? '"' : next === LOWER_N ? "\n" : undefined;
        if (unescaped === undefined) {
          if (next === -1) break;
          this.#fail(`invalid escape ${quote(text, i, i + 2)} in the value of label "${label}" (only \\\\, \\" and \\n)`);
        }
        value += text.slice(chunk, i) + unescaped;
        i += 2;
        chunk = i;
      } else i++;
    }
    this.#fail(`unterminated value of label "${label}"`);
  }

  /**
   * The first backslash at or after `from` (the text's length when none). Kept between calls:
   * searching afresh from every label value would scan to the end of a text that has none.
   */
  #backslashFrom(from: number): number {
    if (this.#nextBackslash < from) {
      const found = this.#text.indexOf("\\", from);
      this.#nextBackslash = found === -1 ? this.#text.length : found;
    }
    return this.#nextBackslash;
  }

  /** A bucket's `le` or a quantile's `quantile`, when there (Prometheus accepts it missing), must be a float. */
  #checkFloatLabel(labels: Readonly<Record<string, string>>, label: string, name: string): void {
    const value = Object.hasOwn(labels, label) ? labels[label] : undefined;
    if (value !== undefined && parsePromFloat(value) === undefined) {
      this.#fail(`${name} has "${label}" ${JSON.stringify(value.slice(0, 40))}, not a number`);
    }
  }

  /** A `#` line: # HELP or # TYPE, else a comment. `from` is just after the `#`. */
  #comment(from: number, end: number): void {
    const text = this.#text;
    const wordStart = skipBlanks(text, from, end);
    const isHelp = text.startsWith("HELP", wordStart);
    if (!(isHelp || text.startsWith("TYPE", wordStart))) return;
    // "# HELP" must be followed by a blank to be metadata; "# HELPFUL note" is a comment.
    const after = wordStart + 4;
    if (after >= end || !isBlank(text.charCodeAt(after))) return;
    const nameStart = skipBlanks(text, after, end);
    const nameEnd = this.#metricName(nameStart, end);
    if (text.charCodeAt(nameEnd) === OPEN_BRACE && nameEnd < end) this.#fail(`invalid metric name ${quote(text, nameStart, end)}`);
    const name = text.slice(nameStart, nameEnd);
    const rest = skipBlanks(text, nameEnd, end);
    if (isHelp) this.#help(name, rest, end);
    else this.#type(name, rest, end);
  }

  #help(name: string, from: number, end: number): void {
    const text = this.#text;
    for (let i = this.#backslashFrom(from); i < end; i = this.#backslashFrom(i + 2)) {
      const next = i + 1 < end ? text.charCodeAt(i + 1) : -1;
      if (next !== BACKSLASH && next !== LOWER_N) this.#fail(`invalid escape ${quote(text, i, Math.min(i + 2, end))} in # HELP ${name} (only \\\\ and \\n)`);
    }
    if (this.#helped.has(name)) this.#fail(`second # HELP for ${name}`);
    if (this.#helped.size >= this.#maxSamples) this.#fail(`more than ${this.#maxSamples} # HELP lines (the limit)`);
    this.#helped.add(name);
  }

  #type(name: string, from: number, end: number): void {
    const text = this.#text;
    if (from >= end) this.#fail(`# TYPE ${name} without a type`);
    let wordEnd = from;
    while (wordEnd < end && !isBlank(text.charCodeAt(wordEnd))) wordEnd++;
    if (wordEnd < end) this.#fail(`unexpected ${quote(text, skipBlanks(text, wordEnd, end), end)} after # TYPE ${name}`);
    const type = TYPES.get(text.slice(from, wordEnd));
    if (type === undefined) this.#fail(`unknown metric type ${quote(text, from, wordEnd)} (counter, gauge, histogram, summary or untyped)`);
    const types = this.#types;
    const owner = familyOf(name, types);
    if (types.has(owner.family)) this.#fail(`second # TYPE for ${owner.family}`);
    for (const suffix of SUFFIXES[type]) {
      const series = `${name}_${suffix}`;
      if (types.has(series)) this.#fail(`# TYPE ${name} ${type} would take in ${series}, which has its own # TYPE`);
      if (this.#seen.has(series)) this.#fail(`# TYPE ${name} comes after samples of ${series}`);
    }
    if (this.#seen.has(name)) this.#fail(`# TYPE ${name} comes after samples of ${name}`);
    if (types.size >= this.#maxSamples) this.#fail(`more than ${this.#maxSamples} # TYPE lines (the limit)`);
    // The recent names' roles stay right: they are all in #seen, so a type that would change one was just refused.
    types.set(name, type);
  }

  #fail(detail: string): never {
    throw new PromTextError(this.#line, detail);
  }
}

/** A metric name may end at `i`: a blank, `{` or the end of the line follows. */
function endsToken(text: string, i: number, end: number): boolean {
  if (i >= end) return true;
  const c = text.charCodeAt(i);
  return c === SPACE || c === TAB || c === OPEN_BRACE;
}

/** A label name may end at `i`: `=` or a blank follows. */
function endsLabelName(text: string, i: number, end: number): boolean {
  if (i >= end) return false;
  const c = text.charCodeAt(i);
  return c === EQUALS || c === SPACE || c === TAB;
}

function skipBlanks(text: string, i: number, end: number): number {
  while (i < end && isBlank(text.charCodeAt(i))) i++;
  return i;
}

/** text[start, end) quoted for a message, cut short so that a huge garbage line makes a short error. */
function quote(text: string, start: number, end: number): string {
  const cut = Math.min(end, start + 40);
  return JSON.stringify(text.slice(start, cut)) + (cut < end ? "…" : "");
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * text[start, end) as Go's ParseFloat reads it, hex and underscores refused; undefined when it is
 * not a float or overflows float64 (Go's ErrRange, which Prometheus refuses too).
 */
function readFloat(text: string, start: number, end: number): number | undefined {
  let i = start;
  let negative = false;
  let c = text.charCodeAt(i);
  if (c === PLUS || c === MINUS) {
    negative = c === MINUS;
    c = text.charCodeAt(++i);
  }
  if (i < end && !(classOf(c) & DIGIT) && c !== DOT) return special(text, start, i, end);
  // [digits][.digits][(e|E)[+-]digits], with at least one digit in the mantissa.
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  while (i < end && classOf((c = text.charCodeAt(i))) & DIGIT) {
    mantissa = mantissa * 10 + (c - ZERO);
    digits++;
    i++;
  }
  if (i < end && c === DOT) {
    i++;
    while (i < end && classOf((c = text.charCodeAt(i))) & DIGIT) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      fraction++;
      i++;
    }
  }
  if (digits === 0) return undefined;
  let exponent = 0;
  if (i < end && (c === 101 || c === 69)) {
    i++;
    let exponentNegative = false;
    c = text.charCodeAt(i);
    if (c === PLUS || c === MINUS) {
      exponentNegative = c === MINUS;
      i++;
    }
    const exponentStart = i;
    while (i < end && classOf((c = text.charCodeAt(i))) & DIGIT) {
      if (exponent < 100_000) exponent = exponent * 10 + (c - ZERO);
      i++;
    }
    if (i === exponentStart) return undefined;
    if (exponentNegative) exponent = -exponent;
  }
  if (i !== end) return undefined;
  // Clinger's fast path: an integer below 2^53 times or over an exact power of ten is correctly
  // rounded by one IEEE operation, as Go's ParseFloat rounds. Longer numbers go to Number().
  const scale = exponent - fraction;
  let value: number;
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    value = scale < 0 ? mantissa / POWERS_OF_TEN[-scale]! : mantissa * POWERS_OF_TEN[scale]!;
    if (negative) value = -value;
  } else {
    value = Number(text.slice(start, end));
  }
  return value === Infinity || value === -Infinity ? undefined : value;
}

/** Go's special floats, case-insensitively: NaN (unsigned), Inf and Infinity (optionally signed). */
function special(text: string, start: number, i: number, end: number): number | undefined {
  const word = text.slice(i, end).toLowerCase();
  if (word === "inf" || word === "infinity") return text.charCodeAt(start) === MINUS ? -Infinity : Infinity;
  if (word === "nan" && i === start) return NaN;
  return undefined;
}

function badFloat(text: string, start: number, end: number): string {
  const token = quote(text, start, end);
  // readFloat refuses an overflow and bad syntax alike; tell them apart only on this error path.
  const asNumber = Number(text.slice(start, end));
  if ((asNumber === Infinity || asNumber === -Infinity) && /^[+-]?(\d+\.?\d*|\.\d+)[eE]?[+-]?\d*$/.test(text.slice(start, end))) {
    return `value ${token} is out of the float64 range`;
  }
  return `value ${token} is not a number`;
}

/** Go's ParseInt(s, 10, 64) accepts text[start, end). */
function isInt64(text: string, start: number, end: number): boolean {
  let i = start;
  const c = text.charCodeAt(i);
  const negative = c === MINUS;
  if (c === PLUS || c === MINUS) i++;
  if (i === end) return false;
  for (let j = i; j < end; j++) if (!(classOf(text.charCodeAt(j)) & DIGIT)) return false;
  while (i < end - 1 && text.charCodeAt(i) === ZERO) i++;
  const digits = end - i;
  if (digits !== 19) return digits < 19;
  return text.slice(i, end) <= (negative ? "9223372036854775808" : "9223372036854775807");
}
