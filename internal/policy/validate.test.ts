import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { PolicyValidationError } from "./errors.ts";
import { formatPath, isPolicyKind, POLICY_KINDS, validatePolicy } from "./validate.ts";

describe("validatePolicy", () => {
  test("an unknown kind is refused, naming the kinds there are", () => {
    const result = validatePolicy("ratelimit", {});
    if (result.ok) throw new Error("accepted");
    expect(result.error).toBeInstanceOf(PolicyValidationError);
    expect(result.error).toBeInstanceOf(Error);
    expect(result.error.name).toBe("PolicyValidationError");
    expect(result.error.kind).toBe("ratelimit");
    expect(result.error.path).toBe("");
    expect(result.error.message).toBe("unknown policy kind 'ratelimit'; expected one of resilience, authz");
  });

  test("the result says which kind it validated, and the policy is typed by it", () => {
    const resilience = validatePolicy("resilience", { target: { domain: "state" }, timeoutMs: 100 });
    expect(resilience.ok && resilience.kind === "resilience" && resilience.policy.timeoutMs).toBe(100);
    const authz = validatePolicy("authz", { action: "deny", rules: [{ roles: ["guest"] }] });
    expect(authz.ok && authz.kind === "authz" && authz.policy.action).toBe("deny");
  });

  test("a document of one kind is not valid as the other", () => {
    const result = validatePolicy("authz", { target: { domain: "state" } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.path).toBe("action");
  });

  test("errors are values, never exceptions, whatever the input", () => {
    for (const value of [undefined, null, 0, "", [], new Map(), () => 1]) {
      for (const kind of POLICY_KINDS) expect(validatePolicy(kind, value).ok).toBe(false);
    }
  });

  test("a __proto__ key from JSON is an unknown field like any other", () => {
    const result = validatePolicy("resilience", JSON.parse('{"target": {"domain": "a"}, "__proto__": {"timeoutMs": 5}}'));
    expect(!result.ok && result.error.path).toBe("__proto__");
  });

  test("isPolicyKind", () => {
    expect(isPolicyKind("authz")).toBe(true);
    expect(isPolicyKind("AuthZ")).toBe(false);
  });

  test("formatPath reads like YAML", () => {
    expect(formatPath(["retry", "backoff", "initialMs"])).toBe("retry.backoff.initialMs");
    expect(formatPath(["rules", 0, "methods", 1])).toBe("rules[0].methods[1]");
    expect(formatPath(["fallback", "headers", "x-a"])).toBe("fallback.headers.x-a");
    expect(formatPath(["fallback", "headers", "a b"])).toBe('fallback.headers["a b"]');
    expect(formatPath([])).toBe("");
  });
});

describe("the policy reference's examples", () => {
  const readme = readFileSync(new URL("../../docs/policies.md", import.meta.url), "utf8");
  const examples = [...readme.matchAll(/```yaml\n# PUT \/v1\/policies\/(\w+)\/([\w-]+)\n([\s\S]*?)```/g)];

  test("there is one example of each kind at least", () => {
    expect(new Set(examples.map((m) => m[1]))).toEqual(new Set(POLICY_KINDS));
  });

  for (const [, kind = "", name = "", body = ""] of examples) {
    test(`${kind}/${name} is valid and already in normal form`, () => {
      const document = parseYaml(body);
      const result = validatePolicy(kind, document);
      if (!result.ok) throw result.error;
      expect(result.policy).toEqual(document);
    });
  }
});
