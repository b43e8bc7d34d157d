// The client against a real control-plane process: the config and cluster API, typed errors, and
// failover past a dead, a hanging and a 503-answering endpoint.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startControlPlane, type ControlPlaneProcess } from "../../internal/testing/control-plane-process.ts";
import { freePort } from "../../internal/testing/index.ts";
import {
  ConflictError,
  ControlPlaneClient,
  InvalidRequestError,
  NotFoundError,
  PreconditionFailedError,
  UnauthenticatedError,
  UnavailableError,
} from "../index.ts";

let cp: ControlPlaneProcess;
let client: ControlPlaneClient;
let deadUrl: string;
const stubs: ReturnType<typeof Bun.serve>[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  client = new ControlPlaneClient({ endpoints: [cp.url], token: cp.token, timeoutMs: 3000 });
  deadUrl = `http://127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  for (const stub of stubs) stub.stop(true);
  await cp.destroy();
});

function stub(handler: (request: Request) => Response | Promise<Response>): string {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
  stubs.push(server);
  return `http://127.0.0.1:${server.port}`;
}

describe("config", () => {
  test("put, get, list, history, delete, with compare-and-set", async () => {
    const put = await client.putConfig("sdk/a", { n: 1 });
    expect(put.key).toBe("sdk/a");
    const entry = await client.getConfig<{ n: number }>("sdk/a");
    expect(entry).toEqual({ key: "sdk/a", value: { n: 1 }, createRevision: put.revision, modRevision: put.revision, version: 1 });
    expect((await client.getConfig("sdk/a", { consistency: "serializable" })).value).toEqual({ n: 1 });

    const second = await client.putConfig("sdk/a", { n: 2 }, { ifMatch: put.revision });
    const stale = await client.putConfig("sdk/a", { n: 3 }, { ifMatch: put.revision }).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(PreconditionFailedError);
    expect(stale).toMatchObject({ status: 412, code: "precondition_failed", modRevision: second.revision, endpoint: cp.url });

    await client.putConfig("sdk/b:c@d", "text");
    expect((await client.getConfig("sdk/b:c@d")).value).toBe("text");
    const listed = await client.listConfig("sdk/");
    expect(listed.items.map((item) => item.key)).toEqual(["sdk/a", "sdk/b:c@d"]);
    expect(listed.revision).toBeGreaterThanOrEqual(second.revision);

    const history = await client.configHistory("sdk/a");
    expect(history.history.map((h) => h.value)).toEqual([{ n: 1 }, { n: 2 }]);
    await client.deleteConfig("sdk/a", { ifMatch: second.revision });
    const gone = await client.getConfig("sdk/a").catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(NotFoundError);
    expect(gone).toMatchObject({ status: 404, code: "not_found", endpoint: cp.url });
  });

  test("typed errors: invalid key, wrong credential", async () => {
    const invalid = await client.putConfig("bad//key", 1).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid).toMatchObject({ code: "invalid_key" });
    const anonymous = new ControlPlaneClient({ endpoints: [cp.url], token: "wrong" });
    const refused = await anonymous.getConfig("x").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UnauthenticatedError);
    expect(refused).toMatchObject({ status: 401, code: "unauthenticated" });
  });
});

describe("cluster", () => {
  test("status, and membership errors", async () => {
    const status = await client.clusterStatus();
    expect(status).toMatchObject({ store: "raft", leader: "cp-1" });
    expect(status.members.map((m) => m.id)).toEqual(["cp-1"]);
    expect(await client.addMember("cp-1", cp.url).catch((error: unknown) => error)).toBeInstanceOf(ConflictError);
    const unknown = await client.removeMember("cp-9").catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown).toMatchObject({ code: "member_not_found" });
    const transfer = await client.transferLeadership().catch((error: unknown) => error);
    expect(transfer).toBeInstanceOf(ConflictError);
    expect(transfer).toMatchObject({ code: "membership_change_refused" });
  });
});

