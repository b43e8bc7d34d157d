import { describe, expect, test } from "bun:test";
import { seededRandom } from "../testing/seeded-random.ts";
import type { AuthzPolicy } from "./authz.ts";
import { authorize, compileAuthz, type AuthzDecision, type AuthzRequest, type NamedAuthzPolicy } from "./authorize.ts";
import { validateAuthz } from "./validate.ts";

const SEED = Number(process.env.POLICY_SEED ?? 0x7219);

function named(name: string, value: unknown): NamedAuthzPolicy {
  const result = validateAuthz(value);
  if (!result.ok) throw result.error;
  return { name, policy: result.policy };
}

function request(partial: Partial<AuthzRequest> = {}): AuthzRequest {
  return { subject: "alice", roles: [], domain: "execution", method: "GET", path: "/v1/chat", ...partial };
}

describe("authorize", () => {
  test("no policy at all allows", () => {
    const decision = authorize([], request());
    expect(decision.allowed).toBe(true);
    expect(decision.policy).toBeUndefined();
    expect(decision.reason).toContain("no authz policy applies");
  });

  test("an allow policy denies what none of its rules match, and names the rule that allows", () => {
    const policies = [named("chat-users", { action: "allow", rules: [{ subjects: ["bob"] }, { roles: ["chat"], methods: ["POST"] }] })];
    expect(authorize(policies, request())).toMatchObject({ allowed: false });
    expect(authorize(policies, request()).reason).toContain("'chat-users'");
    expect(authorize(policies, request({ subject: "bob" }))).toEqual({
      allowed: true,
      policy: "chat-users",
      rule: 0,
      reason: "allowed by rule 0 of policy 'chat-users'",
    });
    expect(authorize(policies, request({ roles: ["x", "chat"], method: "POST" }))).toMatchObject({ allowed: true, rule: 1 });
    expect(authorize(policies, request({ roles: ["chat"], method: "GET" })).allowed).toBe(false);
  });

  test("deny wins over allow, whichever order the policies come in", () => {
    const allowAll = named("a-allow-everyone", { action: "allow", rules: [{ subjects: ["*"] }] });
    const denyAdmin = named("z-deny-admin", { action: "deny", rules: [{ subjects: ["*"], paths: ["/admin"] }] });
    for (const policies of [
      [allowAll, denyAdmin],
      [denyAdmin, allowAll],
    ]) {
      expect(authorize(policies, request({ path: "/admin/users" }))).toMatchObject({ allowed: false, policy: "z-deny-admin", rule: 0 });
      expect(authorize(policies, request({ path: "/v1/chat" }))).toMatchObject({ allowed: true, policy: "a-allow-everyone" });
    }
  });

  test("a deny policy alone denies only what it matches", () => {
    const policies = [named("no-guests", { action: "deny", rules: [{ roles: ["guest"] }] })];
    expect(authorize(policies, request({ roles: ["guest"] }))).toMatchObject({ allowed: false, policy: "no-guests" });
    expect(authorize(policies, request({ roles: ["member"] }))).toMatchObject({ allowed: true });
    expect(authorize(policies, request({ roles: ["member"] })).policy).toBeUndefined();
  });

  test("target.domains limits which domains a policy guards", () => {
    const policies = [named("exec-only", { action: "allow", target: { domains: ["execution"] }, rules: [{ subjects: ["bob"] }] })];
    expect(authorize(policies, request({ domain: "execution" })).allowed).toBe(false);
    expect(authorize(policies, request({ domain: "communication" }))).toMatchObject({ allowed: true });
    expect(authorize(policies, request({ domain: "communication" })).reason).toContain("no authz policy applies");
    expect(authorize(policies, request({ domain: "execution", subject: "bob" })).allowed).toBe(true);
  });

  test("rule domains narrow a rule, not the policy: an untargeted allow policy guards every domain", () => {
    const policies = [named("p", { action: "allow", rules: [{ subjects: ["alice"], domains: ["state"] }] })];
    expect(authorize(policies, request({ domain: "state" })).allowed).toBe(true);
    expect(authorize(policies, request({ domain: "execution" })).allowed).toBe(false);
    expect(authorize(policies, request({ domain: "unheard-of" })).allowed).toBe(false);
  });

  test("subjects and roles in one rule must both match", () => {
    const policies = [named("p", { action: "allow", rules: [{ subjects: ["alice"], roles: ["admin"] }] })];
    expect(authorize(policies, request({ roles: ["admin"] })).allowed).toBe(true);
    expect(authorize(policies, request({ roles: [] })).allowed).toBe(false);
    expect(authorize(policies, request({ subject: "bob", roles: ["admin"] })).allowed).toBe(false);
  });

  test("methods: listed ones or '*'", () => {
    const listed = [named("p", { action: "allow", rules: [{ subjects: ["*"], methods: ["GET", "HEAD"] }] })];
    expect(authorize(listed, request({ method: "HEAD" })).allowed).toBe(true);
    expect(authorize(listed, request({ method: "DELETE" })).allowed).toBe(false);
    const any = [named("p", { action: "allow", rules: [{ subjects: ["*"], methods: ["*"] }] })];
    expect(authorize(any, request({ method: "PATCH" })).allowed).toBe(true);
  });

  test("path prefixes match on segment boundaries and ignore the query", () => {
    const policies = [named("chat", { action: "allow", rules: [{ subjects: ["*"], paths: ["/v1/chat"] }] })];
    const allowed = (path: string) => authorize(policies, request({ path })).allowed;
    expect(allowed("/v1/chat")).toBe(true);
    expect(allowed("/v1/chat/")).toBe(true);
    expect(allowed("/v1/chat/x/y")).toBe(true);
    expect(allowed("/v1/chat?stream=1")).toBe(true);
    expect(allowed("/v1/chatty")).toBe(false);
    expect(allowed("/v1/cha")).toBe(false);
    expect(allowed("/v1")).toBe(false);
    expect(allowed("/V1/chat")).toBe(false);

    const below = [named("below", { action: "allow", rules: [{ subjects: ["*"], paths: ["/v1/chat/"] }] })];
    expect(authorize(below, request({ path: "/v1/chat/x" })).allowed).toBe(true);
    expect(authorize(below, request({ path: "/v1/chat" })).allowed).toBe(false);
    const root = [named("root", { action: "allow", rules: [{ subjects: ["*"], paths: ["/"] }] })];
    expect(authorize(root, request({ path: "/anything/at/all" })).allowed).toBe(true);
  });

  test("a path that is not canonical is denied wherever a policy applies, so it cannot slip past a deny", () => {
    const policies = [
      named("allow-all", { action: "allow", rules: [{ subjects: ["*"] }] }),
      named("deny-admin", { action: "deny", target: { domains: ["execution"] }, rules: [{ subjects: ["*"], paths: ["/admin"] }] }),
    ];
    for (const path of ["/v1/../admin", "/v1/%2E%2E/admin", "//admin", "/v1/./chat", "/%2fadmin", "/a\\b", "v1/chat", ""]) {
      const decision = authorize(policies, request({ path }));
      expect(decision.allowed).toBe(false);
      expect(decision.reason).toContain("canonical");
    }
    expect(authorize([], request({ path: "/v1/../admin" })).allowed).toBe(true);
  });

  test("decisions are precomputed: the same request gets the same object", () => {
    const decide = compileAuthz([named("p", { action: "allow", rules: [{ subjects: ["alice"] }] })]);
    expect(decide(request())).toBe(decide(request()));
    expect(decide(request({ subject: "bob" }))).toBe(decide(request({ subject: "carol" })));
  });

  test("two policies with one name are refused", () => {
    const p = named("same", { action: "allow", rules: [{ subjects: ["alice"] }] });
    expect(() => compileAuthz([p, p])).toThrow("two authz policies are named 'same'");
  });
});

