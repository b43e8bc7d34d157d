// The Python client (examples/python/nagent_sidecar.py, standard library only) against a real
// mesh's sidecar: config, a watched change, a call across nodes, a 401 as a Python exception, and
// the example agent; and, against scripted fake sidecars, its watch's reconnection and its ride
// through a sidecar restart (connect_retry).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, until } from "../internal/testing/index.ts";
import { startMesh, type Mesh, type MeshNode } from "./support/mesh.ts";

const examples = join(import.meta.dir, "..", "examples", "python");
let mesh: Mesh;
let a: MeshNode;
let b: MeshNode;
let caller: string;
const fakes: ReturnType<typeof Bun.serve>[] = [];

beforeAll(async () => {
  // Not skipped when python3 is missing: the suite fails and says what to install.
  const python = Bun.which("python3");
  if (python === null) throw new Error("python3 is missing: install Python 3.9 or later (e.g. apt-get install python3) to test the Python client");
  const version = Bun.spawnSync(["python3", "-c", "import sys; print(sys.version_info >= (3, 9))"]).stdout.toString().trim();
  if (version !== "True") throw new Error("python3 is older than 3.9, which the Python client needs");
  mesh = await startMesh({
    nodes: [
      { id: "node-a", domains: ["communication"] },
      { id: "node-b", domains: ["execution"] },
    ],
  });
  a = mesh.node("node-a");
  b = mesh.node("node-b");
  caller = await mesh.token("py-agent", ["agent"]);
}, 120_000);

afterAll(async () => {
  fakes.forEach((server) => server.stop(true));
  await mesh?.stop();
}, 60_000);

/** Writes config through the control plane and waits until node-a's sidecar holds it. */
async function write(key: string, value: unknown): Promise<void> {
  const { revision } = await mesh.admin.putConfig(key, value);
  await until(async () => (await a.status()).revision >= revision, { what: `${key} reaching node-a` });
}

interface Run {
  readonly code: number;
  readonly lines: any[];
  readonly stderr: string;
}

/** Runs a Python script of examples/python to its end (killed after 30 s). */
async function python(script: string, args: readonly string[]): Promise<Run> {
  const child = Bun.spawn(["python3", join(examples, script), ...args], { cwd: examples, stdout: "pipe", stderr: "pipe", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  const timer = setTimeout(() => child.kill(), 30_000);
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  clearTimeout(timer);
  return { code, stderr, lines: stdout.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line)) };
}

