// /v1/config: the configuration API, on any Store. A config key K is stored as "config/K", so
// the registry, policies and system keys that share the store are out of this API's reach.
import type { Hono } from "hono";
import { z } from "zod";
import { BadRequestError, HttpError, readJson } from "../server/index.ts";
import { validateKey, validatePrefix, type KeyValue, type Store } from "../store/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { consistencyOf } from "./consistency.ts";
import { orHttp } from "./http-errors.ts";

export const CONFIG_PREFIX = "config/";
const HISTORY_SUFFIX = "/history";

/** The key from the path, validated; keys ending in a "history" segment are refused (that path reads history). */
function configKey(raw: string): string {
  const key = orThrowKey(() => validateKey(raw));
  if (key === "history" || key.endsWith(HISTORY_SUFFIX)) {
    throw new HttpError(400, "invalid_key", `invalid key "${key}": a last segment "history" is reserved for GET .../history`);
  }
  return key;
}

function orThrowKey<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw new HttpError(400, "invalid_key", (error as Error).message);
  }
}

/** If-Match: a revision number, bare or as a quoted entity tag. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*"?(\d{1,15})"?\s*$/.exec(header);
  if (!match) {
    throw new BadRequestError("invalid_if_match", `If-Match must be a revision number (0 = only if absent), got ${JSON.stringify(header)}`);
  }
  return Number(match[1]);
}

function present(kv: KeyValue) {
  return {
    key: kv.key.slice(CONFIG_PREFIX.length),
    value: JSON.parse(kv.value) as unknown,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
}

/** Mounts the config routes on an authenticated app. */
export function mountConfigApi(app: Hono<ControlPlaneEnv>, store: Store): void {
  app.get("/v1/config", async (c) => {
    const prefix = c.req.query("prefix") ?? "";
    orThrowKey(() => validatePrefix(prefix));
    const listed = await orHttp(() => store.list(CONFIG_PREFIX + prefix, consistencyOf(c)));
    return c.json({ prefix, revision: listed.revision, items: listed.items.map(present) });
  });

  app.get("/v1/config/*", async (c) => {
    const path = c.req.path.slice("/v1/config/".length);
    if (path.endsWith(HISTORY_SUFFIX)) {
      const key = orThrowKey(() => validateKey(path.slice(0, -HISTORY_SUFFIX.length)));
      const history = await orHttp(() => store.history(CONFIG_PREFIX + key));
      return c.json({
        key,
        history: history.map((event) => ({
          type: event.type,
          revision: event.revision,
          ...(event.value !== undefined ? { value: JSON.parse(event.value) as unknown } : {}),
        })),
      });
    }
    const key = configKey(path);
    const consistency = consistencyOf(c);
    const kv = await orHttp(() => store.get(CONFIG_PREFIX + key, consistency));
    if (!kv) throw new HttpError(404, "not_found", `no config key ${key}`);
    c.header("etag", `"${kv.modRevision}"`);
    return c.json(present(kv));
  });

  app.put("/v1/config/*", async (c) => {
    const key = configKey(c.req.path.slice("/v1/config/".length));
    const ifModRevision = parseIfMatch(c.req.header("if-match"));
    const value = await readJson(c, z.unknown());
    const { revision } = await orHttp(() =>
      store.put(CONFIG_PREFIX + key, JSON.stringify(value), ifModRevision === undefined ? {} : { ifModRevision }),
    );
    c.header("etag", `"${revision}"`);
    return c.json({ key, revision });
  });

  app.delete("/v1/config/*", async (c) => {
    const key = configKey(c.req.path.slice("/v1/config/".length));
    const ifModRevision = parseIfMatch(c.req.header("if-match"));
    const result = await orHttp(() =>
      store.delete(CONFIG_PREFIX + key, ifModRevision === undefined ? {} : { ifModRevision }),
    );
    if (!result.deleted) throw new HttpError(404, "not_found", `no config key ${key}`);
    return c.json({ key, revision: result.revision });
  });
}
