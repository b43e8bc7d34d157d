import { describe, expect, test } from "bun:test";
import { validateAuthz } from "./validate.ts";

describe("valid authz policies", () => {
  test("a full policy comes back as written", () => {
    const policy = {
      action: "allow",
      target: { domains: ["execution", "state"] },
      rules: [
        { subjects: ["svc-planner", "alice@example.com"], methods: ["GET", "POST"], paths: ["/v1/jobs", "/v1/status/"] },
        { roles: ["operator"], domains: ["state"] },
        { subjects: ["*"], methods: ["*"], paths: ["/"] },
      ],
    };
    const result = validateAuthz(policy);
    if (!result.ok) throw result.error;
    expect(result.policy).toEqual(policy as typeof result.policy);
  });

  test("target is optional and so is every rule field but the who", () => {
    const result = validateAuthz({ action: "deny", rules: [{ roles: ["guest"] }] });
    expect(result.ok && result.policy).toEqual({ action: "deny", rules: [{ roles: ["guest"] }] });
  });
});

describe("invalid authz policies are refused at the exact path", () => {
  const who = { subjects: ["alice"] };
  const cases: [string, unknown, string, string][] = [
    ["not an object", "allow", "", 'expected an authz policy object, got "allow"'],
    ["no action", { rules: [who] }, "action", "expected one of allow, deny, got nothing"],
    ["unknown action", { action: "audit", rules: [who] }, "action", 'got "audit"'],
    ["unknown top-level field", { action: "allow", rules: [who], priority: 1 }, "priority", "unknown field; expected one of action, target, rules"],
    ["unknown field in target", { action: "allow", target: { domains: ["a"], ports: [1] }, rules: [who] }, "target.ports", "unknown field"],
    ["unknown field in a rule", { action: "allow", rules: [who, { subjects: ["bob"], hosts: ["x"] }] }, "rules[1].hosts", "unknown field; expected one of subjects, roles, domains, methods, paths"],
    ["no rules", { action: "allow" }, "rules", "expected a list of rules, got nothing"],
    ["empty rules", { action: "allow", rules: [] }, "rules", "expected at least one rule"],
    ["rule not an object", { action: "allow", rules: ["alice"] }, "rules[0]", 'expected a rule object, got "alice"'],
    ["rule with no subjects or roles", { action: "allow", rules: [who, { methods: ["GET"], paths: ["/v1"] }] }, "rules[1]", "a rule needs subjects or roles"],
    ["empty subjects", { action: "allow", rules: [{ subjects: [] }] }, "rules[0].subjects", "expected at least one subject"],
    ["subject not a string", { action: "allow", rules: [{ subjects: ["alice", 7] }] }, "rules[0].subjects[1]", "expected a subject as a string, got 7"],
    ["subject with a space", { action: "allow", rules: [{ subjects: ["alice smith"] }] }, "rules[0].subjects[0]", "without spaces"],
    ["subject pattern", { action: "allow", rules: [{ subjects: ["svc-*"] }] }, "rules[0].subjects[0]", "'*' is only allowed on its own"],
    ["wildcard beside subjects", { action: "allow", rules: [{ subjects: ["alice", "*"] }] }, "rules[0].subjects[1]", '"*" already matches every subject'],
    ["duplicate subjects", { action: "allow", rules: [{ subjects: ["alice", "bob", "alice"] }] }, "rules[0].subjects[2]", '"alice" is listed twice (first at [0])'],
    ["wildcard role", { action: "allow", rules: [{ roles: ["*"] }] }, "rules[0].roles[0]", 'use subjects: ["*"]'],
    ["empty roles", { action: "allow", rules: [{ subjects: ["a"], roles: [] }] }, "rules[0].roles", "expected at least one role"],
    ["lower-case method", { action: "allow", rules: [{ ...who, methods: ["GET", "post"] }] }, "rules[0].methods[1]", 'methods are case-sensitive, write "POST"'],
    ["method not a token", { action: "allow", rules: [{ ...who, methods: ["GET /"] }] }, "rules[0].methods[0]", 'expected an upper-case HTTP method such as GET, or "*", got "GET /"'],
    ["method not a string", { action: "allow", rules: [{ ...who, methods: [1] }] }, "rules[0].methods[0]", "got 1"],
    ["duplicate methods", { action: "allow", rules: [{ ...who, methods: ["GET", "GET"] }] }, "rules[0].methods[1]", "listed twice"],
    ["wildcard beside methods", { action: "allow", rules: [{ ...who, methods: ["*", "GET"] }] }, "rules[0].methods[0]", "already matches every method"],
    ["empty methods", { action: "allow", rules: [{ ...who, methods: [] }] }, "rules[0].methods", "leave the field out to match every method"],
    ["path without leading slash", { action: "allow", rules: [{ ...who, paths: ["/v1", "v1/chat"] }] }, "rules[0].paths[1]", 'expected a path prefix starting with "/", got "v1/chat"'],
    ["path glob", { action: "allow", rules: [{ ...who, paths: ["/v1/*"] }] }, "rules[0].paths[0]", 'write "/v1" to match it'],
    ["path with query", { action: "allow", rules: [{ ...who, paths: ["/v1?x=1"] }] }, "rules[0].paths[0]", "query"],
    ["path with dot segment", { action: "allow", rules: [{ ...who, paths: ["/v1/../admin"] }] }, "rules[0].paths[0]", "not canonical"],
    ["path with double slash", { action: "allow", rules: [{ ...who, paths: ["/v1//chat"] }] }, "rules[0].paths[0]", "not canonical"],
    ["path with a space", { action: "allow", rules: [{ ...who, paths: ["/v1/my chat"] }] }, "rules[0].paths[0]", "percent-encode"],
    ["path with a broken escape", { action: "allow", rules: [{ ...who, paths: ["/v1/%zz"] }] }, "rules[0].paths[0]", "percent-encode"],
    ["duplicate paths", { action: "allow", rules: [{ ...who, paths: ["/a", "/b", "/a"] }] }, "rules[0].paths[2]", "listed twice"],
    ["bad rule domain", { action: "allow", rules: [{ ...who, domains: ["Exec"] }] }, "rules[0].domains[0]", "expected a domain name"],
    ["empty target domains", { action: "allow", target: { domains: [] }, rules: [who] }, "target.domains", "leave the field out to guard every domain"],
    ["duplicate target domains", { action: "allow", target: { domains: ["a", "a"] }, rules: [who] }, "target.domains[1]", "listed twice"],
    ["rule domain outside the target", { action: "allow", target: { domains: ["a", "b"] }, rules: [who, { ...who, domains: ["b", "c"] }] }, "rules[1].domains[1]", '"c" is not in target.domains'],
  ];
  for (const [name, input, path, message] of cases) {
    test(name, () => {
      const result = validateAuthz(input);
      if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.policy)}`);
      expect(result.error.path).toBe(path);
      expect(result.error.kind).toBe("authz");
      expect(result.error.message).toContain(message);
    });
  }
});