describe("failover", () => {
  test("a dead first endpoint is skipped, and the one that answered is remembered", async () => {
    const seen: string[] = [];
    const failover = new ControlPlaneClient({
      endpoints: [deadUrl, cp.url],
      token: cp.token,
      fetch: (input, init) => {
        seen.push(new URL(input).origin);
        return fetch(input, init);
      },
    });
    await failover.putConfig("sdk/failover", 1);
    expect(seen).toEqual([deadUrl, cp.url]);
    expect(failover.currentEndpoint).toBe(cp.url);
    await failover.getConfig("sdk/failover");
    expect(seen).toEqual([deadUrl, cp.url, cp.url]);
  });

  test("a hanging endpoint (timeout) and a 503 are failed over; a 404 is not", async () => {
    const hanging = stub(() => new Promise<Response>(() => {}));
    const unavailable = stub(() => Response.json({ error: { code: "starting", message: "waiting for its store" } }, { status: 503 }));
    const failover = new ControlPlaneClient({ endpoints: [hanging, unavailable, cp.url], token: cp.token, timeoutMs: 300 });
    expect((await failover.clusterStatus()).leader).toBe("cp-1");
    const notFound = stub(() => Response.json({ error: { code: "not_found", message: "no config key x" } }, { status: 404 }));
    const noFailover = new ControlPlaneClient({ endpoints: [notFound, cp.url], token: cp.token });
    expect(await noFailover.getConfig("sdk/failover").catch((error: unknown) => error)).toBeInstanceOf(NotFoundError);
  });

  test("every endpoint failing is an UnavailableError naming each failure", async () => {
    const unavailable = stub(() => Response.json({ error: { code: "unavailable", message: "no leader" } }, { status: 503 }));
    const down = new ControlPlaneClient({ endpoints: [deadUrl, unavailable], token: cp.token, timeoutMs: 1000 });
    const error = await down.getConfig("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    const failures = (error as UnavailableError).failures;
    expect(failures.map((f) => f.endpoint)).toEqual([deadUrl, unavailable]);
    expect(failures[0]!.reason).toBe("connection refused");
    expect(failures[1]).toMatchObject({ status: 503, reason: "503 unavailable: no leader" });
  });

  test("the caller's abort is not failed over", async () => {
    const hanging = stub(() => new Promise<Response>(() => {}));
    const slow = new ControlPlaneClient({ endpoints: [hanging, cp.url], token: cp.token, timeoutMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 100);
    const error = await slow.getConfig("x", { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("stop");
  });
});

describe("registry, policies and the authority", () => {
  test("register, heartbeat, list, get, deregister; a heartbeat after removal is not_registered", async () => {
    const view = await client.registerNode("sdk-node", { address: "http://127.0.0.1:15006", domains: ["execution"], metadata: { zone: "a" } });
    expect(view).toMatchObject({ id: "sdk-node", address: "http://127.0.0.1:15006", domains: ["execution"], metadata: { zone: "a" }, healthy: true });
    const listed = await client.listNodes({ domain: "execution" });
    expect(listed.nodes.map((n) => n.id)).toContain("sdk-node");
    expect(await client.heartbeat("sdk-node", { configRevision: listed.revision })).toMatchObject({ id: "sdk-node", healthy: true });
    expect((await client.getNode("sdk-node")).configRevision).toBe(listed.revision);
    expect((await client.deregisterNode("sdk-node")).id).toBe("sdk-node");
    const gone = await client.heartbeat("sdk-node").catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(NotFoundError);
    expect(gone).toMatchObject({ code: "not_registered" });
  });

  test("policies: put with compare-and-set, get as submitted, an invalid one names its field", async () => {
    const spec = { target: { domain: "execution" }, retry: { maxAttempts: 3 } };
    const written = await client.putPolicy("resilience", "sdk", spec, { ifMatch: 0 });
    const stored = await client.getPolicy("resilience", "sdk");
    expect(stored).toMatchObject({ kind: "resilience", name: "sdk", spec, modRevision: written.revision });
    expect(await client.putPolicy("resilience", "sdk", spec, { ifMatch: 0 }).catch((e: unknown) => e)).toBeInstanceOf(PreconditionFailedError);
    const invalid = await client.putPolicy("resilience", "sdk", { target: { domain: "execution" }, retry: { maxAttempts: 99 } }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid).toMatchObject({ code: "invalid_policy", path: "retry.maxAttempts" });
    expect((await client.listPolicies({ kind: "resilience" })).policies.map((p) => p.name)).toContain("sdk");
    expect((await client.policyHistory("resilience", "sdk")).history).toHaveLength(1);
    await client.deletePolicy("resilience", "sdk");
  });

  test("tokens: issue, introspect, revoke; keys and the JWKS", async () => {
    const issued = await client.issueToken({ subject: "svc", roles: ["node"], audience: "mesh", ttlSeconds: 600 });
    expect(issued.kind).toBe("jwt");
    expect(await client.introspectToken(issued.token)).toMatchObject({ active: true, subject: "svc", roles: ["node"], aud: ["mesh"] });
    expect(await client.revokeToken(issued.token)).toMatchObject({ revoked: true, id: issued.id, kind: "jwt" });
    expect(await client.introspectToken(issued.token)).toEqual({ active: false });
    const keys = await client.signingKeys();
    expect(keys.keys.map((k) => k.kid)).toContain(keys.current);
    const anonymous = new ControlPlaneClient({ endpoints: [cp.url] });
    expect((await anonymous.jwks()).keys.map((k) => k.kid)).toContain(keys.current);
  });
});
