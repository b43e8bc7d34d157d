// The authz policy: who may call which domain, method and path, checked by the callee's sidecar
// on every inbound call. Modelled on Istio's AuthorizationPolicy; the evaluator is authorize.ts
// and the operator reference is docs/policies.md.
import { z } from "zod";
import { domainName, oneOf, section, show, uniqueList } from "./fields.ts";
import { methodToken, pathPrefix } from "./http-fields.ts";

// Subjects and roles are opaque identifiers from credentials; a space or control character in
// one is a typo, and a '*' inside one would suggest patterns that are not supported.
const IDENTIFIER = /^[^\s\x00-\x1f\x7f*]{1,256}$/;

function identifier(noun: string, wildcard: boolean) {
  return z.string({ error: (issue) => `expected a ${noun} as a string, got ${show(issue.input)}` }).superRefine((text, ctx) => {
    if (wildcard && text === "*") return;
    if (IDENTIFIER.test(text)) return;
    const reason = text.includes("*")
      ? wildcard
        ? `'*' is only allowed on its own, meaning any ${noun}`
        : `'*' is not a ${noun}; use subjects: ["*"] to match every caller`
      : `expected a ${noun} of 1 to 256 characters without spaces or control characters`;
    ctx.addIssue({ code: "custom", message: `${reason}, got ${show(text)}`, input: text });
  });
}

const rule = section({
  subjects: uniqueList(identifier("subject", true), { noun: "subject", wildcard: "*", omitMeans: "match by roles only" }).optional(),
  roles: uniqueList(identifier("role", false), { noun: "role", omitMeans: "match by subjects only" }).optional(),
  domains: uniqueList(domainName(), { noun: "domain", omitMeans: "match every domain" }).optional(),
  methods: uniqueList(methodToken(), { noun: "method", wildcard: "*", omitMeans: "match every method" }).optional(),
  paths: uniqueList(pathPrefix(), { noun: "path", omitMeans: "match every path" }).optional(),
}, "a rule object").superRefine((r, ctx) => {
  if (r.subjects === undefined && r.roles === undefined) {
    ctx.addIssue({
      code: "custom",
      message: 'a rule needs subjects or roles, the callers it is about (subjects: ["*"] means every caller)',
      input: r,
    });
  }
});

export const authzSchema = section(
  {
    action: oneOf(["allow", "deny"]),
    target: section({ domains: uniqueList(domainName(), { noun: "domain", omitMeans: "guard every domain" }) }).optional(),
    rules: z
      .array(rule, { error: (issue) => `expected a list of rules, got ${show(issue.input)}` })
      .min(1, { error: "expected at least one rule" })
      .max(256, { error: "expected at most 256 rules" }),
  },
  "an authz policy object",
).superRefine((policy, ctx) => {
  const guarded = policy.target?.domains;
  if (guarded === undefined) return;
  policy.rules.forEach((r, ruleIndex) => {
    r.domains?.forEach((domain, index) => {
      if (!guarded.includes(domain)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", ruleIndex, "domains", index],
          message: `${show(domain)} is not in target.domains, so this rule could never apply`,
          input: domain,
        });
      }
    });
  });
});

/** An authz policy as validated: what sidecars consume. */
export type AuthzPolicy = z.output<typeof authzSchema>;
/** An authz policy as an operator writes it. */
export type AuthzPolicyInput = z.input<typeof authzSchema>;
export type AuthzRule = AuthzPolicy["rules"][number];