// The semantics as plainly as they can be written: loop over every policy for every request.
function reference(policies: readonly NamedAuthzPolicy[], r: AuthzRequest): AuthzDecision {
  const path = r.path.split("?")[0] ?? "";
  const applies = [...policies]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .filter(({ policy }) => policy.target === undefined || policy.target.domains.includes(r.domain));
  if (applies.length === 0) return { allowed: true, reason: "" };
  if (!path.startsWith("/") || path.includes("//") || /\/\.\.?(\/|$)|%2[ef]|%5c|\\/i.test(path)) return { allowed: false, reason: "" };
  const matching = (policy: AuthzPolicy) =>
    policy.rules.findIndex(
      (rule) =>
        (rule.subjects === undefined || rule.subjects.includes("*") || rule.subjects.includes(r.subject)) &&
        (rule.roles === undefined || rule.roles.some((role) => r.roles.includes(role))) &&
        (rule.domains === undefined || rule.domains.includes(r.domain)) &&
        (rule.methods === undefined || rule.methods.includes("*") || rule.methods.includes(r.method)) &&
        (rule.paths === undefined || rule.paths.some((p) => path === p || path.startsWith(p.endsWith("/") ? p : `${p}/`))),
    );
  for (const action of ["deny", "allow"] as const) {
    for (const { name, policy } of applies) {
      if (policy.action !== action) continue;
      const rule = matching(policy);
      if (rule >= 0) return { allowed: action === "allow", policy: name, rule, reason: "" };
    }
  }
  return { allowed: !applies.some(({ policy }) => policy.action === "allow"), reason: "" };
}

