// /v1/policies/{kind}/{name}: resilience and authz policies, validated before anything is
// stored (a policy that fails validation changes nothing), versioned by the store's revisions,
// and pushed to sidecars through /v1/watch under `policies/`. The stored document is the one the
// operator wrote; sidecars apply the defaults when they validate it again on receipt.
import type { Hono } from "hono";
import { z } from "zod";
import { POLICY_KINDS, isPolicyKind, validatePolicy, type PolicyKind } from "../policy/index.ts";
import { HttpError, readJson } from "../server/index.ts";
import type { KeyValue, Store } from "../store/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { parseIfMatch } from "./config-api.ts";
import { consistencyOf } from "./consistency.ts";
import { orHttp } from "./http-errors.ts";

export const POLICIES_PREFIX = "policies/";
const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function kindOf(raw: string): PolicyKind {
  if (!isPolicyKind(raw)) throw new HttpError(404, "unknown_policy_kind", `no policy kind ${JSON.stringify(raw)}; the kinds are ${POLICY_KINDS.join(", ")}`);
  return raw;
}

function nameOf(raw: string): string {
  if (!POLICY_NAME.test(raw)) {
    throw new HttpError(400, "invalid_policy_name", `invalid policy name ${JSON.stringify(raw)}: expected letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)`);
  }
  return raw;
}

function present(kv: KeyValue) {
  const [kind, name] = kv.key.slice(POLICIES_PREFIX.length).split("/");
  return {
    kind,
    name,
    spec: JSON.parse(kv.value) as unknown,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
}

/** Mounts the policy routes on an authenticated app. */
export function mountPoliciesApi(app: Hono<ControlPlaneEnv>, store: Store): void {
  app.get("/v1/policies", async (c) => {
    const raw = c.req.query("kind");
    const kind = raw === undefined ? "" : `${kindOf(raw)}/`;
    const listed = await orHttp(() => store.list(POLICIES_PREFIX + kind, consistencyOf(c)));
    return c.json({ revision: listed.revision, policies: listed.items.map(present) });
  });

  app.get("/v1/policies/:kind", async (c) => {
    const kind = kindOf(c.req.param("kind"));
    const listed = await orHttp(() => store.list(`${POLICIES_PREFIX}${kind}/`, consistencyOf(c)));
    return c.json({ revision: listed.revision, policies: listed.items.map(present) });
  });

  app.get("/v1/policies/:kind/:name", async (c) => {
    const kind = kindOf(c.req.param("kind"));
    const name = nameOf(c.req.param("name"));
    const kv = await orHttp(() => store.get(`${POLICIES_PREFIX}${kind}/${name}`, consistencyOf(c)));
    if (!kv) throw new HttpError(404, "not_found", `no ${kind} policy ${name}`);
    c.header("etag", `"${kv.modRevision}"`);
    return c.json(present(kv));
  });

  app.get("/v1/policies/:kind/:name/history", async (c) => {
    const kind = kindOf(c.req.param("kind"));
    const name = nameOf(c.req.param("name"));
    const history = await orHttp(() => store.history(`${POLICIES_PREFIX}${kind}/${name}`));
    return c.json({
      kind,
      name,
      history: history.map((event) => ({
        type: event.type,
        revision: event.revision,
        ...(event.value !== undefined ? { spec: JSON.parse(event.value) as unknown } : {}),
      })),
    });
  });

  app.put("/v1/policies/:kind/:name", async (c) => {
    const kind = kindOf(c.req.param("kind"));
    const name = nameOf(c.req.param("name"));
    const ifModRevision = parseIfMatch(c.req.header("if-match"));
    const document = await readJson(c, z.unknown(), { yaml: true });
    const validation = validatePolicy(kind, document);
    if (!validation.ok) {
      throw new HttpError(400, "invalid_policy", validation.error.message, { details: { path: validation.error.path } });
    }
    const { revision } = await orHttp(() =>
      store.put(`${POLICIES_PREFIX}${kind}/${name}`, JSON.stringify(document), ifModRevision === undefined ? {} : { ifModRevision }),
    );
    c.header("etag", `"${revision}"`);
    return c.json({ kind, name, revision });
  });

  app.delete("/v1/policies/:kind/:name", async (c) => {
    const kind = kindOf(c.req.param("kind"));
    const name = nameOf(c.req.param("name"));
    const ifModRevision = parseIfMatch(c.req.header("if-match"));
    const result = await orHttp(() => store.delete(`${POLICIES_PREFIX}${kind}/${name}`, ifModRevision === undefined ? {} : { ifModRevision }));
    if (!result.deleted) throw new HttpError(404, "not_found", `no ${kind} policy ${name}`);
    return c.json({ kind, name, revision: result.revision });
  });
}
