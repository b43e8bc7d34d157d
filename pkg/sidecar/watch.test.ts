// The config watch against a scripted fake of the sidecar's /readyz and /v1/config/watch: what a
// real sidecar does only around restarts and resyncs (a replay after a reconnect, keys deleted
// while away, duplicate puts from a resync, a sidecar not ready yet, a silent connection), and the
// ways a watch ends. test/sdk.test.ts restarts a real sidecar under a watch.
import { afterAll, describe, expect, test } from "bun:test";
import { freePort } from "../../internal/testing/index.ts";
import { InvalidRequestError, NagentError } from "../control-plane/errors.ts";
import { SidecarClient } from "./client.ts";
import type { ConfigWatchEvent } from "./types.ts";

const servers: ReturnType<typeof Bun.serve>[] = [];
afterAll(() => servers.forEach((server) => server.stop(true)));

const put = (key: string, value: unknown, revision: number) => `event: put\ndata: ${JSON.stringify({ type: "put", key, value, revision })}\n\n`;
const del = (key: string, revision: number) => `event: delete\ndata: ${JSON.stringify({ type: "delete", key, revision })}\n\n`;
const synced = (revision: number) => `event: synced\ndata: ${JSON.stringify({ revision })}\n\n`;

/** A stream of these blocks, then either its end or (open) nothing more until the client goes. */
function sse(blocks: readonly string[], open = false): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const block of blocks) controller.enqueue(encoder.encode(block));
      if (!open) controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

interface Fake {
  readonly url: string;
  readonly watches: URL[];
}

/** A fake sidecar: `ready(n)` answers the n-th /readyz, `watch(n)` the n-th watch request. */
function fake(script: { ready?: (n: number) => Response; watch: (n: number) => Response }): Fake {
  const watches: URL[] = [];
  let readies = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/readyz") return script.ready?.(++readies) ?? new Response("ok");
      if (url.pathname === "/v1/config/watch") {
        watches.push(url);
        return script.watch(watches.length);
      }
      return new Response("not found", { status: 404 });
    },
  });
  servers.push(server);
  return { url: `http://127.0.0.1:${server.port}`, watches };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const fast = { initialMs: 5, maxMs: 20 };
const show = (event: ConfigWatchEvent) => (event.type === "put" ? `put ${event.key}=${JSON.stringify(event.value)}@${event.revision}` : `delete ${event.key}@${event.revision}`);

describe("resuming", () => {
  test("after a reconnect only what changed is delivered: new values, keys deleted while away; resync duplicates are dropped", async () => {
    const stub = fake({
      watch: (n) => {
        if (n === 1) return sse([put("app/a", 1, 5), put("app/b", { x: [1, 2] }, 5), synced(5), put("app/a", 3, 6)]);
        // The sidecar came back: a changed while away, b deleted, c created; then a resync's duplicate of c, then a live change.
        return sse([put("app/a", 7, 9), put("app/c", "new", 9), synced(9), put("app/c", "new", 9), put("app/a", 8, 10), del("app/gone", 11)], true);
      },
    });
    const events: string[] = [];
    const syncs: string[] = [];
    const errors: string[] = [];
    const watch = new SidecarClient({ url: stub.url }).watchConfig("app/", {
      onEvent: (event) => void events.push(show(event)),
      onSynced: ({ revision, resumed }) => void syncs.push(`${revision}${resumed ? " resumed" : ""}`),
      onError: (error, { retrying }) => void errors.push(`${retrying}:${error.code}`),
      backoff: fast,
    });
    await until(() => events.length === 7, "the changes across the reconnect");
    await Bun.sleep(50);
    expect(events).toEqual(["put app/a=1@5", 'put app/b={"x":[1,2]}@5', "put app/a=3@6", "put app/a=7@9", "put app/c=\"new\"@9", "delete app/b@9", "put app/a=8@10"]);
    expect(syncs).toEqual(["5", "9 resumed"]);
    expect(errors).toEqual(["true:stream_ended"]);
    expect(watch.synced).toBe(true);
    expect(watch.revision).toBe(11);
    expect(Object.fromEntries(watch.values())).toEqual({ "app/a": 8, "app/c": "new" });
    expect(stub.watches.map((u) => u.searchParams.get("prefix"))).toEqual(["app/", "app/"]);
    watch.close();
    expect(await watch.done).toBeUndefined();
  });

  test("an identical replay delivers nothing; a sidecar not ready yet is waited for (and the first sync is not a resumption)", async () => {
    const stub = fake({
      ready: (n) => (n === 1 || n === 3 || n === 4 ? new Response("not ready", { status: 503 }) : new Response("ok")),
      watch: (n) => (n === 1 ? sse([put("k", 1, 3), synced(3)]) : sse([put("k", 1, 4), synced(4)], true)),
    });
    const events: string[] = [];
    const syncs: boolean[] = [];
    const errors: string[] = [];
    const watch = new SidecarClient({ url: stub.url }).watchConfig("", {
      onEvent: (event) => void events.push(show(event)),
      onSynced: ({ resumed }) => void syncs.push(resumed),
      onError: (error, { retrying }) => void errors.push(`${retrying}:${error.code}`),
      backoff: fast,
    });
    await until(() => syncs.length === 2, "the second sync");
    expect(events).toEqual(["put k=1@3"]);
    expect(syncs).toEqual([false, true]);
    expect(errors).toEqual(["true:sidecar_not_ready", "true:stream_ended", "true:sidecar_not_ready", "true:sidecar_not_ready"]);
    watch.close();
    await watch.done;
  });

  test("a sidecar that goes away and comes back on the same port: retried until it answers", async () => {
    const port = await freePort();
    const serve = (blocks: string[]) =>
      Bun.serve({
        hostname: "127.0.0.1",
        port,
        fetch: (request) => (new URL(request.url).pathname === "/readyz" ? new Response("ok") : sse(blocks, true)),
      });
    let server = serve([put("k", 1, 1), synced(1)]);
    const events: string[] = [];
    const errors: string[] = [];
    const watch = new SidecarClient({ url: `http://127.0.0.1:${port}` }).watchConfig("", {
      onEvent: (event) => void events.push(show(event)),
      onError: (error) => void errors.push(error.name),
      backoff: fast,
    });
    await until(() => events.length === 1, "the first value");
    server.stop(true);
    await until(() => errors.includes("SidecarUnavailableError"), "a refused reconnect");
    server = serve([put("k", 2, 2), synced(2)]);
    servers.push(server);
    await until(() => events.length === 2, "the value after the restart");
    expect(events).toEqual(["put k=1@1", "put k=2@2"]);
    watch.close();
    await watch.done;
  });

  test("a silent connection is reopened after idleTimeoutMs", async () => {
    const stub = fake({ watch: (n) => (n === 1 ? sse([synced(1)], true) : sse([put("k", "v", 2), synced(2)], true)) });
    const errors: string[] = [];
    const events: string[] = [];
    const watch = new SidecarClient({ url: stub.url }).watchConfig("", {
      onEvent: (event) => void events.push(show(event)),
      onError: (error) => void errors.push(error.code),
      idleTimeoutMs: 150,
      backoff: fast,
    });
    await until(() => events.length === 1, "the value on the second stream");
    expect(errors[0]).toBe("idle_timeout");
    watch.close();
    await watch.done;
  });
});

