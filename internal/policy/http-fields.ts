// Schemas for the HTTP values policies mention: status codes, header names and values, method
// tokens and path prefixes.
import { z } from "zod";
import { show } from "./fields.ts";
import { isCanonicalPath } from "./path-prefix.ts";

/** An HTTP status code within [min, max], with `noun` describing what is allowed. */
export function statusCode(min: number, max: number, noun = `a status code from ${min} to ${max}`) {
  const expected = (issue: { input?: unknown }) => `expected ${noun}, got ${show(issue.input)}`;
  return z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
}

// RFC 9110 token characters.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space, tab and obs-text; no CR, LF or other controls that could split a header.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Headers the sidecar itself computes on every answer it produces.
const RESERVED_HEADERS: ReadonlySet<string> = new Set(["content-length", "transfer-encoding", "connection", "x-nagent-fallback"]);

/**
 * Response headers: names are HTTP tokens, matched case-insensitively (two names differing only
 * in case are refused) and normalised to lower case; values are single-line strings.
 */
export function headerMap() {
  return z
    .record(z.string(), z.string({ error: (issue) => `expected a header value as a string, got ${show(issue.input)}` }), {
      error: (issue) => `expected an object of header names to values, got ${show(issue.input)}`,
    })
    .superRefine((headers, ctx) => {
      const seen = new Map<string, string>();
      for (const [name, value] of Object.entries(headers)) {
        const lower = name.toLowerCase();
        const fail = (message: string) => ctx.addIssue({ code: "custom", path: [name], message, input: name });
        if (!TOKEN.test(name)) fail(`${show(name)} is not a valid header name`);
        else if (RESERVED_HEADERS.has(lower)) fail(`${lower} is set by the sidecar and cannot be configured`);
        else if (seen.has(lower)) fail(`repeats header ${show(seen.get(lower))} (names are case-insensitive)`);
        else if (!HEADER_VALUE.test(value)) fail("header values may not contain line breaks or control characters");
        seen.set(lower, name);
      }
    })
    .transform((headers) => {
      const lower: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value.trim();
      return lower;
    });
}

const METHOD = /^[A-Z][A-Z0-9_-]*$/;

/** An upper-case HTTP method token such as GET, or "*" for any method. */
export function methodToken() {
  const expected = 'expected an upper-case HTTP method such as GET, or "*"';
  return z.string({ error: (issue) => `${expected}, got ${show(issue.input)}` }).superRefine((method, ctx) => {
    if (method === "*" || METHOD.test(method)) return;
    const upper = method.toUpperCase();
    const hint = METHOD.test(upper) ? `; methods are case-sensitive, write ${show(upper)}` : "";
    ctx.addIssue({ code: "custom", message: `${expected}, got ${show(method)}${hint}`, input: method });
  });
}

const PCHARS = /^[A-Za-z0-9\-._~!$&'()+,;=:@%/]*$/;
const PERCENT = /%(?![0-9A-Fa-f]{2})/;

/** A path prefix: starts with '/', canonical, URL characters only, no query, no glob. */
export function pathPrefix() {
  const expected = 'expected a path prefix starting with "/"';
  return z.string({ error: (issue) => `${expected}, got ${show(issue.input)}` }).superRefine((path, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: "custom", message, input: path });
    if (!path.startsWith("/")) return fail(`${expected}, got ${show(path)}`);
    if (path.length > 1024) return fail("expected a path prefix of at most 1024 characters");
    if (path.includes("*")) {
      const stem = path.replace(/\/?\*.*$/, "") || "/";
      return fail(`paths are prefixes, not patterns; write ${show(stem)} to match it and everything below`);
    }
    if (path.includes("?") || path.includes("#")) return fail(`a path prefix cannot hold a query or fragment, got ${show(path)}`);
    if (!PCHARS.test(path) || PERCENT.test(path)) {
      return fail(`${show(path)} has characters that are not allowed in a URL path (percent-encode them)`);
    }
    if (!isCanonicalPath(path)) {
      return fail(`${show(path)} is not canonical (no "//", "." or ".." segments, no encoded '/', '.' or '\\')`);
    }
  });
}
