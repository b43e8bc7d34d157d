// The authz decision. Policies are compiled once per change into per-domain tables of rules with
// their sets prebuilt and their decisions preallocated, so deciding a request is a map lookup and
// a few set probes, with no allocation.
import type { AuthzPolicy } from "./authz.ts";
import { isCanonicalPath, pathHasPrefix } from "./path-prefix.ts";

/** A policy with the name it is stored under, so that a decision can say which one decided. */
export interface NamedAuthzPolicy {
  readonly name: string;
  readonly policy: AuthzPolicy;
}

/** What the inbound sidecar knows about a call once the caller is authenticated. */
export interface AuthzRequest {
  readonly subject: string;
  readonly roles: readonly string[];
  /** The domain being called. */
  readonly domain: string;
  readonly method: string;
  /** The request path; a query string, if present, is ignored. */
  readonly path: string;
}

export interface AuthzDecision {
  readonly allowed: boolean;
  /** The policy whose rule decided; absent when no rule matched. */
  readonly policy?: string;
  /** The index of that rule in the policy's rules. */
  readonly rule?: number;
  readonly reason: string;
}

export type Authorizer = (request: AuthzRequest) => AuthzDecision;

interface CompiledRule {
  readonly subjects: ReadonlySet<string> | null;
  readonly roles: ReadonlySet<string> | null;
  readonly methods: ReadonlySet<string> | null;
  readonly paths: readonly string[] | null;
  readonly decision: AuthzDecision;
}

interface DomainTable {
  readonly deny: readonly CompiledRule[];
  readonly allow: readonly CompiledRule[];
  /** The answer when no rule matches: allowed unless an allow policy guards the domain. */
  readonly otherwise: AuthzDecision;
  /** Whether any policy guards the domain, and so whether the path must be canonical. */
  readonly guarded: boolean;
}

const NON_CANONICAL: AuthzDecision = Object.freeze({
  allowed: false,
  reason: "the path is not in canonical form (it has '//', '.' or '..' segments, or an encoded '/', '.' or '\\')",
});

/**
 * Compiles named authz policies into an authorizer. Semantics: a policy applies to a call when
 * its target lists the called domain, or when it has no target. A rule matches when every field
 * it sets matches (subjects, roles: any listed role held; domains; methods; paths: any prefix on
 * segment boundaries). A matching rule of an applicable deny policy denies, whatever else
 * applies; otherwise, when an allow policy applies, the call is allowed only if one of its rules
 * matches; when no policy applies, the call is allowed. When a policy applies, a path that is
 * not canonical is denied, so that no spelling of a path slips past a prefix. Policies are
 * consulted in name order, so a decision names the same policy on every sidecar. Throws a
 * TypeError when two policies share a name.
 */
export function compileAuthz(policies: readonly NamedAuthzPolicy[]): Authorizer {
  const sorted = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]?.name === sorted[i - 1]?.name) throw new TypeError(`two authz policies are named '${sorted[i]?.name}'`);
  }
  const domains = new Set<string>();
  for (const { policy } of sorted) {
    for (const domain of policy.target?.domains ?? []) domains.add(domain);
    for (const rule of policy.rules) for (const domain of rule.domains ?? []) domains.add(domain);
  }
  const tables = new Map<string, DomainTable>();
  for (const domain of domains) tables.set(domain, buildTable(sorted, domain));
  // Every domain no policy names shares one table: untargeted policies, rules without domains.
  const rest = buildTable(sorted, undefined);

  return (request) => {
    const table = tables.get(request.domain) ?? rest;
    if (!table.guarded) return table.otherwise;
    let path = request.path;
    const query = path.indexOf("?");
    if (query >= 0) path = path.slice(0, query);
    if (!isCanonicalPath(path)) return NON_CANONICAL;
    for (const rule of table.deny) if (matches(rule, request, path)) return rule.decision;
    for (const rule of table.allow) if (matches(rule, request, path)) return rule.decision;
    return table.otherwise;
  };
}

/**
 * Decides one request against named policies: compileAuthz(policies)(request). Convenient for
 * tools and tests; a sidecar compiles once per policy change and keeps the authorizer.
 */
export function authorize(policies: readonly NamedAuthzPolicy[], request: AuthzRequest): AuthzDecision {
  return compileAuthz(policies)(request);
}

// `domain` undefined builds the table for domains no policy mentions by name.
function buildTable(policies: readonly NamedAuthzPolicy[], domain: string | undefined): DomainTable {
  const deny: CompiledRule[] = [];
  const allow: CompiledRule[] = [];
  const allowPolicies: string[] = [];
  let guarded = false;
  for (const { name, policy } of policies) {
    const targets = policy.target?.domains;
    if (targets !== undefined && (domain === undefined || !targets.includes(domain))) continue;
    guarded = true;
    if (policy.action === "allow") allowPolicies.push(name);
    policy.rules.forEach((rule, index) => {
      if (rule.domains !== undefined && (domain === undefined || !rule.domains.includes(domain))) return;
      (policy.action === "deny" ? deny : allow).push(compileRule(name, policy.action, rule, index));
    });
  }
  const otherwise: AuthzDecision =
    allowPolicies.length > 0
      ? { allowed: false, reason: `no rule of the allow policies for this domain matches (${allowPolicies.map((n) => `'${n}'`).join(", ")})` }
      : { allowed: true, reason: guarded ? "no deny rule matches and no allow policy applies" : "no authz policy applies to this domain" };
  return { deny, allow, otherwise: Object.freeze(otherwise), guarded };
}

function compileRule(name: string, action: "allow" | "deny", rule: AuthzPolicy["rules"][number], index: number): CompiledRule {
  const subjects = rule.subjects === undefined || rule.subjects.includes("*") ? null : new Set(rule.subjects);
  const methods = rule.methods === undefined || rule.methods.includes("*") ? null : new Set(rule.methods);
  return {
    subjects,
    roles: rule.roles === undefined ? null : new Set(rule.roles),
    methods,
    paths: rule.paths ?? null,
    decision: Object.freeze({
      allowed: action === "allow",
      policy: name,
      rule: index,
      reason: `${action === "allow" ? "allowed" : "denied"} by rule ${index} of policy '${name}'`,
    }),
  };
}

function matches(rule: CompiledRule, request: AuthzRequest, path: string): boolean {
  if (rule.subjects !== null && !rule.subjects.has(request.subject)) return false;
  if (rule.roles !== null && !holdsAny(rule.roles, request.roles)) return false;
  if (rule.methods !== null && !rule.methods.has(request.method)) return false;
  if (rule.paths !== null && !underAny(rule.paths, path)) return false;
  return true;
}

function underAny(prefixes: readonly string[], path: string): boolean {
  for (const prefix of prefixes) if (pathHasPrefix(path, prefix)) return true;
  return false;
}

function holdsAny(wanted: ReadonlySet<string>, held: readonly string[]): boolean {
  for (const role of held) if (wanted.has(role)) return true;
  return false;
}
