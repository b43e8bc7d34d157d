export { createControlPlane, type AuthSettings, type ControlPlane, type ControlPlaneOptions } from "./app.ts";
export { resolveAdminCredential, ADMIN_HASH_KEY, type AdminCredential } from "./admin-credential.ts";
export { CONFIG_PREFIX, parseIfMatch } from "./config-api.ts";
export { POLICIES_PREFIX } from "./policies-api.ts";
