// The registry and the authentication authority across a 3-member control plane of real
// processes: whatever one member does, every member sees, including after the leader is killed.
import { until } from "../internal/testing/index.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeaders, startCluster, type Cluster, type ClusterMember } from "./support/cluster.ts";

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
  await cluster.waitForLeader();
  // Ready means: leader known, caught up, and the authority has its signing key.
  for (const member of cluster.members) {
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${member.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`${member.id} did not become ready`);
      await Bun.sleep(100);
    }
  }
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 30_000);

async function call(member: ClusterMember, method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers = token ? { authorization: `Bearer ${token}`, "content-type": "application/json" } : authHeaders({ "content-type": "application/json" });
  return fetch(`${member.url}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
}

const member = (index: number) => cluster.members[index]!;

describe("authentication authority across members", () => {
  test("one signing key for the cluster; a token issued by one member is valid on all; revoked on one, inactive on every member", async () => {
    const jwks = await Promise.all(cluster.members.map(async (m) => ((await (await fetch(`${m.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)));
    expect(jwks[0]).toHaveLength(1);
    expect(jwks[1]).toEqual(jwks[0]!);
    expect(jwks[2]).toEqual(jwks[0]!);

    const issued = (await (await call(member(0), "POST", "/v1/auth/tokens", { subject: "node-x", roles: ["node"], ttlSeconds: 600 })).json()) as { token: string; id: string };
    for (const m of cluster.members) {
      expect((await call(m, "GET", "/v1/nodes", undefined, issued.token)).status).toBe(200);
      expect(((await (await call(m, "POST", "/v1/auth/introspect", { token: issued.token })).json()) as { active: boolean }).active).toBe(true);
    }
    expect((await call(member(1), "POST", "/v1/auth/revoke", { token: issued.token })).status).toBe(200);
    for (const m of cluster.members) {
      // At once: introspection reads the store linearizably.
      expect(await (await call(m, "POST", "/v1/auth/introspect", { token: issued.token })).json()).toEqual({ active: false });
    }
    for (const m of cluster.members) await until(async () => (await call(m, "GET", "/v1/nodes", undefined, issued.token)).status === 401);
  });

  test("a rotation on one member is used by all; tokens signed before stay valid everywhere", async () => {
    const before = (await (await call(member(2), "POST", "/v1/auth/tokens", { subject: "node-y", roles: ["node"] })).json()) as { token: string };
    const rotated = (await (await call(member(0), "POST", "/v1/auth/keys/rotate")).json()) as { current: string; previous: string };
    for (const m of cluster.members) {
      await until(async () => (((await (await call(m, "GET", "/v1/auth/keys")).json()) as { current: string }).current === rotated.current));
    }
    const after = (await (await call(member(2), "POST", "/v1/auth/tokens", { subject: "node-y", roles: ["node"] })).json()) as { token: string };
    const kid = (token: string) => (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
    expect(kid(after.token)).toBe(rotated.current);
    for (const m of cluster.members) {
      expect((await call(m, "GET", "/v1/nodes", undefined, before.token)).status).toBe(200);
      expect((await call(m, "GET", "/v1/nodes", undefined, after.token)).status).toBe(200);
    }
  });
});

describe("registry across members", () => {
  test("registered on one member, heartbeat on another, expiry seen on a third; survives a leader kill", async () => {
    const put = await call(member(0), "PUT", "/v1/nodes/edge-1", { address: "http://10.9.0.1:15006", domains: ["execution"], ttlSeconds: 2, removeAfterSeconds: 60 });
    expect(put.status).toBe(200);
    const healthyOn = async (m: ClusterMember) => ((await (await call(m, "GET", "/v1/nodes/edge-1")).json()) as { healthy: boolean }).healthy;

    // Heartbeats through member 1 keep it healthy past its TTL, while the leader is killed.
    const leaderId = await cluster.waitForLeader();
    const leader = cluster.members.find((m) => m.id === leaderId)!;
    const others = cluster.members.filter((m) => m !== leader);
    const stopAt = Date.now() + 5_000;
    let killed = false;
    while (Date.now() < stopAt) {
      const beat = await call(others[0]!, "POST", "/v1/nodes/edge-1/heartbeat", { configRevision: 1 }).catch(() => undefined);
      if (!killed) {
        await cluster.kill(leader);
        killed = true;
      }
      if (beat && beat.status !== 200 && beat.status !== 503) throw new Error(`heartbeat answered ${beat.status}`);
      await Bun.sleep(400);
    }
    await cluster.waitForLeader();
    await until(async () => (await call(others[0]!, "POST", "/v1/nodes/edge-1/heartbeat", {})).status === 200);
    expect(await healthyOn(others[1]!)).toBe(true);

    // No more heartbeats: unhealthy everywhere that is up, and back when it beats again.
    await until(async () => !(await healthyOn(others[1]!)));
    await cluster.start(leader);
    await until(async () => (await call(leader, "GET", "/v1/nodes/edge-1")).status === 200 && !(await healthyOn(leader)));
    expect((await call(others[1]!, "POST", "/v1/nodes/edge-1/heartbeat", {})).status).toBe(200);
    for (const m of cluster.members) expect(await healthyOn(m)).toBe(true);
  }, 60_000);
});
