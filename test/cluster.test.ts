// `npm run cluster`: three members, three nodes and the aggregator come up as local processes;
// the README walkthrough works against them (a call across nodes, a config change arriving at
// another node, the leader killed while calls go on); Ctrl-C stops everything.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePortOffset, portFree, spawnService, until, waitUntilReady } from "../internal/testing/index.ts";

const root = join(import.meta.dir, "..");
const dataDir = mkdtempSync(join(tmpdir(), "nagent-cluster-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const PORTS = [8081, 8082, 8083, 15101, 15106, 15201, 15206, 15301, 15306, 3001, 3002, 3003, 9100];

test("npm run cluster: the walkthrough works, the leader can be killed, Ctrl-C leaves nothing running", async () => {
  const offset = await freePortOffset(PORTS);
  const url = (port: number) => `http://127.0.0.1:${port + offset}`;
  const service = spawnService({ name: "npm run cluster", command: [process.execPath, join(root, "scripts", "cluster.ts"), "--port-offset", String(offset), "--data-dir", dataDir] });
  try {
    await waitUntilReady(service, async () => service.output().includes("Nagent Mesh cluster is running"), { timeoutMs: 90_000 });
    const output = service.output();
    const token = /export TOKEN=(\S+)/.exec(output)?.[1]!;
    const caller = /export CALLER=(\S+)/.exec(output)?.[1]!;
    const pids = Object.fromEntries([...output.matchAll(/(cp-\d)\s+\S+\s+control-plane member \(pid (\d+)\)/g)].map((m) => [m[1]!, Number(m[2])]));
    expect(Object.keys(pids).sort()).toEqual(["cp-1", "cp-2", "cp-3"]);

    // A call from node-1's agent to coordination, which only node-2 serves.
    const call = async () =>
      fetch(`${url(15101)}/v1/invoke/coordination/v1/chat`, { method: "POST", headers: { authorization: `Bearer ${caller}` }, body: '{"message":"hello"}', signal: AbortSignal.timeout(5_000) });
    const first = await call();
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ agent: "node-2-agent", reply: "node-2-agent heard: hello" });

    // A config change written at one member arrives at node-3's sidecar.
    const put = await fetch(`${url(8081)}/v1/config/demo/greeting`, { method: "PUT", headers: { authorization: `Bearer ${token}` }, body: '"hi there"' });
    expect(put.status).toBe(200);
    await until(async () => (await fetch(`${url(15301)}/v1/config/demo/greeting`)).status === 200, { what: "the value at node-3" });
    expect(((await (await fetch(`${url(15301)}/v1/config/demo/greeting`)).json()) as { value: unknown }).value).toBe("hi there");

    // Kill the leader: calls go on, and a new leader is elected.
    const status = (await (await fetch(`${url(8081)}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })).json()) as { leader: string };
    const leader = status.leader as string;
    process.kill(pids[leader]!, "SIGKILL");
    const survivors = ["cp-1", "cp-2", "cp-3"].filter((id) => id !== leader).map((id) => url(8080 + Number(id.slice(3))));
    for (let i = 0; i < 20; i++) expect((await call()).status).toBe(200);
    await until(
      async () => {
        const answer = await fetch(`${survivors[0]}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        if (answer === undefined || !answer.ok) return false;
        const next = ((await answer.json()) as { leader: string | null }).leader;
        return next !== null && next !== leader;
      },
      { what: "a new leader", timeoutMs: 15_000 },
    );
    expect(service.output()).toContain(`${leader} exited`);

    process.kill(service.pid, "SIGINT");
    expect(await service.exited).toBe(0);
    for (const port of PORTS) expect(await portFree(port + offset)).toBe(true);
  } finally {
    await service.stop();
  }
}, 150_000);
