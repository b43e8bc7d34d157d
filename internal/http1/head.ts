// Parsing of HTTP/1.1 message heads (RFC 9112), strictly, because a proxy that reads a message
// differently from the server behind it is how request smuggling happens: CRLF line ends only, no
// control characters, no whitespace before a field's colon, no obsolete line folding, a request
// target of visible ASCII, exactly one Host in HTTP/1.1, a Content-Length of digits (repeats must
// agree), Transfer-Encoding only as `chunked` and never beside Content-Length. What is refused is
// refused with the status RFC 9112 names for it, never guessed at.
//
// The parser reads the bytes directly rather than a decoded string split into lines: every
// request passes through here twice (the request, and the answer coming back), and the strings a
// split makes (a line, then its name, its value, a lower-cased name) were a measurable share of the
// proxy's allocations. Names of common fields are interned (recognised from their bytes, no new
// string); only values become strings, and the fields that decide framing are read in the same pass.
import { Fields } from "./fields.ts";

/** A message head that cannot be accepted, with the status to answer and a message that says why. */
export class HeadError extends Error {
  override readonly name = "HeadError";
  constructor(
    /** 400, 431 (head too large), 501 (a transfer coding we do not implement) or 505 (HTTP version). */
    readonly status: 400 | 431 | 501 | 505,
    message: string,
  ) {
    super(message);
  }
}

/** How a message's body is delimited. */
export type Framing =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  /** Responses only: the body runs until the server closes the connection. */
  | { readonly kind: "close" };

export const NO_BODY: Framing = { kind: "none" };
const CHUNKED: Framing = { kind: "chunked" };
const UNTIL_CLOSE: Framing = { kind: "close" };

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly minor: 0 | 1;
  readonly fields: Fields;
  readonly framing: Framing;
  /** Whether the connection may carry another request after this one (keep-alive). */
  readonly keepAlive: boolean;
  /** The client sent `Expect: 100-continue`. */
  readonly expectContinue: boolean;
}

export interface ResponseHead {
  readonly status: number;
  readonly minor: 0 | 1;
  readonly fields: Fields;
  /** The server says it will close the connection (or HTTP/1.0 without keep-alive). */
  readonly close: boolean;
  /** Framing as the fields describe it; responseFraming() adds what the request method and status decide. */
  readonly contentLength: number | undefined;
  /** The transfer codings named, lower-cased, in order; undefined without Transfer-Encoding. */
  readonly codings: readonly string[] | undefined;
}

export interface HeadLimits {
  /** Most header fields in one head. */
  readonly maxFields: number;
}

/** Bun's (and Node's) Buffer has latin1Slice, which @types/node does not declare: the fastest way from bytes to a one-byte string. */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/** A control character other than HTAB (a bare LF included), or DEL. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** The index of `byte` in `buf` from `from`, or -1 (memchr for a Buffer). */
function indexOfByte(buf: Uint8Array, byte: number, from: number): number {
  return buf.indexOf(byte, from);
}

/** Bytes [start, end) of `buf` as a latin1 string (one character per byte). */
function latin1(buf: Uint8Array, start: number, end: number): string {
  const slicer = buf as unknown as Partial<Latin1Slicer>;
  if (typeof slicer.latin1Slice === "function") return slicer.latin1Slice(start, end);
  return (Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength) as unknown as Latin1Slicer).latin1Slice(start, end);
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const BARE_LF_END = Buffer.from("\n\n", "latin1");

/** Index just past the CRLFCRLF ending a head in `buffer`, searching from `from`; -1 if not there yet. */
export function findHeadEnd(buffer: Buffer, from: number): number {
  const at = buffer.indexOf(HEAD_END, from);
  return at < 0 ? -1 : at + 4;
}

/** True when a head being read ends its lines with a bare LF (an error now rather than a timeout later). */
export function hasBareLfEnd(buffer: Buffer): boolean {
  return buffer.indexOf(BARE_LF_END) >= 0;
}

// tchar (RFC 9110 §5.6.2).
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** Field names recognised without making a string: what proxies, browsers and SDKs send most. */
const COMMON_NAMES = [
  "accept",
  "accept-encoding",
  "accept-language",
  "authorization",
  "cache-control",
  "connection",
  "content-encoding",
  "content-length",
  "content-type",
  "cookie",
  "date",
  "etag",
  "expect",
  "host",
  "keep-alive",
  "last-modified",
  "location",
  "origin",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "referer",
  "server",
  "set-cookie",
  "te",
  "trailer",
  "traceparent",
  "tracestate",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "vary",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-request-id",
  "x-nagent-domain",
  "x-nagent-from",
  "x-nagent-subject",
  "x-nagent-roles",
  "x-nagent-fallback",
] as const;

