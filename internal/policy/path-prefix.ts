// Path prefixes as authz rules use them, and the canonical form a request path must have before
// a prefix is compared with it. Pure string work, shared by the schema and the evaluator.

// A request path that could name a different resource after the application decodes or
// normalises it: "//", "." and ".." segments, an encoded '/', '.' or '\', or a '\'. A deny rule
// on "/admin" must not be sidestepped with "/v1/../admin".
const NOT_CANONICAL = /\/\/|\/\.\.?(?:\/|$)|%2[ef]|%5c|\\/i;

/** True when `path` starts with '/' and has no empty, "." or ".." segment and no encoded separator. */
export function isCanonicalPath(path: string): boolean {
  return path.charCodeAt(0) === 0x2f && !NOT_CANONICAL.test(path);
}

/**
 * True when `prefix` covers `path` on segment boundaries: "/v1/chat" covers "/v1/chat" and
 * "/v1/chat/x" but not "/v1/chatty"; a prefix ending in '/' ("/v1/chat/") covers only what is
 * below it; "/" covers everything. Comparison is case-sensitive, as paths are.
 */
export function pathHasPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith("/") || path.charCodeAt(prefix.length) === 0x2f;
}
