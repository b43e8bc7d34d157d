// The SDK's watch: against a real control plane (events in order, a compacted start, resuming
// across a restart of the control plane without missing or repeating a change), and against a
// scripted SSE server for what a real one does only under rare timing (a cut in the middle of a
// revision, an "error" event, refusals).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startControlPlane, type ControlPlaneProcess } from "../../internal/testing/control-plane-process.ts";
import { freePort } from "../../internal/testing/index.ts";
import { CompactedError, ControlPlaneClient, NagentError, UnauthenticatedError, type WatchEvent } from "../index.ts";

let cp: ControlPlaneProcess;
let client: ControlPlaneClient;

beforeAll(async () => {
  cp = await startControlPlane({ extraArgs: ["--history-revisions", "100"] });
  client = new ControlPlaneClient({ endpoints: [cp.url], token: cp.token, timeoutMs: 2000 });
});
afterAll(async () => {
  await cp.destroy();
});

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("watch against a control plane", () => {
  test("from a revision: the backlog then live changes, in order, as store keys", async () => {
    const first = await client.putConfig("w1/a", 1);
    await client.putConfig("w1/b", 2);
    const events: WatchEvent[] = [];
    const watch = client.watch("config/w1/", { fromRevision: first.revision, onEvent: (event) => void events.push(event) });
    await until(() => events.length === 2, "the backlog");
    await client.deleteConfig("w1/a");
    await until(() => events.length === 3, "the delete");
    expect(events.map((e) => [e.type, e.key, e.value])).toEqual([
      ["put", "config/w1/a", 1],
      ["put", "config/w1/b", 2],
      ["delete", "config/w1/a", undefined],
    ]);
    expect(watch.revision).toBe(events[2]!.revision);
    watch.close();
    expect(await watch.done).toBeUndefined();
  });

  test("without a revision it starts after the current one", async () => {
    await client.putConfig("w2/before", 0);
    const events: WatchEvent[] = [];
    let connected = false;
    const watch = client.watch("config/w2/", { onEvent: (event) => void events.push(event), onConnect: () => (connected = true) });
    await until(() => connected, "the stream");
    await client.putConfig("w2/after", 1);
    await until(() => events.length === 1, "the live change");
    expect(events[0]!.key).toBe("config/w2/after");
    watch.close();
    await watch.done;
  });

  test("a compacted revision ends the watch with a CompactedError naming the oldest revision", async () => {
    for (let i = 0; i < 130; i++) await client.putConfig("w3/churn", i);
    const deadline = Date.now() + 10_000;
    let error: NagentError | undefined;
    while (Date.now() < deadline) {
      const errors: { error: NagentError; retrying: boolean }[] = [];
      const watch = client.watch("config/w3/", { fromRevision: 1, onEvent: () => {}, onError: (e, info) => errors.push({ error: e, ...info }) });
      const ended = await Promise.race([watch.done, Bun.sleep(500).then(() => "open" as const)]);
      watch.close();
      if (ended instanceof CompactedError) {
        error = ended;
        expect(errors).toEqual([{ error: ended, retrying: false }]);
        break;
      }
      await Bun.sleep(200);
    }
    expect(error).toBeInstanceOf(CompactedError);
    expect((error as CompactedError).oldestRevision).toBeGreaterThan(1);
  });

  test("resumes across a control-plane restart (SIGTERM, same port and data) without missing or repeating", async () => {
    const lastEventIds: (string | null)[] = [];
    const watcher = new ControlPlaneClient({
      endpoints: [cp.url],
      token: cp.token,
      timeoutMs: 1000,
      fetch: (input, init) => {
        if (input.includes("/v1/watch")) lastEventIds.push(new Headers(init.headers).get("last-event-id"));
        return fetch(input, init);
      },
    });
    const events: WatchEvent[] = [];
    const connects: boolean[] = [];
    const transient: string[] = [];
    const watch = watcher.watch("config/w4/", {
      onEvent: (event) => void events.push(event),
      onConnect: ({ resumed }) => void connects.push(resumed),
      onError: (error, { retrying }) => void transient.push(`${retrying}:${error.code}`),
      // Slow reconnects, so that the writes right after the restart land before the watch is back.
      backoff: { initialMs: 1000, maxMs: 2000 },
    });
    await until(() => connects.length === 1, "the first stream");
    const written: number[] = [];
    for (let i = 1; i <= 5; i++) written.push((await client.putConfig(`w4/k${i}`, i)).revision);
    await until(() => events.length === 5, "the first five changes");

    await cp.stop();
    await cp.start();
    for (let i = 6; i <= 10; i++) written.push((await new ControlPlaneClient({ endpoints: [cp.url], token: cp.token }).putConfig(`w4/k${i}`, i)).revision);
    await until(() => events.length >= 10, "the changes made while the watch was away", 20_000);
    await Bun.sleep(300);

    expect(events.map((e) => e.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events.map((e) => e.revision)).toEqual(written);
    expect(connects[0]).toBe(false);
    expect(connects.at(-1)).toBe(true);
    expect(transient.every((entry) => entry.startsWith("true:"))).toBe(true);
    // The reconnect asked to resume after the last revision seen before the restart.
    expect(lastEventIds.at(-1)).toBe(String(written[4]));
    watch.close();
    expect(await watch.done).toBeUndefined();
  }, 40_000);
});

describe("watch against a scripted SSE server", () => {
  type Script = (request: Request, attempt: number) => Response;
  const servers: ReturnType<typeof Bun.serve>[] = [];
  afterAll(() => servers.forEach((server) => server.stop(true)));

  function sse(...blocks: string[]): Response {
    return new Response(blocks.join(""), { headers: { "content-type": "text/event-stream" } });
  }
  const ready = 'event: ready\ndata: {"fromRevision":5}\n\n';
  const change = (key: string, revision: number, id?: boolean) =>
    `event: put\ndata: ${JSON.stringify({ type: "put", key, value: key, revision })}\n${id ? `id: ${revision}\n` : ""}\n`;

  function serve(script: Script): { url: string; requests: { url: URL; lastEventId: string | null }[] } {
    const requests: { url: URL; lastEventId: string | null }[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const url = new URL(request.url);
        requests.push({ url, lastEventId: request.headers.get("last-event-id") });
        return script(request, requests.length);
      },
    });
    servers.push(server);
    return { url: `http://127.0.0.1:${server.port}`, requests };
  }

  test("a cut in the middle of a revision: the rest is delivered, nothing twice; 410 ends it", async () => {
    const stub = serve((_, attempt) => {
      if (attempt === 1) return sse(ready, change("a", 5), change("b", 5));
      if (attempt === 2) return sse(ready, change("a", 5), change("b", 5), change("c", 5, true), change("d", 6, true));
      if (attempt === 3) return sse(ready, "event: error\ndata: {\"code\":\"too_slow\",\"message\":\"resume\"}\n\n");
      return Response.json({ error: { code: "compacted", message: "compacted", oldestRevision: 10 } }, { status: 410 });
    });
    const events: string[] = [];
    const errors: string[] = [];
    const watch = new ControlPlaneClient({ endpoints: [stub.url], token: "t" }).watch("", {
      onEvent: (event) => void events.push(`${event.key}@${event.revision}`),
      onError: (error, { retrying }) => void errors.push(`${retrying ? "retry" : "final"}:${error.code}`),
      backoff: { initialMs: 5, maxMs: 10 },
    });
    const ended = await watch.done;
    expect(ended).toBeInstanceOf(CompactedError);
    expect((ended as CompactedError).oldestRevision).toBe(10);
    expect(events).toEqual(["a@5", "b@5", "c@5", "d@6"]);
    expect(errors).toEqual(["retry:stream_ended", "retry:stream_ended", "retry:too_slow", "final:compacted"]);
    expect(stub.requests.map((r) => [r.url.searchParams.get("fromRevision"), r.lastEventId])).toEqual([
      [null, null], // from now: the ready event says that is revision 5
      ["5", null], // revision 5 was not complete: asked again, its first two events skipped
      [null, "6"],
      [null, "6"],
    ]);
    expect(watch.revision).toBe(6);
  });

  test("fails over from a dead endpoint; a refused credential ends the watch at once", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const stub = serve((_, attempt) => (attempt === 1 ? sse(ready, change("x", 7, true)) : Response.json({ error: { code: "unauthenticated", message: "invalid credential" } }, { status: 401 })));
    const events: string[] = [];
    const watch = new ControlPlaneClient({ endpoints: [dead, stub.url], token: "t", timeoutMs: 500 }).watch("config/", {
      fromRevision: 7,
      onEvent: (event) => void events.push(event.key),
      backoff: { initialMs: 5, maxMs: 10 },
    });
    const ended = await watch.done;
    expect(events).toEqual(["x"]);
    expect(ended).toBeInstanceOf(UnauthenticatedError);
  });

  test("a future revision (a member behind the others) and a 503 are retried; an onEvent that throws ends the watch", async () => {
    const stub = serve((_, attempt) => {
      if (attempt === 1) return Response.json({ error: { code: "future_revision", message: "ahead", currentRevision: 3 } }, { status: 400 });
      if (attempt === 2) return Response.json({ error: { code: "unavailable", message: "no leader" } }, { status: 503 });
      return sse(ready, change("y", 9, true));
    });
    const errors: string[] = [];
    const watch = new ControlPlaneClient({ endpoints: [stub.url], token: "t" }).watch("", {
      fromRevision: 9,
      onEvent: () => {
        throw new Error("boom");
      },
      onError: (error, { retrying }) => void errors.push(`${retrying}:${error.code}`),
      backoff: { initialMs: 5, maxMs: 10 },
    });
    const ended = await watch.done;
    expect(ended).toMatchObject({ code: "handler_failed", message: "the watch's onEvent handler failed: boom" });
    expect(errors).toEqual(["true:future_revision", "true:unavailable", "false:handler_failed"]);
  });

  test("an aborted signal ends the watch quietly, also during a backoff", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const controller = new AbortController();
    const watch = new ControlPlaneClient({ endpoints: [dead], token: "t" }).watch("", {
      fromRevision: 1,
      signal: controller.signal,
      onEvent: () => {},
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    await Bun.sleep(100);
    controller.abort();
    expect(await watch.done).toBeUndefined();
  });
});
