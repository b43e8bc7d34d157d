// GET /v1/keys?prefix=P: every visible key under a prefix with its value and revisions, and the
// store revision it was read at: the consistent starting point for a client that then follows
// /v1/watch from that revision + 1 (a sidecar's view of config, registry, policies and keys).
import type { Hono } from "hono";
import type { Store } from "../store/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { consistencyOf } from "./consistency.ts";
import { orHttp } from "./http-errors.ts";
import { isVisible, visiblePrefix } from "./visibility.ts";

/** Mounts /v1/keys on an authenticated app. */
export function mountKeysApi(app: Hono<ControlPlaneEnv>, store: Store): void {
  app.get("/v1/keys", async (c) => {
    const prefix = visiblePrefix(c.req.query("prefix"));
    const listed = await orHttp(() => store.list(prefix, consistencyOf(c)));
    // Values are stored as JSON text: embedded as they are, not parsed and printed again.
    const items = listed.items
      .filter((kv) => isVisible(kv.key))
      .map((kv) => `{"key":${JSON.stringify(kv.key)},"value":${kv.value},"createRevision":${kv.createRevision},"modRevision":${kv.modRevision},"version":${kv.version}}`);
    return c.body(`{"prefix":${JSON.stringify(prefix)},"revision":${listed.revision},"items":[${items.join(",")}]}`, 200, {
      "content-type": "application/json",
    });
  });
}
