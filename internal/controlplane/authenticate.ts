import type { MiddlewareHandler } from "hono";
import { AuthorityUnavailableError, TokenRejectedError } from "../auth/index.ts";
import type { AuthAuthority } from "./authority.ts";
import { HttpError, type AppEnv } from "../server/index.ts";
import type { Logger } from "../telemetry/index.ts";
import type { AdminCredential } from "./admin-credential.ts";
import { isPermitted } from "./permissions.ts";

/** Who made a request, once authenticated. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly string[];
  /** The admin credential itself, a signed token, or an API key. */
  readonly kind: "admin-token" | "jwt" | "api-key";
}

export type ControlPlaneEnv = { Variables: AppEnv["Variables"] & { principal: Principal } };

export interface CredentialCheck {
  readonly admin: () => AdminCredential | undefined;
  readonly authority: AuthAuthority;
  readonly logger: Logger;
}

/**
 * Default deny: every route behind this layer needs `Authorization: Bearer <token>`: the admin
 * credential, or a token or API key issued by the authority, checked from this member's memory.
 * A missing or invalid credential is 401, a valid one without the permission 403; both are
 * logged with the request id and the reason, never with the secret.
 */
export function requireCredential(check: CredentialCheck): MiddlewareHandler<ControlPlaneEnv> {
  const { logger } = check;
  return async (c, next) => {
    const header = c.req.header("authorization");
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      c.header("www-authenticate", 'Bearer realm="nagent"');
      throw new HttpError(401, "unauthenticated", "missing credential: send Authorization: Bearer <token>");
    }
    const token = match[1]!;
    const admin = check.admin();
    if (!admin) throw new HttpError(503, "starting", "the control plane is starting: waiting for its store");
    let principal: Principal;
    if (admin.verify(token)) {
      principal = { subject: "admin", roles: ["admin"], kind: "admin-token" };
    } else {
      try {
        const claims = await check.authority.authenticate(token);
        principal = { subject: claims.subject, roles: claims.roles, kind: claims.kind };
      } catch (error) {
        if (error instanceof AuthorityUnavailableError) throw new HttpError(503, "starting", error.message);
        if (!(error instanceof TokenRejectedError)) throw error;
        logger.warn({ reqId: c.get("requestId"), path: c.req.path, reason: error.reason }, "refused a request with an invalid credential");
        c.header("www-authenticate", `Bearer realm="nagent", error="invalid_token", error_description="${error.reason}"`);
        throw new HttpError(401, "unauthenticated", `invalid credential: ${error.message}`, { details: { reason: error.reason } });
      }
    }
    if (!isPermitted(principal, c.req.method, c.req.path)) {
      logger.warn(
        { reqId: c.get("requestId"), method: c.req.method, path: c.req.path, subject: principal.subject, roles: principal.roles },
        "refused a request its credential does not permit",
      );
      throw new HttpError(403, "forbidden", `${principal.subject} (roles: ${principal.roles.join(", ") || "none"}) may not ${c.req.method} ${c.req.path}`);
    }
    c.set("principal", principal);
    await next();
  };
}
