// Test support: a CONTRACT STUB of the control plane. An in-process Bun.serve that answers the
// registry, policy and authentication API exactly as the contract describes it (and a one-member
// /v1/cluster), so nagentctl's commands for those routes can be tested before the real server
// implements them. It is not the control plane: it keeps state in memory, validates only a few
// policy fields, and answers routes it does not know like the daemon skeleton does
// (404 "no route for METHOD PATH"). Tests against the real control plane replace these once the
// server side exists.
import type { ClusterStatus, NodeView, PolicyKind, PolicyView, SigningKeys } from "../../pkg/index.ts";

export interface StubRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Headers;
  readonly body: unknown;
}

export interface ContractStubOptions {
  readonly token?: string;
  /** Route groups to leave out, to play a control plane that predates them. */
  readonly without?: readonly ("registry" | "policies" | "auth")[];
}

export interface ContractStub {
  readonly url: string;
  readonly token: string;
  readonly requests: StubRequest[];
  /** The state the routes answer from; tests change it directly. */
  readonly state: {
    revision: number;
    cluster: ClusterStatus;
    nodes: Map<string, NodeView>;
    policies: Map<string, PolicyView & { history: { type: "put" | "delete"; revision: number; spec?: unknown }[] }>;
    keys: SigningKeys;
    tokens: Map<string, { id: string; kind: "jwt" | "api-key"; subject: string; roles: string[]; aud: string[]; exp: number; iat: number; revoked: boolean }>;
  };
  stop(): void;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const failure = (status: number, code: string, message: string, details: Record<string, unknown> = {}) =>
  json({ error: { code, message, ...details } }, status);

/** The few checks the stub makes of a policy, each naming the offending field's path as the real one must. */
function policyProblem(kind: PolicyKind, spec: unknown): { path: string; message: string } | undefined {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return { path: "", message: "a policy is a JSON object" };
  const s = spec as Record<string, unknown>;
  if (kind === "resilience") {
    if (s.timeoutMs !== undefined && (typeof s.timeoutMs !== "number" || s.timeoutMs <= 0)) return { path: "timeoutMs", message: "expected a positive number of milliseconds" };
    const retry = s.retry as Record<string, unknown> | undefined;
    if (retry?.maxAttempts !== undefined && (!Number.isInteger(retry.maxAttempts) || (retry.maxAttempts as number) < 1 || (retry.maxAttempts as number) > 10)) {
      return { path: "retry.maxAttempts", message: "expected an integer from 1 to 10" };
    }
  } else if (s.action !== "allow" && s.action !== "deny") {
    return { path: "action", message: 'expected "allow" or "deny"' };
  }
  return undefined;
}

export function startContractStub(options: ContractStubOptions = {}): ContractStub {
  const token = options.token ?? "stub-admin-token";
  const without = new Set(options.without ?? []);
  const requests: StubRequest[] = [];
  const created = Date.now() - 3_600_000;
  const state: ContractStub["state"] = {
    revision: 10,
    cluster: { store: "raft", leader: "stub-1", term: 2, revision: 10, members: [] },
    nodes: new Map(),
    policies: new Map(),
    keys: {
      current: "key-2",
      rotationIntervalSeconds: 86_400,
      nextRotationAt: new Date(created + 86_400_000).toISOString(),
      maxTokenTtlSeconds: 86_400,
      keys: [
        { kid: "key-2", alg: "EdDSA", createdAt: new Date(created).toISOString(), state: "current" },
        { kid: "key-1", alg: "EdDSA", createdAt: new Date(created - 86_400_000).toISOString(), state: "previous", retiresAt: new Date(created + 86_400_000).toISOString() },
      ],
    },
    tokens: new Map(),
  };
  let issued = 0;
  const bump = () => ++state.revision;

  function route(request: StubRequest, url: string): Response {
    const { method, path } = request;
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    const missing = () => failure(404, "not_found", `no route for ${method} ${path}`);
    if (path === "/healthz") return json({ status: "ok" });
    if (path === "/readyz") return json({ status: "ready" });
    if (path === "/.well-known/jwks.json" && !without.has("auth")) return json({ keys: state.keys.keys.map((k) => ({ kty: "OKP", crv: "Ed25519", kid: k.kid, alg: k.alg, x: "AAAA" })) });
    if (!path.startsWith("/v1/")) return missing();
    if (request.headers.get("authorization") !== `Bearer ${token}`) return failure(401, "unauthenticated", "invalid credential");

    if (path === "/v1/cluster" && method === "GET") {
      const members = state.cluster.members.length > 0 ? state.cluster.members : [{ id: "stub-1", url, role: "leader" as const, commitIndex: state.revision, appliedIndex: state.revision }];
      return json({ ...state.cluster, revision: state.revision, members });
    }

    if (parts[1] === "nodes" && !without.has("registry")) {
      const id = parts[2];
      if (id === undefined && method === "GET") {
        const domain = request.query.get("domain");
        const nodes = [...state.nodes.values()].filter((node) => domain === null || node.domains.includes(domain)).sort((a, b) => a.id.localeCompare(b.id));
        return json({ revision: state.revision, nodes });
      }
      if (id !== undefined && parts.length === 3) {
        if (method === "GET") return state.nodes.get(id) ? json(state.nodes.get(id)) : failure(404, "not_found", `no node ${id}`);
        if (method === "DELETE") {
          if (!state.nodes.delete(id)) return failure(404, "not_found", `no node ${id}`);
          return json({ id, revision: bump() });
        }
        if (method === "PUT") {
          const body = request.body as { address?: string; domains?: string[]; metadata?: Record<string, string>; ttlSeconds?: number; removeAfterSeconds?: number };
          if (typeof body?.address !== "string") return failure(400, "invalid_body", "field address: expected a URL", { path: "address" });
          const view: NodeView = {
            id,
            address: body.address,
            domains: body.domains ?? [],
            metadata: body.metadata ?? {},
            ttlSeconds: body.ttlSeconds ?? 10,
            removeAfterSeconds: body.removeAfterSeconds ?? 300,
            healthy: true,
            registeredAt: new Date().toISOString(),
            lastHeartbeat: null,
            configRevision: null,
            configAppliedAt: null,
            sync: { state: "unknown" },
            revision: bump(),
          };
          state.nodes.set(id, view);
          return json(view);
        }
      }
      if (id !== undefined && parts[3] === "heartbeat" && method === "POST") {
        const node = state.nodes.get(id);
        if (!node) return failure(404, "not_registered", `node ${id} is not registered: register it again`);
        const body = (request.body ?? {}) as { configRevision?: number };
        const configRevision = body.configRevision ?? node.configRevision;
        const behind = configRevision === null ? undefined : Math.max(0, state.revision - configRevision);
        state.nodes.set(id, {
          ...node,
          healthy: true,
          lastHeartbeat: new Date().toISOString(),
          configRevision,
          sync: behind === undefined ? { state: "unknown" } : behind === 0 ? { state: "synced" } : { state: "stale", behind },
        });
        return json({ id, healthy: true, ttlSeconds: node.ttlSeconds });
      }
      return missing();
    }

    if (parts[1] === "policies" && !without.has("policies")) {
      const kind = parts[2] as PolicyKind | undefined;
      const name = parts[3];
      if (kind === undefined && method === "GET") {
        const only = request.query.get("kind");
        const policies = [...state.policies.values()]
          .filter((p) => only === null || p.kind === only)
          .map(({ history: _, ...view }) => view)
          .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
        return json({ revision: state.revision, policies });
      }
      if (kind !== "resilience" && kind !== "authz") return failure(404, "not_found", `no policy kind ${kind}`);
      if (name === undefined) return missing();
      const key = `${kind}/${name}`;
      const current = state.policies.get(key);
      if (parts[4] === "history" && method === "GET") {
        if (!current) return failure(404, "not_found", `no policy ${key}`);
        return json({ kind, name, history: current.history });
      }
      if (parts.length !== 4) return missing();
      if (method === "GET") {
        if (!current || current.version === 0) return failure(404, "not_found", `no policy ${key}`);
        const { history: _, ...view } = current;
        return json(view);
      }
      const ifMatch = request.headers.get("if-match");
      const live = current && current.version > 0 ? current : undefined;
      if (ifMatch !== null && Number(ifMatch) !== (live?.modRevision ?? 0)) {
        return failure(412, "precondition_failed", `policy ${key} is at revision ${live?.modRevision ?? 0}`, { modRevision: live?.modRevision ?? 0 });
      }
      if (method === "PUT") {
        const problem = policyProblem(kind, request.body);
        if (problem) return failure(400, "invalid_policy", `invalid ${kind} policy: ${problem.path}: ${problem.message}`, { path: problem.path });
        const revision = bump();
        const history = [...(current?.history ?? []), { type: "put" as const, revision, spec: request.body }];
        state.policies.set(key, {
          kind,
          name,
          spec: request.body as PolicyView["spec"],
          createRevision: live?.createRevision ?? revision,
          modRevision: revision,
          version: (live?.version ?? 0) + 1,
          history,
        });
        return json({ kind, name, revision });
      }
      if (method === "DELETE") {
        if (!live) return failure(404, "not_found", `no policy ${key}`);
        const revision = bump();
        state.policies.set(key, { ...live, version: 0, history: [...live.history, { type: "delete", revision }] });
        return json({ kind, name, revision });
      }
      return missing();
    }

    if (parts[1] === "auth" && !without.has("auth")) {
      const body = (request.body ?? {}) as Record<string, unknown>;
      if (path === "/v1/auth/tokens" && method === "POST") {
        if (typeof body.subject !== "string" || body.subject === "") return failure(400, "invalid_body", "field subject: expected a string", { path: "subject" });
        if (!Array.isArray(body.roles)) return failure(400, "invalid_body", "field roles: expected a list", { path: "roles" });
        const ttl = typeof body.ttlSeconds === "number" ? body.ttlSeconds : 3600;
        if (ttl > state.keys.maxTokenTtlSeconds) return failure(400, "invalid_body", `field ttlSeconds: at most ${state.keys.maxTokenTtlSeconds}`, { path: "ttlSeconds" });
        const kind = body.kind === "api-key" ? "api-key" : "jwt";
        const id = `tok-${++issued}`;
        const text = kind === "jwt" ? `eyJhbGciOiJFZERTQSJ9.${id}.sig` : `nk_${id}`;
        const iat = Math.floor(Date.now() / 1000);
        const aud = body.audience === undefined ? [] : Array.isArray(body.audience) ? (body.audience as string[]) : [body.audience as string];
        state.tokens.set(text, { id, kind, subject: body.subject, roles: body.roles as string[], aud, exp: iat + ttl, iat, revoked: false });
        return json({ token: text, kind, id, expiresAt: new Date((iat + ttl) * 1000).toISOString() });
      }
      if (path === "/v1/auth/introspect" && method === "POST") {
        const found = state.tokens.get(String(body.token));
        if (!found || found.revoked) return json({ active: false });
        const { revoked: _, ...rest } = found;
        return json({ active: true, ...rest });
      }
      if (path === "/v1/auth/revoke" && method === "POST") {
        const found = state.tokens.get(String(body.token));
        if (!found) return failure(404, "not_found", "unknown token");
        found.revoked = true;
        bump();
        return json({ revoked: true, id: found.id, kind: found.kind });
      }
      if (path === "/v1/auth/keys" && method === "GET") return json(state.keys);
      if (path === "/v1/auth/keys/rotate" && method === "POST") return json({ current: "key-3", previous: state.keys.current });
      return missing();
    }
    return missing();
  }

  let self = "";
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(raw): Promise<Response> {
      const url = new URL(raw.url);
      const text = await raw.text();
      let body: unknown;
      try {
        body = text === "" ? undefined : (JSON.parse(text) as unknown);
      } catch {
        return failure(400, "malformed_json", "request body is not valid JSON");
      }
      const request: StubRequest = { method: raw.method, path: url.pathname, query: url.searchParams, headers: raw.headers, body };
      requests.push(request);
      return route(request, self);
    },
  });
  self = `http://127.0.0.1:${server.port}`;

  return {
    url: self,
    token,
    requests,
    state,
    stop: () => server.stop(true),
  };
}
