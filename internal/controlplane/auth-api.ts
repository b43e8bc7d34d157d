// The global authentication authority's HTTP face: issue, introspect and revoke credentials,
// rotate and list signing keys, and the public JWKS that sidecars verify tokens with.
import type { Hono } from "hono";
import { z } from "zod";
import { AuthorityUnavailableError, InvalidTokenRequestError, TokenRejectedError } from "../auth/index.ts";
import type { AuthAuthority } from "./authority.ts";
import { BadRequestError, HttpError, readJson, type App } from "../server/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { orHttp } from "./http-errors.ts";

const name = z.string().min(1).max(256).regex(/^[^\s]+$/, { error: "expected no whitespace" });
const role = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/, { error: "expected a role name: letters, digits, ':', '.', '_' or '-'" });

const tokenRequest = z.strictObject({
  subject: name,
  roles: z.array(role).max(32),
  audience: z.union([name, z.array(name).min(1).max(16)]).optional(),
  ttlSeconds: z.number().int().min(1).optional(),
  kind: z.enum(["jwt", "api-key"]).optional(),
});
const introspectRequest = z.strictObject({ token: z.string().min(1).max(8192), audience: name.optional() });
const revokeRequest = z.strictObject({ token: z.string().min(1).max(8192) });

async function authorityCall<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await orHttp(async () => work());
  } catch (error) {
    if (error instanceof AuthorityUnavailableError) throw new HttpError(503, "unavailable", error.message);
    if (error instanceof InvalidTokenRequestError) throw new BadRequestError("invalid_body", `field ${error.field}: ${error.message}`);
    if (error instanceof TokenRejectedError) throw new HttpError(400, "invalid_token", error.message, { details: { reason: error.reason } });
    throw error;
  }
}

/** Mounts /v1/auth on an authenticated app. */
export function mountAuthApi(app: Hono<ControlPlaneEnv>, authority: AuthAuthority): void {
  app.post("/v1/auth/tokens", async (c) => {
    const request = await readJson(c, tokenRequest);
    const audience = request.audience === undefined ? undefined : typeof request.audience === "string" ? [request.audience] : request.audience;
    const issued = await authorityCall(() =>
      authority.issue({
        subject: request.subject,
        roles: request.roles,
        ...(audience ? { audience } : {}),
        ...(request.ttlSeconds !== undefined ? { ttlSeconds: request.ttlSeconds } : {}),
        ...(request.kind ? { kind: request.kind } : {}),
      }),
    );
    return c.json({ token: issued.token, kind: issued.kind, id: issued.id, expiresAt: new Date(issued.expiresAt * 1000).toISOString() }, 201);
  });

  app.post("/v1/auth/introspect", async (c) => {
    const request = await readJson(c, introspectRequest);
    const result = await authorityCall(() => authority.introspect(request.token, request.audience));
    if (!result.active) return c.json({ active: false });
    const { claims } = result;
    return c.json({
      active: true,
      kind: claims.kind,
      id: claims.id,
      subject: claims.subject,
      roles: claims.roles,
      aud: claims.audience,
      exp: claims.expiresAt,
      iat: claims.issuedAt,
    });
  });

  app.post("/v1/auth/revoke", async (c) => {
    const request = await readJson(c, revokeRequest);
    const revoked = await authorityCall(() => authority.revoke(request.token));
    return c.json({ revoked: true, id: revoked.id, kind: revoked.kind, ...(revoked.alreadyExpired ? { alreadyExpired: true } : {}) });
  });

  app.get("/v1/auth/keys", async (c) => c.json(await authorityCall(() => authority.keyStatus())));

  app.post("/v1/auth/keys/rotate", async (c) => c.json(await authorityCall(() => authority.rotate("request"))));
}

/** The public keys, without credential, as every JWKS endpoint is. */
export function mountJwks(app: App, authority: AuthAuthority): void {
  app.get("/.well-known/jwks.json", (c) => {
    c.header("cache-control", "public, max-age=60");
    return c.json(authority.jwks());
  });
}