/** Starts a driver that prints JSON lines as things happen; `next()` answers the next one. */
function follow(args: readonly string[]) {
  const child = Bun.spawn(["python3", join(examples, "test_against_sidecar.py"), ...args], { cwd: examples, stdout: "pipe", stderr: "pipe", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    child,
    async next(timeoutMs = 15_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const newline = buffer.indexOf("\n");
        if (newline >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          return JSON.parse(line);
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no line from the Python driver within ${timeoutMs} ms`);
        const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => undefined)]);
        if (chunk === undefined) continue;
        if (chunk.done) throw new Error(`the Python driver ended: ${await new Response(child.stderr).text()}`);
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
    async end(): Promise<number> {
      reader.releaseLock();
      const timer = setTimeout(() => child.kill(), 10_000);
      const code = await child.exited;
      clearTimeout(timer);
      return code;
    },
  };
}

describe("the Python client against a real sidecar", () => {
  test("reads config the admin wrote: one key (with a default for an absent one) and a prefix", async () => {
    await write("sdk-py/agents/writer", { model: "m-large", temperature: 0.2 });
    await write("sdk-py/agents/reviewer", { model: "m-small" });
    const got = await python("test_against_sidecar.py", [a.outbound, "-", "get", "sdk-py/agents/writer"]);
    expect(got.stderr).toBe("");
    expect(got.lines).toEqual([{ value: { model: "m-large", temperature: 0.2 }, default: "fallback" }]);
    // The one key GET /v1/config/{key} cannot serve, since /v1/config/watch is the watch stream.
    await write("watch", "not a stream");
    expect((await python("test_against_sidecar.py", [a.outbound, "-", "get", "watch"])).lines).toEqual([{ value: "not a stream", default: "fallback" }]);
    const listed = await python("test_against_sidecar.py", [a.outbound, "-", "list", "sdk-py/agents/"]);
    expect(listed.lines).toEqual([{ items: { "sdk-py/agents/reviewer": { model: "m-small" }, "sdk-py/agents/writer": { model: "m-large", temperature: 0.2 } } }]);
  });

  test("a watched change arrives", async () => {
    await write("sdk-py/watch/model", "v1");
    const watch = follow([a.outbound, "-", "watch", "sdk-py/watch/", "3"]);
    try {
      expect(await watch.next()).toMatchObject({ type: "put", key: "sdk-py/watch/model", value: "v1" });
      expect(await watch.next()).toMatchObject({ type: "synced", resumed: false });
      await write("sdk-py/watch/model", "v2");
      expect(await watch.next()).toMatchObject({ type: "put", key: "sdk-py/watch/model", value: "v2" });
      expect(await watch.end()).toBe(0);
    } finally {
      watch.child.kill();
    }
  });

  test("invoke reaches the other node's app with the caller's identity", async () => {
    // Python sends {"task": "summarise"}: 21 bytes.
    const run = await python("test_against_sidecar.py", [a.outbound, caller, "invoke", "execution", "/v1/tasks?from=python", JSON.stringify({ task: "summarise" })]);
    expect(run.stderr).toBe("");
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatchObject({ status: 200, fallback: null, data: { app: "node-b", method: "POST", path: "/v1/tasks?from=python", subject: "py-agent", roles: "agent", bytes: 21 } });
    const none = await python("test_against_sidecar.py", [a.outbound, caller, "invoke", "coordination", "/plan"]);
    expect(none.lines[0]).toMatchObject({ error: "NoHealthyInstanceError", status: 503, code: "no_healthy_instance" });
  });

  test("a call without a credential raises UnauthenticatedError, a clear Python exception", async () => {
    const run = await python("test_against_sidecar.py", [a.outbound, "-", "raise", "execution", "/v1/tasks"]);
    expect(run.code).toBe(1);
    const last = run.stderr.trim().split("\n").at(-1);
    expect(last).toBe("nagent_sidecar.UnauthenticatedError: 401 unauthenticated: missing credential: send Authorization: Bearer <token>");
    const caught = await python("test_against_sidecar.py", [a.outbound, "-", "invoke", "execution", "/v1/tasks"]);
    expect(caught.lines[0]).toMatchObject({ error: "UnauthenticatedError", status: 401, code: "unauthenticated" });
  });

  test("the example agent reads its settings and sends a task to the other domain", async () => {
    await write("sdk-py/example/settings", { model: "m-large" });
    const run = await python("example_agent.py", ["--sidecar", a.outbound, "--token", caller, "--settings", "sdk-py/example/settings"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.lines[0]).toEqual({ step: "settings", settings: { model: "m-large", temperature: 0.7 } });
    expect(run.lines[1]).toMatchObject({ step: "task", status: 200, fallback: null, answer: { app: "node-b", path: "/v1/tasks", subject: "py-agent" } });
    const refused = await python("example_agent.py", ["--sidecar", a.outbound, "--settings", "sdk-py/example/settings"]);
    expect(refused.code).toBe(2);
    expect(refused.lines[1]).toMatchObject({ step: "task", error: "unauthenticated", reason: null });
    // The other node's app was really called, once per successful task.
    expect((await b.appCalls()).filter((call) => call.path === "/v1/tasks").length).toBeGreaterThanOrEqual(1);
  });
});

test("the Python watch resumes after a disconnect and yields only what changed meanwhile", async () => {
  const event = (type: string, key: string, value: unknown, revision: number) => `event: ${type}\ndata: ${JSON.stringify({ type, key, ...(type === "put" ? { value } : {}), revision })}\n\n`;
  let watches = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      if (new URL(request.url).pathname === "/readyz") return new Response("ok");
      watches++;
      const blocks =
        watches === 1
          ? [event("put", "a", 1, 4), event("put", "b", { x: 2 }, 4), 'event: synced\ndata: {"revision":4}\n\n']
          : [": a comment\n\n", event("put", "a", 1, 6), event("put", "c", 3, 6), 'event: synced\ndata: {"revision":6}\n\n', event("put", "c", 3, 6), event("put", "a", 5, 7)];
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const block of blocks) controller.enqueue(encoder.encode(block));
          if (watches === 1) controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  fakes.push(server);
  const run = await python("test_against_sidecar.py", [`http://127.0.0.1:${server.port}`, "-", "watch", "", "7"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.lines).toEqual([
    { type: "put", key: "a", value: 1, revision: 4, resumed: false },
    { type: "put", key: "b", value: { x: 2 }, revision: 4, resumed: false },
    { type: "synced", key: "", value: null, revision: 4, resumed: false },
    { retrying: "stream_ended" },
    { type: "put", key: "c", value: 3, revision: 6, resumed: false },
    { type: "delete", key: "b", value: null, revision: 6, resumed: false },
    { type: "synced", key: "", value: null, revision: 6, resumed: true },
    { type: "put", key: "a", value: 5, revision: 7, resumed: false },
  ]);
});

test("with connect_retry, a call due as a draining sidecar closes its port is held, then answered by the restarted one", async () => {
  const port = await freePort();
  const bodies: string[] = [];
  let restarted: ReturnType<typeof Bun.serve> | undefined;
  const old = Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(request) {
      bodies.push(`old ${await request.text()}`);
      // As a draining sidecar answers its app: the port closes in 200 ms (here after 150), and the
      // new sidecar listens 170 ms after that.
      setTimeout(() => void old.stop(true), 150);
      setTimeout(() => {
        restarted = Bun.serve({
          hostname: "127.0.0.1",
          port,
          async fetch(again) {
            bodies.push(`restarted ${await again.text()}`);
            return Response.json({ from: "restarted" });
          },
        });
        fakes.push(restarted);
      }, 320);
      return Response.json({ from: "old" }, { headers: { "x-nagent-draining": "200" } });
    },
  });
  fakes.push(old);
  const run = await python("test_against_sidecar.py", [`http://127.0.0.1:${port}`, "-", "invoke-twice", "execution", "/v1/tasks"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.lines).toEqual([
    { status: 200, data: { from: "old" } },
    { status: 200, data: { from: "restarted" } },
  ]);
  expect(bodies).toEqual(['old {"n": 1}', 'restarted {"n": 2}']);
});
