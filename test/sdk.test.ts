// The SDK for agent services against a real mesh (one control plane, two nodes, each a test app
// behind its sidecar): config from the sidecar's copy, a watch that survives a sidecar restart,
// calls across nodes with typed errors; and the same code on Node.js, run from source through tsx
// and bundled by esbuild.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../internal/testing/index.ts";
import {
  NoHealthyInstanceError,
  NotFoundError,
  SidecarClient,
  UnauthenticatedError,
  type ConfigWatchEvent,
  type InvokeError,
} from "../pkg/index.ts";
import { startMesh, type Mesh, type MeshNode } from "./support/mesh.ts";

const root = join(import.meta.dir, "..");
let mesh: Mesh;
let a: MeshNode;
let b: MeshNode;
let caller: string;
let dir: string;

beforeAll(async () => {
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution", "state"] },
    ],
  });
  a = mesh.node("node-a");
  b = mesh.node("node-b");
  caller = await mesh.token("agent-1", ["agent"]);
  dir = mkdtempSync(join(tmpdir(), "nagent-sdk-"));
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Writes config through the control plane and waits until both sidecars hold it. */
async function write(key: string, value: unknown): Promise<number> {
  const { revision } = await mesh.admin.putConfig(key, value);
  await until(async () => (await a.status()).revision >= revision && (await b.status()).revision >= revision, { what: `${key} reaching the sidecars` });
  return revision;
}

describe("config from the sidecar's copy", () => {
  test("get and list what the admin wrote; a missing key is a NotFoundError", async () => {
    await write("sdk/agents/writer", { model: "m-large", temperature: 0.2 });
    const revision = await write("sdk/agents/reviewer", { model: "m-small" });
    const client = new SidecarClient({ url: a.outbound });
    const entry = await client.getConfig<{ model: string; temperature: number }>("sdk/agents/writer");
    expect(entry.key).toBe("sdk/agents/writer");
    expect(entry.value).toEqual({ model: "m-large", temperature: 0.2 });
    expect(entry.revision).toBeGreaterThanOrEqual(revision);
    const listed = await client.listConfig("sdk/agents/");
    expect(listed.items).toEqual([
      { key: "sdk/agents/reviewer", value: { model: "m-small" } },
      { key: "sdk/agents/writer", value: { model: "m-large", temperature: 0.2 } },
    ]);
    const missing = await client.getConfig("sdk/agents/nobody").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: "not_found", status: 404 });
    // The one key GET /v1/config/{key} cannot serve, since /v1/config/watch is the watch stream.
    await write("watch", { shadowed: false });
    expect((await client.getConfig("watch")).value).toEqual({ shadowed: false });
    const status = await client.status();
    expect(status).toMatchObject({ node: "node-a", domains: ["communication"], source: "control-plane", controlPlane: { connected: true } });
    expect(await client.ready()).toBe(true);
  });

  test("a watch sees a change, then resumes across a sidecar restart and delivers each later change exactly once", async () => {
    await write("sdk/watch/model", "v1");
    await write("sdk/watch/doomed", true);
    const client = new SidecarClient({ url: a.outbound });
    const events: string[] = [];
    const syncs: boolean[] = [];
    const errors: string[] = [];
    const watch = client.watchConfig<string | boolean>("sdk/watch/", {
      onEvent: (event: ConfigWatchEvent<string | boolean>) => void events.push(event.type === "put" ? `put ${event.key}=${String(event.value)}` : `delete ${event.key}`),
      onSynced: ({ resumed }) => void syncs.push(resumed),
      onError: (error, { retrying }) => void errors.push(`${retrying}:${error.code}`),
      backoff: { initialMs: 100, maxMs: 1_000 },
    });
    await until(() => syncs.length === 1, { what: "the initial values" });
    expect(events).toEqual(["put sdk/watch/doomed=true", "put sdk/watch/model=v1"]);

    await write("sdk/watch/model", "v2");
    await until(() => events.length === 3, { what: "the change" });
    expect(events[2]).toBe("put sdk/watch/model=v2");

    await a.stopSidecar();
    await until(() => errors.length > 0, { what: "the watch noticing the stop" });
    // Deleted while the sidecar is down: the watch learns it from the replay once it is back.
    await mesh.admin.deleteConfig("sdk/watch/doomed");
    await a.startSidecar();
    await write("sdk/watch/model", "v3");
    await until(() => events.length === 5 && syncs.length >= 2, { what: "the changes after the restart", timeoutMs: 20_000 });
    // Anything repeated by the replay or by the sidecar's resync would show up by now.
    await Bun.sleep(1_000);
    expect(events.slice(0, 3)).toEqual(["put sdk/watch/doomed=true", "put sdk/watch/model=v1", "put sdk/watch/model=v2"]);
    // Both may come from the replay (the put as it streams, the delete at its end) or live, so in either order.
    expect(events.slice(3).sort()).toEqual(["delete sdk/watch/doomed", "put sdk/watch/model=v3"]);
    expect(syncs[0]).toBe(false);
    expect(syncs.slice(1).every((resumed) => resumed)).toBe(true);
    expect(errors.every((entry) => entry.startsWith("true:"))).toBe(true);
    expect(Object.fromEntries(watch.values())).toEqual({ "sdk/watch/model": "v3" });
    watch.close();
    expect(await watch.done).toBeUndefined();
  }, 60_000);
});