/** Lower-cased byte hash of a name, as the scanner computes it. */
function nameHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + (name.charCodeAt(i) | 0x20)) | 0;
  return h;
}

const INTERNED = new Map<number, string>();
for (const name of COMMON_NAMES) {
  const h = nameHash(name);
  if (INTERNED.has(h)) throw new Error(`field name hash collision: ${name} and ${INTERNED.get(h)}`);
  INTERNED.set(h, name);
}

/** The interned string for bytes [start, end) of `buf` (compared case-insensitively), or undefined. */
function internedName(buf: Uint8Array, start: number, end: number, hash: number): string | undefined {
  const name = INTERNED.get(hash);
  if (name === undefined || name.length !== end - start) return undefined;
  for (let i = 0; i < name.length; i++) {
    const b = buf[start + i]!;
    const lower = b >= 65 && b <= 90 ? b | 0x20 : b;
    if (lower !== name.charCodeAt(i)) return undefined;
  }
  return name;
}

const METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"] as const;

function internedMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  for (const method of METHODS) {
    if (method.length !== end - start) continue;
    let same = true;
    for (let i = 0; i < method.length; i++) {
      if (buf[start + i] !== method.charCodeAt(i)) {
        same = false;
        break;
      }
    }
    if (same) return method;
  }
  return undefined;
}

/** "HTTP/1.x" at `at`: the minor version, or throws (505 for another major version). */
function readVersion(buf: Uint8Array, at: number, what: string): 0 | 1 {
  // H T T P / d . d
  if (buf[at] !== 72 || buf[at + 1] !== 84 || buf[at + 2] !== 84 || buf[at + 3] !== 80 || buf[at + 4] !== 47 || buf[at + 6] !== 46) {
    throw new HeadError(400, `malformed ${what}: expected an HTTP version`);
  }
  const major = buf[at + 5]! - 48;
  const minor = buf[at + 7]! - 48;
  if (!(major >= 0 && major <= 9 && minor >= 0 && minor <= 9)) throw new HeadError(400, `malformed ${what}: bad HTTP version`);
  if (major !== 1) throw new HeadError(505, `HTTP version ${major}.${minor} is not supported; send HTTP/1.1`);
  return minor === 0 ? 0 : 1;
}

/** What the field scan learned besides the fields themselves. */
class Scan {
  fields!: Fields;
  hosts = 0;
  contentLength: number | undefined = undefined;
  codings: string[] | undefined = undefined;
  close = false;
  keepAlive = false;
  expectContinue = false;

  reset(): this {
    this.hosts = 0;
    this.contentLength = undefined;
    this.codings = undefined;
    this.close = false;
    this.keepAlive = false;
    this.expectContinue = false;
    return this;
  }
}

/** One scan at a time (parsing is synchronous), so one object serves every message. */
const SCAN = new Scan();

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function readContentLength(scan: Scan, value: string): void {
  // The usual case, one plain number, without splitting.
  if (value.length > 0 && value.length <= 15) {
    let plain = true;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) {
        plain = false;
        break;
      }
    }
    if (plain) {
      const n = Number(value);
      if (scan.contentLength !== undefined && n !== scan.contentLength) throw new HeadError(400, "conflicting Content-Length fields");
      scan.contentLength = n;
      return;
    }
  }
  for (const part of value.split(",")) {
    const digits = trimOws(part);
    if (digits.length === 0 || digits.length > 15) throw new HeadError(400, `invalid Content-Length ${JSON.stringify(value.slice(0, 32))}`);
    for (let i = 0; i < digits.length; i++) {
      const c = digits.charCodeAt(i);
      if (c < 48 || c > 57) throw new HeadError(400, `invalid Content-Length ${JSON.stringify(value.slice(0, 32))}`);
    }
    const n = Number(digits);
    if (scan.contentLength !== undefined && n !== scan.contentLength) throw new HeadError(400, "conflicting Content-Length fields");
    scan.contentLength = n;
  }
}

