// The SDK is for Node.js as well as Bun: bundled by esbuild for a neutral platform (which fails on
// any node: or bun: import) and run by Node against a real control plane.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlaneProcess } from "../internal/testing/control-plane-process.ts";
import { freePort } from "../internal/testing/index.ts";

let cp: ControlPlaneProcess;
let dir: string;

beforeAll(async () => {
  cp = await startControlPlane();
  dir = mkdtempSync(join(tmpdir(), "nagent-sdk-node-"));
});
afterAll(async () => {
  await cp.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const SCRIPT = `
import { ControlPlaneClient, NotFoundError } from "./sdk.mjs";
const [url, token, dead] = process.argv.slice(2);
const client = new ControlPlaneClient({ endpoints: [dead, url], token, timeoutMs: 2000 });
const out = {};
const put = await client.putConfig("node/key", { from: "node" });
out.value = (await client.getConfig("node/key")).value;
out.current = client.currentEndpoint === url;
out.notFound = await client.getConfig("node/missing").then(() => false, (e) => e instanceof NotFoundError && e.status === 404);
const events = [];
await new Promise((resolve) => {
  const watch = client.watch("config/node/", {
    fromRevision: put.revision,
    onEvent: (event) => { events.push(event.key); watch.close(); },
  });
  watch.done.then(resolve);
});
out.events = events;
console.log(JSON.stringify(out));
`;

test("bundles for a neutral platform and works on Node.js", async () => {
  const bundle = await build({ entryPoints: [join(import.meta.dir, "index.ts")], bundle: true, platform: "neutral", format: "esm", write: false, logLevel: "silent" });
  writeFileSync(join(dir, "sdk.mjs"), bundle.outputFiles[0]!.text);
  writeFileSync(join(dir, "script.mjs"), SCRIPT);
  const dead = `http://127.0.0.1:${await freePort()}`;
  const node = Bun.spawn(["node", join(dir, "script.mjs"), cp.url, cp.token, dead], { stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([node.exited, new Response(node.stdout).text(), new Response(node.stderr).text()]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual({ value: { from: "node" }, current: true, notFound: true, events: ["config/node/key"] });
}, 30_000);
