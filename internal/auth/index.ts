// Credentials as every component checks them: EdDSA JWTs (Keyring), opaque API keys, and the
// records the control plane publishes. The store-backed authority that issues them is the
// control plane's (internal/controlplane/authority.ts).
export { AuthorityUnavailableError, InvalidTokenRequestError, TokenRejectedError, type TokenRejection } from "./errors.ts";
export { ALGORITHM, DEFAULT_AUDIENCE, ISSUER, Keyring, type TokenClaims, type VerifyOptions } from "./jwt.ts";
export { looksLikeApiKey } from "./api-keys.ts";
export { PUBLIC_KEYS_PREFIX, REVOCATIONS_PREFIX, type PublicKeyRecord, type RevocationRecord } from "./records.ts";
