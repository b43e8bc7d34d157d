// One entry point for both kinds: the control plane calls it before storing a policy, the
// sidecar again before using one it received or read from its cache.
import type { z } from "zod";
import { authzSchema, type AuthzPolicy } from "./authz.ts";
import { PolicyValidationError } from "./errors.ts";
import { resilienceSchema, type ResiliencePolicy } from "./resilience.ts";

export const POLICY_KINDS = ["resilience", "authz"] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
export type Policy = ResiliencePolicy | AuthzPolicy;

export type PolicyValidation =
  | { readonly ok: true; readonly kind: "resilience"; readonly policy: ResiliencePolicy }
  | { readonly ok: true; readonly kind: "authz"; readonly policy: AuthzPolicy }
  | { readonly ok: false; readonly error: PolicyValidationError };

export type Validation<P> = { readonly ok: true; readonly policy: P } | { readonly ok: false; readonly error: PolicyValidationError };

/** Whether `kind` names a policy kind, e.g. the {kind} segment of /v1/policies/{kind}/{name}. */
export function isPolicyKind(kind: string): kind is PolicyKind {
  return (POLICY_KINDS as readonly string[]).includes(kind);
}

/**
 * Validates a policy document (parsed JSON or YAML) of the given kind and returns it normalised,
 * with every default applied, or the first problem as a PolicyValidationError naming the field
 * path. Never throws for bad input: unknown kinds, wrong types, unknown fields at any depth,
 * out-of-range numbers, duplicates and unparseable trip expressions all come back as `ok: false`.
 * Validating an already normalised policy gives it back unchanged.
 */
export function validatePolicy(kind: string, value: unknown): PolicyValidation {
  if (kind === "resilience") {
    const result = validateResilience(value);
    return result.ok ? { ok: true, kind, policy: result.policy } : result;
  }
  if (kind === "authz") {
    const result = validateAuthz(value);
    return result.ok ? { ok: true, kind, policy: result.policy } : result;
  }
  return {
    ok: false,
    error: new PolicyValidationError(kind, "", `unknown policy kind '${kind}'; expected one of ${POLICY_KINDS.join(", ")}`),
  };
}

/** validatePolicy for the resilience kind, typed. */
export function validateResilience(value: unknown): Validation<ResiliencePolicy> {
  return run("resilience", resilienceSchema, value);
}

/** validatePolicy for the authz kind, typed. */
export function validateAuthz(value: unknown): Validation<AuthzPolicy> {
  return run("authz", authzSchema, value);
}

function run<S extends z.ZodType>(kind: PolicyKind, schema: S, value: unknown): Validation<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, policy: result.data };
  const issue = result.error.issues[0];
  if (issue === undefined) return { ok: false, error: new PolicyValidationError(kind, "", "invalid policy") };
  let path = issue.path;
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) path = [...path, issue.keys[0]];
  return { ok: false, error: new PolicyValidationError(kind, formatPath(path), issue.message) };
}

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** A field path as a person reads it: retry.backoff.initialMs, rules[0].methods[1], headers["x y"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && PLAIN_KEY.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
