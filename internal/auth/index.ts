export { AuthAuthority, type AuthorityOptions, type IssuedToken, type KeyStatus, type TokenRequest } from "./authority.ts";
export { AuthorityUnavailableError, InvalidTokenRequestError, TokenRejectedError, type TokenRejection } from "./errors.ts";
export { ALGORITHM, DEFAULT_AUDIENCE, ISSUER, Keyring, type TokenClaims, type VerifyOptions } from "./jwt.ts";
export { looksLikeApiKey } from "./api-keys.ts";
export { PUBLIC_KEYS_PREFIX, REVOCATIONS_PREFIX, type PublicKeyRecord, type RevocationRecord } from "./records.ts";