describe("ending", () => {
  test("an invalid prefix ends the watch with the typed error; a 503 is retried", async () => {
    const stub = fake({
      watch: (n) =>
        n === 1
          ? Response.json({ error: { code: "shutting_down", message: "draining" } }, { status: 503 })
          : Response.json({ error: { code: "invalid_key", message: "invalid key" } }, { status: 400 }),
    });
    const errors: string[] = [];
    const watch = new SidecarClient({ url: stub.url }).watchConfig("bad//", {
      onEvent: () => {},
      onError: (error, { retrying }) => void errors.push(`${retrying}:${error.code}`),
      backoff: fast,
    });
    const ended = await watch.done;
    expect(ended).toBeInstanceOf(InvalidRequestError);
    expect(errors).toEqual(["true:shutting_down", "false:invalid_key"]);
  });

  test("an onEvent that throws ends the watch with handler_failed", async () => {
    const stub = fake({ watch: () => sse([put("k", 1, 1), synced(1)], true) });
    const watch = new SidecarClient({ url: stub.url }).watchConfig("", {
      onEvent: () => {
        throw new Error("boom");
      },
    });
    const ended = await watch.done;
    expect(ended).toBeInstanceOf(NagentError);
    expect(ended).toMatchObject({ code: "handler_failed", message: "the watch's onEvent handler failed: boom" });
  });

  test("onEvent's promise is awaited before the next event", async () => {
    const stub = fake({ watch: () => sse([put("a", 1, 1), put("b", 2, 1), synced(1)], true) });
    const order: string[] = [];
    const watch = new SidecarClient({ url: stub.url }).watchConfig("", {
      onEvent: async (event) => {
        order.push(`start ${event.key}`);
        await Bun.sleep(30);
        order.push(`end ${event.key}`);
      },
      onSynced: () => void order.push("synced"),
    });
    await until(() => order.includes("synced"), "the sync");
    expect(order).toEqual(["start a", "end a", "start b", "end b", "synced"]);
    watch.close();
    await watch.done;
  });

  test("an aborted signal ends the watch quietly, also during a backoff", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const controller = new AbortController();
    const watch = new SidecarClient({ url: dead }).watchConfig("", { signal: controller.signal, onEvent: () => {}, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await Bun.sleep(100);
    controller.abort();
    expect(await watch.done).toBeUndefined();
    const already = new SidecarClient({ url: dead }).watchConfig("", { signal: AbortSignal.abort(), onEvent: () => {} });
    expect(await already.done).toBeUndefined();
  });
});
