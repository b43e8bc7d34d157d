// The registry, policy and authentication APIs over HTTP, on both store backends.
import { until } from "../testing/index.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT, importJWK, type JWK } from "jose";
import { STORE_BACKENDS, type StoreUnderTest } from "../testing/stores.ts";
import type { Store } from "../store/index.ts";
import { SseReader } from "./sse-reader.ts";
import { startTestControlPlane, type TestControlPlane } from "./test-app.ts";

const ADMIN = "services-test-admin-token-0123456789";

const RESILIENCE = {
  target: { domain: "execution" },
  timeoutMs: 2000,
  retry: { maxAttempts: 3, backoff: { type: "exponential", initialMs: 50, maxMs: 500 }, retryOn: { statusCodes: [503] } },
  circuitBreaker: { trip: "consecutiveFailures >= 5 || (requests >= 20 && errorRate > 0.5)", openMs: 10_000 },
  fallback: { type: "static", status: 200, body: { answer: "later" } },
};

describe.each(STORE_BACKENDS)("control-plane services on the $name store", (backend) => {
  let underTest: StoreUnderTest;
  let store: Store;
  let cp: TestControlPlane;

  beforeAll(async () => {
    underTest = await backend.open();
    store = underTest.store;
    cp = await startTestControlPlane({ store, adminToken: ADMIN });
  }, 60_000);
  afterAll(async () => {
    await cp?.stop();
    await underTest?.cleanup();
  });

  function call(method: string, path: string, init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? ADMIN}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
      headers["content-type"] ??= "application/json";
    }
    return cp.daemon.app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  }
  const json = async (response: Response | Promise<Response>): Promise<any> => (await response).json();

  async function issue(subject: string, roles: string[], extra: Record<string, unknown> = {}): Promise<{ token: string; id: string; kind: string; expiresAt: string }> {
    const response = await call("POST", "/v1/auth/tokens", { body: { subject, roles, ...extra } });
    expect(response.status).toBe(201);
    return response.json() as never;
  }

  describe("registry", () => {
    test("register, list by domain, heartbeat with the applied revision, deregister", async () => {
      const put = await call("PUT", "/v1/nodes/node-a", { body: { address: "http://10.1.0.1:15006", domains: ["communication", "execution"], metadata: { zone: "z1" } } });
      expect(put.status).toBe(200);
      expect(await put.json()).toMatchObject({ id: "node-a", healthy: true, ttlSeconds: 10, removeAfterSeconds: 30, sync: { state: "unknown" } });
      await call("PUT", "/v1/nodes/node-b", { body: { address: "http://10.1.0.2:15006", domains: ["state"] } });

      const listed = await json(call("GET", "/v1/nodes?domain=execution"));
      expect(listed.nodes.map((node: { id: string }) => node.id)).toEqual(["node-a"]);
      expect(listed.revision).toBeGreaterThan(0);

      const revision = (await json(call("GET", "/v1/nodes"))).revision as number;
      await until(() => cp.sync.latestRevision >= revision);
      const beat = await call("POST", "/v1/nodes/node-a/heartbeat", { body: { configRevision: cp.sync.latestRevision, configAppliedAt: new Date().toISOString() } });
      expect(await beat.json()).toEqual({ id: "node-a", healthy: true, ttlSeconds: 10, revision: cp.sync.latestRevision, sync: { state: "synced", behind: 0 } });
      const node = await json(call("GET", "/v1/nodes/node-a"));
      expect(node).toMatchObject({ configRevision: cp.sync.latestRevision, lastHeartbeat: expect.any(String), sync: { state: "synced", behind: 0 } });
      // An empty heartbeat body is a plain keep-alive.
      expect((await call("POST", "/v1/nodes/node-b/heartbeat", { body: "" })).status).toBe(200);

      const metrics = await (await cp.daemon.app.request("/metrics")).text();
      expect(metrics).toMatch(/nagent_registry_heartbeats_total\{result="ok"\} [1-9]/);
      expect(metrics).toMatch(/nagent_registry_registrations_total [1-9]/);
      expect(await json(call("DELETE", "/v1/nodes/node-b"))).toMatchObject({ id: "node-b", revision: expect.any(Number) });
      expect((await call("GET", "/v1/nodes/node-b")).status).toBe(404);
      const gone = await call("POST", "/v1/nodes/node-b/heartbeat", { body: {} });
      expect(gone.status).toBe(404);
      expect((await json(gone)).error.code).toBe("not_registered");
    });

    test("bad registrations are refused with the field named, and change nothing", async () => {
      const cases: [string, unknown, string][] = [
        ["/v1/nodes/bad-1", { address: "ftp://x", domains: [] }, "field address"],
        ["/v1/nodes/bad-1", { address: "http://x:1", domains: ["Not A Domain"] }, "field domains[0]"],
        ["/v1/nodes/bad-1", { address: "http://x:1", domains: [], ttlSeconds: -1 }, "field ttlSeconds"],
        ["/v1/nodes/bad-1", { address: "http://x:1", domains: [], color: "red" }, "unknown field color"],
        ["/v1/nodes/bad-1", { address: "http://x:1", domains: "execution" }, "field domains"],
      ];
      for (const [path, body, message] of cases) {
        const response = await call("PUT", path, { body });
        expect(response.status).toBe(400);
        expect((await json(response)).error.message).toContain(message);
      }
      expect((await call("PUT", "/v1/nodes/bad%20id", { body: { address: "http://x:1", domains: [] } })).status).toBe(400);
      expect((await call("PUT", "/v1/nodes/bad-1", { body: "{nope" })).status).toBe(400);
      expect((await call("GET", "/v1/nodes/bad-1")).status).toBe(404);
    });

    test("a node that stops heartbeating turns unhealthy and then leaves; /v1/watch shows both", async () => {
      const watch = await call("GET", "/v1/watch?prefix=registry/");
      const events = new SseReader(watch.body!);
      expect((await events.next())?.event).toBe("ready");
      await call("PUT", "/v1/nodes/short-lived", { body: { address: "http://10.1.0.9:15006", domains: ["core"], ttlSeconds: 1, removeAfterSeconds: 2 } });
      const seen: string[] = [];
      while (!seen.includes("delete registry/nodes/short-lived")) {
        const event = await events.next();
        if (!event) throw new Error("watch ended");
        if (event.event === "put" || event.event === "delete") seen.push(`${event.event} ${(JSON.parse(event.data) as { key: string }).key}`);
      }
      expect(seen).toEqual([
        "put registry/nodes/short-lived",
        "put registry/health/short-lived",
        "delete registry/health/short-lived",
        "delete registry/nodes/short-lived",
      ]);
      await events.cancel();
    });
  });

  describe("policies", () => {
    test("a valid policy is stored as written, versioned, listed, with history; delete removes it", async () => {
      const put = await call("PUT", "/v1/policies/resilience/execution-default", { body: RESILIENCE });
      expect(put.status).toBe(200);
      const first = await json(put);
      // (Bun's toMatchObject writes its matchers into the object it checks: read what we need first.)
      const firstRevision = first.revision as number;
      expect(first).toMatchObject({ kind: "resilience", name: "execution-default", revision: expect.any(Number) });
      const changed = { ...RESILIENCE, timeoutMs: 3000 };
      await call("PUT", "/v1/policies/resilience/execution-default", { body: changed });
      const got = await json(call("GET", "/v1/policies/resilience/execution-default"));
      expect(got).toMatchObject({ kind: "resilience", name: "execution-default", spec: changed, version: 2 });
      const history = await json(call("GET", "/v1/policies/resilience/execution-default/history"));
      expect(history.history.map((entry: { spec: { timeoutMs: number } }) => entry.spec.timeoutMs)).toEqual([2000, 3000]);

      await call("PUT", "/v1/policies/authz/agents", { body: { action: "allow", rules: [{ roles: ["agent"], domains: ["execution"], methods: ["POST"], paths: ["/v1/run"] }] } });
      expect((await json(call("GET", "/v1/policies"))).policies.map((p: { kind: string; name: string }) => `${p.kind}/${p.name}`)).toEqual([
        "authz/agents",
        "resilience/execution-default",
      ]);
      expect((await json(call("GET", "/v1/policies?kind=authz"))).policies).toHaveLength(1);
      expect((await json(call("GET", "/v1/policies/resilience"))).policies).toHaveLength(1);

      const stale = await call("PUT", "/v1/policies/resilience/execution-default", { body: RESILIENCE, headers: { "if-match": String(firstRevision) } });
      expect(stale.status).toBe(412);
      expect((await call("DELETE", "/v1/policies/authz/agents")).status).toBe(200);
      expect((await call("GET", "/v1/policies/authz/agents")).status).toBe(404);
    });

    test("YAML bodies are accepted", async () => {
      const yaml = "action: deny\nrules:\n  - subjects: [intruder]\n";
      const put = await call("PUT", "/v1/policies/authz/no-intruder", { body: yaml, headers: { "content-type": "application/yaml" } });
      expect(put.status).toBe(200);
      expect((await json(call("GET", "/v1/policies/authz/no-intruder"))).spec).toEqual({ action: "deny", rules: [{ subjects: ["intruder"] }] });
      const broken = await call("PUT", "/v1/policies/authz/no-intruder", { body: "action: [deny\n", headers: { "content-type": "application/yaml" } });
      expect(broken.status).toBe(400);
      expect((await json(broken)).error.code).toBe("malformed_yaml");
    });

    test("invalid policies answer 400 with the field path, and nothing is stored", async () => {
      await call("PUT", "/v1/policies/resilience/keep", { body: RESILIENCE });
      const cases: [unknown, string][] = [
        [{ ...RESILIENCE, timeoutMs: "2s" }, "timeoutMs"],
        [{ ...RESILIENCE, timeoutMs: -5 }, "timeoutMs"],
        [{ ...RESILIENCE, retries: 3 }, "retries"],
        [{ ...RESILIENCE, retry: { ...RESILIENCE.retry, backoff: { type: "exponential", initialMs: 50, jiter: "full" } } }, "retry.backoff.jiter"],
        [{ ...RESILIENCE, circuitBreaker: { trip: "consecutiveFailures >=" } }, "circuitBreaker.trip"],
        [{ ...RESILIENCE, circuitBreaker: { trip: "failurs > 3" } }, "circuitBreaker.trip"],
        [{ ...RESILIENCE, target: undefined }, "target"],
      ];
      for (const [body, path] of cases) {
        for (const name of ["keep", "never-stored"]) {
          const response = await call("PUT", `/v1/policies/resilience/${name}`, { body });
          expect(response.status).toBe(400);
          const error = (await json(response)).error;
          expect(error.code).toBe("invalid_policy");
          expect(error.path).toBe(path);
        }
      }
      expect((await json(call("GET", "/v1/policies/resilience/keep"))).version).toBe(1);
      expect((await call("GET", "/v1/policies/resilience/never-stored")).status).toBe(404);
      const authz = await call("PUT", "/v1/policies/authz/bad", { body: { action: "allow", rules: [{ domains: ["execution"] }] } });
      expect(authz.status).toBe(400);
      expect((await call("PUT", "/v1/policies/routing/x", { body: {} })).status).toBe(404);
      expect((await call("PUT", "/v1/policies/authz/bad name", { body: {} })).status).toBe(400);
    });
  });

  describe("authentication authority", () => {
    test("a node credential may read, watch and manage its own node, and nothing else", async () => {
      const node = (await issue("node-n1", ["node"])).token;
      expect((await call("PUT", "/v1/nodes/node-n1", { token: node, body: { address: "http://10.2.0.1:15006", domains: ["core"] } })).status).toBe(200);
      expect((await call("POST", "/v1/nodes/node-n1/heartbeat", { token: node, body: {} })).status).toBe(200);
      expect((await call("GET", "/v1/nodes", { token: node })).status).toBe(200);
      expect((await call("GET", "/v1/config?prefix=", { token: node })).status).toBe(200);
      expect((await call("GET", "/v1/policies", { token: node })).status).toBe(200);
      const watch = await call("GET", "/v1/watch", { token: node });
      expect(watch.status).toBe(200);
      await watch.body?.cancel();

      expect((await call("PUT", "/v1/nodes/node-n2", { token: node, body: { address: "http://10.2.0.2:15006", domains: ["core"] } })).status).toBe(403);
      expect((await call("POST", "/v1/nodes/node-n2/heartbeat", { token: node, body: {} })).status).toBe(403);
      expect((await call("PUT", "/v1/config/x", { token: node, body: 1 })).status).toBe(403);
      expect((await call("PUT", "/v1/policies/authz/x", { token: node, body: { action: "deny", rules: [{ subjects: ["a"] }] } })).status).toBe(403);
      expect((await call("POST", "/v1/auth/tokens", { token: node, body: { subject: "me", roles: ["admin"] } })).status).toBe(403);
      expect((await call("DELETE", "/v1/nodes/node-n1", { token: node })).status).toBe(200);

      const agent = (await issue("agent-1", ["agent"])).token;
      expect((await call("GET", "/v1/config?prefix=", { token: agent })).status).toBe(403);
    });

    test("issue, introspect, revoke: a revoked token is refused", async () => {
      const issued = await issue("agent-2", ["agent", "node"], { ttlSeconds: 300 });
      expect(issued.kind).toBe("jwt");
      expect(Date.parse(issued.expiresAt) - Date.now()).toBeGreaterThan(290_000);
      expect(await json(call("POST", "/v1/auth/introspect", { body: { token: issued.token } }))).toMatchObject({
        active: true,
        kind: "jwt",
        id: issued.id,
        subject: "agent-2",
        roles: ["agent", "node"],
        aud: ["nagent"],
        exp: Math.floor(Date.parse(issued.expiresAt) / 1000),
      });
      expect((await call("GET", "/v1/nodes", { token: issued.token })).status).toBe(200);
      expect(await json(call("POST", "/v1/auth/revoke", { body: { token: issued.token } }))).toEqual({ revoked: true, id: issued.id, kind: "jwt" });
      expect(await json(call("POST", "/v1/auth/introspect", { body: { token: issued.token } }))).toEqual({ active: false });
      await until(async () => (await call("GET", "/v1/nodes", { token: issued.token })).status === 401);
      const refused = await json(call("GET", "/v1/nodes", { token: issued.token }));
      expect(refused.error.reason).toBe("revoked");
    });

    test("API keys work like tokens and are revoked the same way", async () => {
      const key = await issue("ci-bot", ["node"], { kind: "api-key", ttlSeconds: 3600 });
      expect(key.token).toStartWith("nak_");
      expect(await json(call("POST", "/v1/auth/introspect", { body: { token: key.token } }))).toMatchObject({ active: true, kind: "api-key", subject: "ci-bot" });
      await until(async () => (await call("GET", "/v1/nodes", { token: key.token })).status === 200);
      await call("POST", "/v1/auth/revoke", { body: { token: key.token } });
      expect(await json(call("POST", "/v1/auth/introspect", { body: { token: key.token } }))).toEqual({ active: false });
      await until(async () => (await call("GET", "/v1/nodes", { token: key.token })).status === 401);
    });

    test("forged, expired, wrong-audience and alg=none tokens are refused, and never logged", async () => {
      const good = await issue("agent-3", ["node"]);
      const [head, body] = good.token.split(".");
      const forged = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), roles: ["admin"] })).toString("base64url")}.${good.token.split(".")[2]}`;
      const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${body}.`;
      const wrongAudience = (await issue("agent-3", ["node"], { audience: "execution" })).token;
      const current = JSON.parse((await store.get("system/auth/current"))!.value) as { kid: string };
      const signing = JSON.parse((await store.get(`system/auth/signing/${current.kid}`))!.value) as { privateJwk: JWK };
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ roles: ["node"] })
        .setProtectedHeader({ alg: "EdDSA", kid: current.kid })
        .setIssuer("nagent")
        .setSubject("agent-3")
        .setAudience("nagent")
        .setJti("expired-1")
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(await importJWK(signing.privateJwk, "EdDSA"));

      for (const [token, reason] of [
        [forged, "bad_signature"],
        [none, "unsupported_algorithm"],
        [wrongAudience, "wrong_audience"],
        [expired, "expired"],
        ["garbage", "malformed"],
      ] as const) {
        const response = await call("GET", "/v1/nodes", { token });
        expect(response.status).toBe(401);
        expect((await json(response)).error.reason).toBe(reason);
        // Introspection without an audience accepts any; asked for the mesh's, it refuses the domain-only token too.
        expect(await json(call("POST", "/v1/auth/introspect", { body: { token, audience: "nagent" } }))).toEqual({ active: false });
      }
      const logged = JSON.stringify(cp.lines());
      expect(logged).toContain("refused a request with an invalid credential");
      for (const secret of [forged, expired, wrongAudience, ADMIN]) expect(logged).not.toContain(secret);
      expect((await call("POST", "/v1/auth/revoke", { body: { token: forged } })).status).toBe(400);
    });

    test("rotation: the JWKS publishes both keys, old tokens stay valid, new ones use the new key", async () => {
      const before = await issue("old-holder", ["node"]);
      const keys = await json(call("GET", "/v1/auth/keys"));
      const rotated = await json(call("POST", "/v1/auth/keys/rotate"));
      expect(rotated.previous).toBe(keys.current);
      await until(() => cp.authority.keyStatus().current === rotated.current);
      const after = await issue("new-holder", ["node"]);
      const kid = (token: string) => (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
      expect(kid(before.token)).toBe(keys.current);
      expect(kid(after.token)).toBe(rotated.current);
      expect((await call("GET", "/v1/nodes", { token: before.token })).status).toBe(200);
      expect((await call("GET", "/v1/nodes", { token: after.token })).status).toBe(200);

      const jwks = await cp.daemon.app.request("/.well-known/jwks.json");
      expect(jwks.status).toBe(200);
      expect(jwks.headers.get("cache-control")).toContain("max-age");
      const published = ((await jwks.json()) as { keys: JWK[] }).keys.map((key) => key.kid);
      expect(published).toContain(keys.current);
      expect(published).toContain(rotated.current);
      const status = await json(call("GET", "/v1/auth/keys"));
      expect(status.keys.find((key: { kid: string }) => key.kid === keys.current)).toMatchObject({ state: "previous", retiresAt: expect.any(String) });
    });

    test("no watch prefix reaches the private keys, API-key hashes or heartbeat reports under system/", async () => {
      for (const prefix of ["", "s", "sys", "syst"]) {
        const response = await call("GET", `/v1/watch?prefix=${prefix}`);
        expect(response.status).toBe(200);
        const events = new SseReader(response.body!);
        expect((await events.next())?.event).toBe("ready");
        await call("POST", "/v1/auth/keys/rotate");
        await issue("watcher", ["node"], { kind: "api-key" });
        const marker = `config/watch-marker-${prefix || "all"}`;
        await call("PUT", `/v1/${marker}`, { body: 1 });
        const keys: string[] = [];
        // With "" the marker ends the wait; the other prefixes must stay silent until the timeout.
        for (;;) {
          const event = await events.next(prefix === "" ? 10_000 : 800).catch(() => undefined);
          if (!event) break;
          if (event.event !== "put" && event.event !== "delete") continue;
          const key = (JSON.parse(event.data) as { key: string }).key;
          keys.push(key);
          if (key === marker) break;
        }
        if (prefix === "") expect(keys).toContain(marker);
        await events.cancel();
        expect(keys.filter((key) => key.startsWith("system/"))).toEqual([]);
      }
    });

    test("/v1/keys lists every visible key at one revision, and nothing under system/", async () => {
      await call("PUT", "/v1/config/keys-test/a", { body: { n: 1 } });
      const node = (await issue("node-k", ["node"])).token;
      const all = await json(call("GET", "/v1/keys?prefix=", { token: node }));
      expect(all.revision).toBeGreaterThan(0);
      const keys = all.items.map((item: { key: string }) => item.key) as string[];
      expect(keys).toContain("config/keys-test/a");
      expect(keys.some((key) => key.startsWith("auth/keys/"))).toBe(true);
      expect(keys.some((key) => key.startsWith("system/"))).toBe(false);
      expect(all.items.find((item: { key: string }) => item.key === "config/keys-test/a")).toMatchObject({ value: { n: 1 }, version: 1 });
      expect((await json(call("GET", "/v1/keys?prefix=s"))).items).toEqual([]);
      expect((await call("GET", "/v1/keys?prefix=system/")).status).toBe(403);
      expect((await call("GET", "/v1/keys?prefix=config/keys-test/", { token: (await issue("agent-k", ["agent"])).token })).status).toBe(403);
    });

    test("bad token requests are refused", async () => {
      expect((await call("POST", "/v1/auth/tokens", { body: { subject: "x", roles: ["r"], ttlSeconds: 999_999 } })).status).toBe(400);
      expect((await call("POST", "/v1/auth/tokens", { body: { subject: "x", roles: "r" } })).status).toBe(400);
      expect((await call("POST", "/v1/auth/tokens", { body: { subject: "x", roles: [], scope: "all" } })).status).toBe(400);
      expect((await call("POST", "/v1/auth/introspect", { body: "{" })).status).toBe(400);
    });
  });
});
