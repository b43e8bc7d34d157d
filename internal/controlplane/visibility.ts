// What the API shows of the store. Everything under `system/` (the admin credential's hash,
// private signing keys, API-key hashes, heartbeat reports) stays inside the control plane; every
// other prefix (config/, registry/, policies/, auth/) is what sidecars follow.

export const HIDDEN_PREFIX = "system/";

export function isVisible(key: string): boolean {
  return !key.startsWith(HIDDEN_PREFIX);
}