function readConnection(scan: Scan, value: string): void {
  // The usual values, without splitting.
  if (value.length === 10 && value.toLowerCase() === "keep-alive") {
    scan.keepAlive = true;
    return;
  }
  if (value.length === 5 && value.toLowerCase() === "close") {
    scan.close = true;
    return;
  }
  for (const part of value.split(",")) {
    const token = trimOws(part).toLowerCase();
    if (token === "close") scan.close = true;
    else if (token === "keep-alive") scan.keepAlive = true;
  }
}

/**
 * Reads the field lines of `buf` from `at` (just past the start line's CRLF) to `end` (just past
 * the final CRLFCRLF), checking each byte against the grammar.
 */
function scanFields(buf: Uint8Array, at: number, end: number, maxFields: number, scan: Scan): void {
  const list: string[] = [];
  const last = end - 2; // the empty line's CRLF
  let i = at;
  while (i < last) {
    // field-name ":" with no whitespace before the colon; a line that starts with SP or HTAB is obs-fold.
    const nameStart = i;
    let hash = 0;
    let b = buf[i]!;
    while (b !== 58) {
      if (TOKEN[b] !== 1) {
        if (i === nameStart && (b === 32 || b === 9)) throw new HeadError(400, "obsolete line folding in a header field is not accepted");
        throw new HeadError(400, b === 32 || b === 9 ? "whitespace between a header field name and its colon" : "invalid character in a header field name");
      }
      hash = (Math.imul(hash, 31) + (b | 0x20)) | 0;
      b = buf[++i]!;
      if (i >= last) throw new HeadError(400, "a header field line without a colon");
    }
    if (i === nameStart) throw new HeadError(400, "a header field with an empty name");
    const nameEnd = i;
    const name = internedName(buf, nameStart, nameEnd, hash) ?? latin1(buf, nameStart, nameEnd).toLowerCase();
    i++;
    // OWS field-value OWS CRLF; the value holds no controls but HTAB. The line's end is found
    // natively (memchr) and the value checked with one compiled regex, rather than a JavaScript
    // loop over every byte: a bearer token alone is hundreds of bytes.
    while (buf[i] === 32 || buf[i] === 9) i++;
    const valueStart = i;
    const cr = indexOfByte(buf, 13, i);
    if (cr < 0 || cr >= end) throw new HeadError(400, "a header field line without CRLF");
    let valueEnd = cr;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === 32 || buf[valueEnd - 1] === 9)) valueEnd--;
    if (buf[cr + 1] !== 10) throw new HeadError(400, "a CR without LF in the head");
    i = cr + 2;
    const value = valueEnd === valueStart ? "" : latin1(buf, valueStart, valueEnd);
    if (CONTROL.test(value)) throw new HeadError(400, "a control character in a header field value");
    if (list.length >= maxFields * 2) throw new HeadError(431, `too many header fields (more than ${maxFields})`);
    list.push(name, value);
    switch (name) {
      case "host":
        scan.hosts++;
        break;
      case "content-length":
        readContentLength(scan, value);
        break;
      case "transfer-encoding":
        for (const coding of value.split(",")) (scan.codings ??= []).push(trimOws(coding).toLowerCase());
        break;
      case "connection":
        readConnection(scan, value);
        break;
      case "expect":
        if (value.toLowerCase() === "100-continue") scan.expectContinue = true;
        break;
    }
  }
  scan.fields = new Fields(list);
}

/**
 * Parses a request head: bytes [0, end) of `buf`, `end` just past the final CRLFCRLF (see
 * findHeadEnd). Field values are decoded as latin1 (one character per byte), so they pass on byte
 * for byte. Throws HeadError.
 */
