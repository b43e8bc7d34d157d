import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PreconditionFailedError, StoreUnavailableError, type Store } from "../store/index.ts";
import type { Logger } from "../telemetry/index.ts";

/** Where the admin credential's hash lives in the store; outside every API-visible prefix. */
export const ADMIN_HASH_KEY = "system/admin-token-sha256";

/** Verifies bearer tokens against the admin credential without ever holding it in plain text. */
export interface AdminCredential {
  verify(token: string): boolean;
}

export interface AdminCredentialOptions {
  /** NAGENT_ADMIN_TOKEN, when the operator set one. */
  readonly configured: string | undefined;
  readonly store: Store;
  readonly dataDir: string;
  readonly logger: Logger;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function fromHash(expected: Buffer): AdminCredential {
  return {
    verify(token) {
      const actual = sha256(token);
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    },
  };
}

/**
 * The admin credential. A configured token is used as is. Otherwise the cluster shares one
 * generated token: the first member to start creates its hash in the store (create-only, so two
 * members starting at once cannot both win) and writes the token itself once, mode 0600, to its
 * data dir; every other member verifies against the stored hash. Waits for the store to be usable.
 */
export async function resolveAdminCredential(options: AdminCredentialOptions): Promise<AdminCredential> {
  if (options.configured !== undefined) return fromHash(sha256(options.configured));
  const { store, logger } = options;
  let waits = 0;
  for (;;) {
    try {
      const stored = await store.get(ADMIN_HASH_KEY);
      if (stored) return fromHash(Buffer.from(JSON.parse(stored.value) as string, "hex"));
      const token = `nagent-admin-${randomBytes(24).toString("base64url")}`;
      try {
        await store.put(ADMIN_HASH_KEY, JSON.stringify(sha256(token).toString("hex")), { ifModRevision: 0 });
      } catch (error) {
        if (error instanceof PreconditionFailedError) continue;
        throw error;
      }
      mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
      const path = join(options.dataDir, "admin-token");
      writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
      logger.warn({ path }, "generated the admin credential; it is written only to this file");
      return fromHash(sha256(token));
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        if (++waits % 20 === 1) logger.info({ reason: error.message }, "waiting for the store to resolve the admin credential");
        await Bun.sleep(100);
        continue;
      }
      throw error;
    }
  }
}
