// What a key and a lease id may be. internal/store/keys.ts uses this same rule for both stores;
// the state machine stays free of imports and answers with a reason instead of throwing.

/** Longest key in bytes. Keys are ASCII, so bytes = characters. */
export const MAX_KEY_BYTES = 512;
/** Longest lease id. */
export const MAX_LEASE_ID_LENGTH = 64;
/** Longest lease TTL, as in etcd (MaxLeaseTTL). */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

// Segments of letters, digits and - . _ ~ : @ joined by single slashes: safe in a URL path without
// escaping ("services/payment/timeout"), unambiguous as a prefix, and ASCII only, so that JavaScript
// string order (UTF-16 code units) equals byte order, which is the order range() answers in.
const SEGMENT = /^[A-Za-z0-9\-._~:@]+$/;
const KEY = /^[A-Za-z0-9\-._~:@]+(?:\/[A-Za-z0-9\-._~:@]+)*$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;
const LEASE_ID = /^[A-Za-z0-9._-]+$/;

/**
 * Why `key` is not a valid key, or undefined when it is. A key is 1 to 512 bytes: segments of
 * [A-Za-z0-9-._~:@] separated by single '/', with no leading or trailing '/' and no '.' or '..'
 * segment. In particular no NUL, no whitespace and nothing outside ASCII.
 */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== "string") return "a key must be a string";
  if (key.length === 0) return "a key cannot be empty";
  if (key.length > MAX_KEY_BYTES) return `a key is at most ${MAX_KEY_BYTES} bytes`;
  // The common case in one pass; the loop below only finds the words for a bad key.
  if (KEY.test(key) && !DOT_SEGMENT.test(key)) return undefined;
  for (const segment of key.split("/")) {
    if (segment === "") return "empty segment (leading, trailing or doubled '/')";
    if (segment === "." || segment === "..") return `'${segment}' is not allowed as a segment`;
    if (!SEGMENT.test(segment)) return "only letters, digits and - . _ ~ : @ are allowed, with '/' between segments";
  }
  return "not a valid key";
}

/** Why `id` is not a valid lease id (1 to 64 of [A-Za-z0-9._-]), or undefined when it is. */
export function leaseIdProblem(id: unknown): string | undefined {
  if (typeof id !== "string") return "a lease id must be a string";
  if (id.length === 0 || id.length > MAX_LEASE_ID_LENGTH) return `a lease id is 1 to ${MAX_LEASE_ID_LENGTH} characters`;
  if (!LEASE_ID.test(id)) return "a lease id is made of letters, digits and . _ -";
  return undefined;
}