export function parseRequestHead(buf: Uint8Array, end: number, limits: HeadLimits): RequestHead {
  // method SP request-target SP HTTP-version CRLF
  let i = 0;
  while (TOKEN[buf[i]!] === 1) i++;
  if (i === 0 || buf[i] !== 32) throw new HeadError(400, "malformed request line: expected METHOD SP TARGET SP HTTP/1.1");
  const methodEnd = i;
  const method = internedMethod(buf, 0, methodEnd) ?? latin1(buf, 0, methodEnd);
  const targetStart = ++i;
  // origin-form, absolute-form, authority-form or asterisk-form: visible ASCII only.
  while (buf[i]! > 32 && buf[i]! < 127) i++;
  if (i === targetStart || buf[i] !== 32) throw new HeadError(400, "malformed request line: the target must be visible ASCII, followed by one space");
  const target = latin1(buf, targetStart, i);
  const minor = readVersion(buf, i + 1, "request line");
  if (buf[i + 9] !== 13 || buf[i + 10] !== 10) throw new HeadError(400, "malformed request line: expected CRLF after the HTTP version");
  const scan = SCAN.reset();
  scanFields(buf, i + 11, end, limits.maxFields, scan);

  if (scan.hosts > 1) throw new HeadError(400, "more than one Host field");
  if (minor === 1 && scan.hosts === 0) throw new HeadError(400, "an HTTP/1.1 request must carry a Host field");
  let framing: Framing = NO_BODY;
  const codings = scan.codings;
  if (codings !== undefined) {
    if (scan.contentLength !== undefined) throw new HeadError(400, "a request may not carry both Transfer-Encoding and Content-Length");
    if (minor === 0) throw new HeadError(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new HeadError(codings.at(-1) === "chunked" ? 501 : 400, `unsupported Transfer-Encoding ${JSON.stringify(codings.join(", "))}: only chunked is accepted`);
    }
    framing = CHUNKED;
  } else if (scan.contentLength !== undefined && scan.contentLength > 0) {
    framing = { kind: "length", length: scan.contentLength };
  }
  const keepAlive = minor === 1 ? !scan.close : !scan.close && scan.keepAlive;
  return { method, target, minor, fields: scan.fields, framing, keepAlive, expectContinue: scan.expectContinue };
}

/** Parses a response head (see parseRequestHead). Throws HeadError (status 400: the server's answer was malformed). */
export function parseResponseHead(buf: Uint8Array, end: number, limits: HeadLimits): ResponseHead {
  // HTTP-version SP status-code SP [reason-phrase] CRLF; the reason is not kept.
  const minor = readVersion(buf, 0, "status line");
  const d0 = buf[9]! - 48;
  const d1 = buf[10]! - 48;
  const d2 = buf[11]! - 48;
  if (buf[8] !== 32 || !(d0 >= 1 && d0 <= 9) || !(d1 >= 0 && d1 <= 9) || !(d2 >= 0 && d2 <= 9) || (buf[12] !== 32 && buf[12] !== 13)) {
    throw new HeadError(400, "malformed status line");
  }
  let i = 12;
  for (;;) {
    const b = buf[i]!;
    if (b === 13) break;
    if ((b < 32 && b !== 9) || b === 127) throw new HeadError(400, "a control character in the status line");
    i++;
  }
  if (buf[i + 1] !== 10) throw new HeadError(400, "a CR without LF in the status line");
  const scan = SCAN.reset();
  scanFields(buf, i + 2, end, limits.maxFields, scan);
  const close = scan.close || (minor === 0 && !scan.keepAlive);
  return { status: d0 * 100 + d1 * 10 + d2, minor, fields: scan.fields, close, contentLength: scan.contentLength, codings: scan.codings };
}

/**
 * How the body of a response is delimited (RFC 9112 §6.3): none for HEAD, 1xx, 204 and 304; chunked
 * when Transfer-Encoding ends in chunked (any Content-Length is then ignored, as the RFC says);
 * until close for another transfer coding or no length at all; else its Content-Length.
 */
export function responseFraming(head: ResponseHead, requestMethod: string): Framing {
  const status = head.status;
  if (requestMethod === "HEAD" || status < 200 || status === 204 || status === 304) return NO_BODY;
  const codings = head.codings;
  if (codings !== undefined) return codings.at(-1) === "chunked" ? CHUNKED : UNTIL_CLOSE;
  const length = head.contentLength;
  if (length === undefined) return UNTIL_CLOSE;
  return length === 0 ? NO_BODY : { kind: "length", length };
}

/**
 * The request target in origin-form: an absolute-form target (RFC 9112 §3.2.2, which a server
 * must accept) becomes its path and query. Origin-form, authority-form and "*" pass as they are.
 */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 /* "/" */) return target;
  const scheme = target.startsWith("http://") ? 7 : target.startsWith("https://") ? 8 : -1;
  if (scheme < 0) return target;
  const slash = target.indexOf("/", scheme);
  const query = target.indexOf("?", scheme);
  if (slash < 0 && query < 0) return "/";
  if (slash < 0 || (query >= 0 && query < slash)) return `/${target.slice(query)}`;
  return target.slice(slash);
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The reason phrase for a status ("" when we have none: HTTP/1.1 allows an empty one). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}
