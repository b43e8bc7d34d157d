import type { MiddlewareHandler } from "hono";
import { HttpError, type AppEnv } from "../server/index.ts";
import type { Logger } from "../telemetry/index.ts";
import type { AdminCredential } from "./admin-credential.ts";

/** Who made a request, once authenticated. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly string[];
}

export type ControlPlaneEnv = { Variables: AppEnv["Variables"] & { principal: Principal } };

/**
 * Default deny: every route behind this layer needs `Authorization: Bearer <token>`. A missing
 * credential is 401, a wrong one 401 too (logged with the request id, never with the secret).
 */
export function requireCredential(admin: () => AdminCredential | undefined, logger: Logger): MiddlewareHandler<ControlPlaneEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      c.header("www-authenticate", 'Bearer realm="nagent"');
      throw new HttpError(401, "unauthenticated", "missing credential: send Authorization: Bearer <token>");
    }
    const credential = admin();
    if (!credential) throw new HttpError(503, "starting", "the control plane is starting: waiting for its store");
    if (!credential.verify(match[1]!)) {
      logger.warn({ reqId: c.get("requestId"), path: c.req.path }, "refused a request with an invalid credential");
      c.header("www-authenticate", 'Bearer realm="nagent", error="invalid_token"');
      throw new HttpError(401, "unauthenticated", "invalid credential");
    }
    c.set("principal", { subject: "admin", roles: ["admin"] });
    await next();
  };
}