describe("calls to other domains", () => {
  test("invoke reaches the other node's app with the caller's token and trace context", async () => {
    const client = new SidecarClient({ url: a.outbound, token: caller });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const response = await client.invoke("execution", "/v1/chat?lang=en", { json: { message: "hi" }, traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, string>;
    expect(body).toMatchObject({ app: "node-b", method: "POST", path: "/v1/chat?lang=en", bytes: 16, subject: "agent-1", roles: "agent" });
    expect(body.traceparent).toStartWith(`00-${traceId}-`);

    const result = await client.invokeJson<{ app: string; subject: string }>("execution", "/v1/tasks", { token: await mesh.token("agent-2", ["agent"]) });
    expect(result.status).toBe(200);
    expect(result.data).toMatchObject({ app: "node-b", subject: "agent-2" });
    expect(result.fallback).toBeUndefined();
  });

  test("invokeJson of a domain nobody serves throws NoHealthyInstanceError with the code", async () => {
    const error = await new SidecarClient({ url: a.outbound, token: caller }).invokeJson("coordination", "/plan").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoHealthyInstanceError);
    expect(error).toMatchObject({ status: 503, code: "no_healthy_instance", endpoint: a.outbound });
    expect((error as InvokeError).message).toContain("coordination");
  });

  test("a call without a credential throws UnauthenticatedError", async () => {
    const error = await new SidecarClient({ url: a.outbound }).invokeJson("execution", "/v1/chat").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({ status: 401, code: "unauthenticated" });
  });

  test("an answer a fallback produced says so", async () => {
    const { revision } = await mesh.admin.putPolicy("resilience", "sdk-state-fallback", {
      target: { domain: "state" },
      fallback: { type: "static", status: 200, body: { answer: "later" } },
    });
    await until(async () => (await a.status()).revision >= revision, { what: "the policy reaching node-a" });
    await b.behave({ status: 500, failNext: 1 });
    const client = new SidecarClient({ url: a.outbound, token: caller });
    expect(await client.invokeJson("state", "/v1/sessions/1")).toMatchObject({ status: 200, data: { answer: "later" }, fallback: "static" });
    expect((await client.invokeJson("state", "/v1/sessions/1")).fallback).toBeUndefined();
    await mesh.admin.deletePolicy("resilience", "sdk-state-fallback");
  });
});

describe("the same SDK on Node.js", () => {
  // One script for both runs: plain JavaScript, so tsx and node run it alike.
  const script = (sdk: string) => `
import { NotFoundError, SidecarClient, UnauthenticatedError } from ${JSON.stringify(sdk)};
const [url, token] = process.argv.slice(2);
const client = new SidecarClient({ url, token });
const out = { runtime: typeof globalThis.Bun === "undefined" ? "node" : "bun" };
out.config = (await client.getConfig("sdk/node/settings")).value;
out.missing = await client.getConfig("sdk/node/none").then(() => "found", (e) => (e instanceof NotFoundError ? e.code : String(e)));
const answer = await client.invokeJson("execution", "/from-node", { json: { n: 1 } });
out.answer = { app: answer.data.app, subject: answer.data.subject, path: answer.data.path };
out.unauthenticated = await new SidecarClient({ url }).invokeJson("execution", "/x").then(() => "ok", (e) => (e instanceof UnauthenticatedError ? e.status : String(e)));
// One long-lived signal for many calls: no listeners pile up on it (Node would warn on stderr).
const shutdown = new AbortController();
for (let i = 0; i < 15; i++) await (await client.invoke("execution", "/many", { signal: shutdown.signal, timeoutMs: 5000 })).text();
out.watched = await new Promise((resolve) => {
  const keys = [];
  const watch = client.watchConfig("sdk/node/", { onEvent: (event) => keys.push(event.key), onSynced: () => { watch.close(); resolve(keys); } });
});
console.log(JSON.stringify(out));
`;
  const expected = {
    runtime: "node",
    config: { replicas: 2 },
    missing: "not_found",
    answer: { app: "node-b", subject: "agent-1", path: "/from-node" },
    unauthenticated: 401,
    watched: ["sdk/node/settings"],
  };

  async function runNode(args: string[]): Promise<unknown> {
    const node = Bun.spawn(["node", ...args, a.outbound, caller], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => node.kill(), 30_000);
    const [code, stdout, stderr] = await Promise.all([node.exited, new Response(node.stdout).text(), new Response(node.stderr).text()]);
    clearTimeout(timer);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    return JSON.parse(stdout);
  }

  test("from source, through tsx", async () => {
    await write("sdk/node/settings", { replicas: 2 });
    const file = join(dir, "from-source.mts");
    writeFileSync(file, script(join(root, "pkg", "index.ts")));
    expect(await runNode(["--import", "tsx", file])).toEqual(expected);
  }, 40_000);

  test("bundled by esbuild for Node", async () => {
    await write("sdk/node/settings", { replicas: 2 });
    const bundle = await build({ entryPoints: [join(root, "pkg", "index.ts")], bundle: true, platform: "node", format: "esm", target: "node20", write: false, logLevel: "silent" });
    writeFileSync(join(dir, "sdk.mjs"), bundle.outputFiles[0]!.text);
    writeFileSync(join(dir, "bundled.mjs"), script("./sdk.mjs"));
    expect(await runNode([join(dir, "bundled.mjs")])).toEqual(expected);
  }, 40_000);
});
