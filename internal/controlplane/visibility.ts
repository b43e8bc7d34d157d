import { HttpError } from "../server/index.ts";
import { validatePrefix } from "../store/index.ts";

// What the API shows of the store. Everything under `system/` (the admin credential's hash,
// private signing keys, API-key hashes, heartbeat reports) stays inside the control plane; every
// other prefix (config/, registry/, policies/, auth/) is what sidecars follow.

export const HIDDEN_PREFIX = "system/";

export function isVisible(key: string): boolean {
  return !key.startsWith(HIDDEN_PREFIX);
}

/** A prefix from a query, valid and outside system/: 400 or 403 otherwise. */
export function visiblePrefix(raw: string | undefined): string {
  const prefix = raw ?? "";
  try {
    validatePrefix(prefix);
  } catch (error) {
    throw new HttpError(400, "invalid_key", (error as Error).message);
  }
  if (prefix.startsWith(HIDDEN_PREFIX)) throw new HttpError(403, "forbidden", `prefix ${prefix} is reserved`);
  return prefix;
}
