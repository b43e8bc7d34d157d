import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEtcdStore, type Store } from "../store/index.ts";
import { startEtcd, type EtcdServer } from "../testing/index.ts";
import type { DaemonApp } from "../server/index.ts";
import { SseReader } from "./sse-reader.ts";
import { startTestControlPlane, type TestControlPlane } from "./test-app.ts";

const TOKEN = "test-admin-token-0123456789";
let etcd: EtcdServer;
let store: Store;
let daemon: DaemonApp;
let controlPlane: TestControlPlane;

beforeAll(async () => {
  etcd = await startEtcd();
  store = createEtcdStore({ endpoints: [etcd.endpoint], prefix: "api-test/" });
  controlPlane = await startTestControlPlane({ store, adminToken: TOKEN, maxBodyBytes: 4096 });
  daemon = controlPlane.daemon;
}, 60_000);

afterAll(async () => {
  await controlPlane?.stop();
  await store?.close();
  await etcd?.stop();
});

function call(method: string, path: string, init: { body?: string; headers?: Record<string, string>; token?: string | null } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
  if (init.body !== undefined) headers["content-type"] ??= "application/json";
  return daemon.app.request(path, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
}

async function json(response: Response): Promise<any> {
  return response.json();
}

describe("authentication", () => {
  test("no credential: 401 with WWW-Authenticate; wrong credential: 401", async () => {
    const missing = await call("GET", "/v1/config/a", { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expect((await json(missing)).error.code).toBe("unauthenticated");
    expect((await call("GET", "/v1/config/a", { token: "forged" })).status).toBe(401);
    expect((await call("PUT", "/v1/config/a", { token: "forged", body: "1" })).status).toBe(401);
  });

  test("probes and metrics need no credential", async () => {
    expect((await daemon.app.request("/healthz")).status).toBe(200);
    expect((await daemon.app.request("/metrics")).status).toBe(200);
  });
});

describe("config", () => {
  test("PUT then GET any JSON value, with revisions and an ETag", async () => {
    const put = await call("PUT", "/v1/config/services/payment/timeout", { body: JSON.stringify({ ms: 250, tags: ["a"] }) });
    expect(put.status).toBe(200);
    const { key, revision } = await json(put);
    expect(key).toBe("services/payment/timeout");
    const got = await call("GET", "/v1/config/services/payment/timeout");
    expect(got.headers.get("etag")).toBe(`"${revision}"`);
    expect(await json(got)).toEqual({
      key: "services/payment/timeout",
      value: { ms: 250, tags: ["a"] },
      createRevision: revision,
      modRevision: revision,
      version: 1,
    });
    await call("PUT", "/v1/config/scalar", { body: '"text"' });
    expect((await json(await call("GET", "/v1/config/scalar?consistency=serializable"))).value).toBe("text");
  });

  test("GET of an absent key: 404", async () => {
    const response = await call("GET", "/v1/config/never/set");
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe("not_found");
  });

  test("If-Match: compare-and-set, create-only, and a 412 that names the current revision", async () => {
    const created = await json(await call("PUT", "/v1/config/cas/k", { body: "1", headers: { "if-match": "0" } }));
    const again = await call("PUT", "/v1/config/cas/k", { body: "2", headers: { "if-match": "0" } });
    expect(again.status).toBe(412);
    expect((await json(again)).error).toMatchObject({ code: "precondition_failed", modRevision: created.revision });
    const ok = await call("PUT", "/v1/config/cas/k", { body: "2", headers: { "if-match": `"${created.revision}"` } });
    expect(ok.status).toBe(200);
    const stale = await call("DELETE", "/v1/config/cas/k", { headers: { "if-match": String(created.revision) } });
    expect(stale.status).toBe(412);
    const { revision } = await json(ok);
    expect((await call("DELETE", "/v1/config/cas/k", { headers: { "if-match": String(revision) } })).status).toBe(200);
    expect((await call("DELETE", "/v1/config/cas/k")).status).toBe(404);
  });

  test("prefix list and history", async () => {
    await call("PUT", "/v1/config/list/b", { body: "2" });
    await call("PUT", "/v1/config/list/a", { body: "1" });
    await call("PUT", "/v1/config/lister", { body: "0" });
    const listed = await json(await call("GET", "/v1/config?prefix=list/"));
    expect(listed.items.map((item: { key: string; value: unknown }) => [item.key, item.value])).toEqual([
      ["list/a", 1],
      ["list/b", 2],
    ]);
    expect(listed.revision).toBeGreaterThan(0);
    await call("PUT", "/v1/config/list/a", { body: "10" });
    await call("DELETE", "/v1/config/list/a");
    const history = await json(await call("GET", "/v1/config/list/a/history"));
    expect(history.history.map((h: { type: string; value?: unknown }) => [h.type, h.value])).toEqual([
      ["put", 1],
      ["put", 10],
      ["delete", undefined],
    ]);
  });

  test("bad input: malformed JSON, oversized value, invalid key, bad If-Match, bad consistency", async () => {
    const malformed = await call("PUT", "/v1/config/x", { body: "{nope" });
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error.code).toBe("malformed_json");
    const big = await call("PUT", "/v1/config/x", { body: JSON.stringify("v".repeat(5000)) });
    expect(big.status).toBe(413);
    for (const key of ["a//b", "sp%20ace", "%2Fx", "history", "x/history"]) {
      const bad = await call("PUT", `/v1/config/${key}`, { body: "1" });
      expect(bad.status).toBe(400);
      expect((await json(bad)).error.code).toBe("invalid_key");
    }
    const ifMatch = await call("PUT", "/v1/config/x", { body: "1", headers: { "if-match": "abc" } });
    expect(ifMatch.status).toBe(400);
    expect((await json(ifMatch)).error.code).toBe("invalid_if_match");
    expect((await call("GET", "/v1/config/x?consistency=eventual")).status).toBe(400);
    expect((await call("GET", "/v1/config/x")).status).toBe(404);
  });
});

describe("watch", () => {
  test("streams changes as SSE, resumable with Last-Event-ID", async () => {
    const response = await call("GET", "/v1/watch?prefix=config/w/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = new SseReader(response.body!);
    expect((await events.next())?.event).toBe("ready");
    const first = await json(await call("PUT", "/v1/config/w/a", { body: '{"n":1}' }));
    await call("DELETE", "/v1/config/w/a");
    const put = await events.next();
    expect(put).toEqual({
      event: "put",
      id: String(first.revision),
      data: JSON.stringify({ type: "put", key: "config/w/a", value: { n: 1 }, revision: first.revision }),
    });
    const del = await events.next();
    expect(del?.event).toBe("delete");
    await events.cancel();

    await call("PUT", "/v1/config/w/b", { body: "2" });
    const resumed = new SseReader((await call("GET", "/v1/watch?prefix=config/w/", { headers: { "last-event-id": put!.id! } })).body!);
    expect((await resumed.next())?.event).toBe("ready");
    expect(JSON.parse((await resumed.next())!.data)).toMatchObject({ type: "delete", key: "config/w/a" });
    expect(JSON.parse((await resumed.next())!.data)).toMatchObject({ type: "put", key: "config/w/b", value: 2 });
    await resumed.cancel();
  });

  test("a compacted revision answers 410 with the oldest available; a future one 400", async () => {
    const r1 = (await json(await call("PUT", "/v1/config/wc/a", { body: "1" }))).revision;
    const r2 = (await json(await call("PUT", "/v1/config/wc/a", { body: "2" }))).revision;
    await store.compact(r2);
    const gone = await call("GET", `/v1/watch?prefix=config/wc/&fromRevision=${r1}`);
    expect(gone.status).toBe(410);
    expect((await json(gone)).error).toMatchObject({ code: "compacted", oldestRevision: r2 });
    const future = await call("GET", `/v1/watch?fromRevision=${r2 + 1000}`);
    expect(future.status).toBe(400);
    expect((await json(future)).error.code).toBe("future_revision");
    expect((await call("GET", "/v1/watch?fromRevision=abc")).status).toBe(400);
    expect((await call("GET", "/v1/watch?prefix=system/")).status).toBe(403);
  });

  test("streams end when the daemon begins to drain", async () => {
    const second = await startTestControlPlane({ store, adminToken: TOKEN });
    const local = second.daemon;
    const response = await local.app.request("/v1/watch", { headers: { authorization: `Bearer ${TOKEN}` } });
    const events = new SseReader(response.body!);
    expect((await events.next())?.event).toBe("ready");
    local.beginDrain("test");
    expect(await events.next()).toBeUndefined();
    await second.stop();
  });
});

describe("cluster", () => {
  test("status of the etcd store; membership changes are etcd's own", async () => {
    const status = await json(await call("GET", "/v1/cluster"));
    expect(status.store).toBe("etcd");
    expect(status.leader).toBeTruthy();
    expect(status.members).toHaveLength(1);
    const add = await call("POST", "/v1/cluster/members", { body: JSON.stringify({ id: "cp-9", url: "http://127.0.0.1:1" }) });
    expect(add.status).toBe(501);
    const bad = await call("POST", "/v1/cluster/members", { body: JSON.stringify({ id: "cp-9", url: "ftp://x", extra: 1 }) });
    expect(bad.status).toBe(400);
  });

  test("a backup of the etcd store is etcd's own: 501 with the project's error shape", async () => {
    const response = await call("GET", "/v1/cluster/snapshot");
    expect(response.status).toBe(501);
    const body = await json(response);
    expect(body.error.code).toBe("not_supported");
    expect(body.error.message).toContain("use etcdctl snapshot save against your etcd cluster");
  });

  test("/readyz follows the store", async () => {
    for (let i = 0; i < 50 && (await daemon.app.request("/readyz")).status !== 200; i++) await Bun.sleep(100);
    expect((await daemon.app.request("/readyz")).status).toBe(200);
  });
});
