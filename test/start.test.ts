// `npm start`: the embedded default comes up, every process answers, and Ctrl-C stops them all.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePortOffset, portFree, spawnService, waitUntilReady } from "../internal/testing/index.ts";

const root = join(import.meta.dir, "..");
const dataDir = mkdtempSync(join(tmpdir(), "nagent-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const DEFAULT_PORTS = [8080, 15006, 15001, 3000, 9100];

test("npm start brings up the control plane, sidecar, demo agent and aggregator; SIGINT stops them", async () => {
  const offset = await freePortOffset(DEFAULT_PORTS);
  const service = spawnService({
    name: "npm start",
    command: [process.execPath, join(root, "scripts", "start.ts"), "--port-offset", String(offset), "--data-dir", dataDir],
  });
  try {
    await waitUntilReady(service, async () => service.output().includes("Nagent Mesh is running"), { timeoutMs: 60_000 });
    const output = service.output();
    const urls = [8080, 15001, 15006, 3000, 9100].map((port) => `http://127.0.0.1:${port + offset}`);
    for (const url of urls) {
      expect(output).toContain(url);
      const response = await fetch(`${url}/healthz`);
      expect(response.status).toBe(200);
    }
    for (const url of [urls[0], urls[1], urls[4]]) expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // The call the banner shows: the demo agent, through the sidecar, with the caller credential it printed.
    const caller = /export CALLER=(\S+)/.exec(output)?.[1];
    expect(caller).toBeDefined();
    const chat = await fetch(`${urls[1]}/v1/invoke/execution/v1/chat`, { method: "POST", headers: { authorization: `Bearer ${caller}` }, body: '{"message":"hello"}' });
    expect(chat.status).toBe(200);
    expect(await chat.json()).toEqual({ agent: "demo-agent", reply: "demo-agent heard: hello" });
    expect((await fetch(`${urls[1]}/v1/invoke/execution/v1/chat`, { method: "POST", body: "{}" })).status).toBe(401);

    process.kill(service.pid, "SIGINT");
    expect(await service.exited).toBe(0);
    for (const port of DEFAULT_PORTS) expect(await portFree(port + offset)).toBe(true);
  } finally {
    await service.stop();
  }
}, 90_000);