describe("compileAuthz agrees with a plain reference evaluation on random policies", () => {
  test(`500 policy sets × 200 requests (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const some = <T>(items: readonly T[]): T[] | undefined => {
      if (random() < 0.5) return undefined;
      const chosen = items.filter(() => random() < 0.4);
      return chosen.length > 0 ? chosen : [pick(items)];
    };
    const DOMAINS = ["execution", "state", "communication"];
    const SUBJECTS = ["alice", "bob", "carol"];
    const ROLES = ["admin", "chat", "guest"];
    const METHODS = ["GET", "POST", "DELETE"];
    const PATHS = ["/", "/v1", "/v1/chat", "/v1/chat/", "/admin"];
    const REQUEST_PATHS = ["/", "/v1", "/v1/", "/v1/chat", "/v1/chatty", "/v1/chat/x", "/admin?x=1", "/admin/../v1", "/v2"];
    let checked = 0;
    for (let i = 0; i < 500; i++) {
      const policies: NamedAuthzPolicy[] = [];
      const count = Math.floor(random() * 4);
      for (let p = 0; p < count; p++) {
        const target = random() < 0.4 ? { domains: some(DOMAINS) ?? [pick(DOMAINS)] } : undefined;
        const rules = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
          const subjects = random() < 0.2 ? ["*"] : some(SUBJECTS);
          const roles = some(ROLES);
          return {
            ...(subjects === undefined && roles === undefined ? { subjects: [pick(SUBJECTS)] } : { subjects, roles }),
            domains: target === undefined ? some(DOMAINS) : some(target.domains),
            methods: random() < 0.1 ? ["*"] : some(METHODS),
            paths: some(PATHS),
          };
        });
        const json = JSON.parse(JSON.stringify({ action: random() < 0.5 ? "allow" : "deny", target, rules }));
        policies.push(named(`p${Math.floor(random() * 1000)}-${p}`, json));
      }
      const decide = compileAuthz(policies);
      for (let j = 0; j < 200; j++) {
        const r: AuthzRequest = {
          subject: pick(SUBJECTS),
          roles: ROLES.filter(() => random() < 0.3),
          domain: pick([...DOMAINS, "unnamed"]),
          method: pick(METHODS),
          path: pick(REQUEST_PATHS),
        };
        const actual = decide(r);
        const expected = reference(policies, r);
        const same = actual.allowed === expected.allowed && actual.policy === expected.policy && actual.rule === expected.rule;
        if (!same) {
          throw new Error(
            `seed ${SEED} (POLICY_SEED=${SEED} replays it), set ${i}: ${JSON.stringify(policies)} on ${JSON.stringify(r)}: ` +
              `compiled ${JSON.stringify(actual)}, reference ${JSON.stringify(expected)}`,
          );
        }
        checked++;
      }
    }
    expect(checked).toBe(100_000);
  });
});
