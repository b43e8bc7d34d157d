// The key rule is the replicated state machine's (internal/kv), so that both stores accept
// exactly the keys the integrated store can hold; here it becomes a typed error.
import { MAX_KEY_BYTES, keyProblem } from "../kv/keys.ts";
import { InvalidKeyError } from "./errors.ts";

export { MAX_KEY_BYTES };

/**
 * Checks a key against the rules both stores share, throwing InvalidKeyError with the reason:
 * 1 to 512 bytes, segments of [A-Za-z0-9-._~:@] separated by single '/', no leading or trailing
 * '/', no '.' or '..' segment.
 */
export function validateKey(key: string): string {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
  return key;
}

/** A prefix is a key, a key followed by '/', or empty (everything). */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
