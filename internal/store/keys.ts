import { InvalidKeyError } from "./errors.ts";

/** Longest key in UTF-8 bytes; etcd allows more, but keys this long are a mistake in a config API. */
export const MAX_KEY_BYTES = 512;

// Segments of letters, digits and - . _ ~ : @ joined by single slashes: safe in a URL path
// without escaping, unambiguous as a prefix, and free of "." / ".." segments that proxies rewrite.
const SEGMENT = /^[A-Za-z0-9\-._~:@]+$/;

/**
 * Checks a key against the rules both stores share, throwing InvalidKeyError with the reason:
 * 1 to 512 bytes, segments of [A-Za-z0-9-._~:@] separated by single '/', no leading or trailing
 * '/', no '.' or '..' segment.
 */
export function validateKey(key: string): string {
  if (key.length === 0) throw new InvalidKeyError(key, "a key cannot be empty");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  }
  for (const segment of key.split("/")) {
    if (segment === "") throw new InvalidKeyError(key, "empty segment (leading, trailing or doubled '/')");
    if (segment === "." || segment === "..") throw new InvalidKeyError(key, `'${segment}' is not allowed as a segment`);
    if (!SEGMENT.test(segment)) {
      throw new InvalidKeyError(key, "only letters, digits and - . _ ~ : @ are allowed, with '/' between segments");
    }
  }
  return key;
}

/** A prefix is a key, a key followed by '/', or empty (everything). */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
