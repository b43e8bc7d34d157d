// /v1/cluster: who leads, each member's role and progress, and run-time membership changes.
import type { Hono } from "hono";
import { z } from "zod";
import { HttpError, readJson } from "../server/index.ts";
import { NotSupportedError, type Store } from "../store/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { orHttp } from "./http-errors.ts";

const memberBody = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: "expected a member id (letters, digits, '.', '_', '-')" }),
  url: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }),
});
const leaderBody = z.strictObject({ to: z.string().min(1).optional() });

function admin(store: Store) {
  if (!store.cluster) {
    throw new NotSupportedError(
      `membership of the ${store.kind} store is managed by ${store.kind} itself (e.g. etcdctl member add)`,
    );
  }
  return store.cluster;
}

/** Mounts the cluster routes on an authenticated app. */
export function mountClusterApi(app: Hono<ControlPlaneEnv>, store: Store): void {
  app.get("/v1/cluster", async (c) => {
    const status = await orHttp(() => store.status());
    return c.json({
      store: status.kind,
      leader: status.leader,
      term: status.term,
      revision: status.revision,
      members: status.members,
    });
  });

  // A point-in-time backup (like etcdctl snapshot save); nagentctl snapshot save verifies it.
  app.get("/v1/cluster/snapshot", async (c) => {
    if (!store.backup) {
      throw new HttpError(
        501,
        "not_supported",
        `the ${store.kind} store keeps no state in the control plane: use etcdctl snapshot save against your etcd cluster`,
      );
    }
    const backup = store.backup.bind(store);
    const bytes = await orHttp(() => backup());
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/octet-stream",
      "content-disposition": 'attachment; filename="nagent.snapshot"',
      "cache-control": "no-store",
    });
  });

  app.post("/v1/cluster/members", async (c) => {
    const body = await readJson(c, memberBody);
    await orHttp(async () => admin(store).addMember(body.id, body.url));
    return c.json({ added: body.id }, 201);
  });

  app.delete("/v1/cluster/members/:id", async (c) => {
    const id = c.req.param("id");
    await orHttp(async () => admin(store).removeMember(id));
    return c.json({ removed: id });
  });

  app.post("/v1/cluster/leader", async (c) => {
    const body = c.req.header("content-length") === "0" ? {} : await readJson(c, leaderBody);
    const leader = await orHttp(async () => admin(store).transferLeadership(body.to));
    if (body.to !== undefined && leader !== body.to) {
      throw new HttpError(503, "transfer_failed", `leadership went to ${leader}, not ${body.to}`);
    }
    return c.json({ leader });
  });
}
