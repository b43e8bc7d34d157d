// nagentctl policy apply|get|list|delete. `apply -f FILE.yaml` reads one or more YAML documents
// (separated by ---), each `{kind, name, spec}`, shows what would change against what is stored
// (new, changed field by field, unchanged) and applies the new and changed ones with
// compare-and-set, so a policy changed by someone else since it was compared is not overwritten.
import YAML from "yaml";
import { NotFoundError, POLICY_KINDS, PreconditionFailedError, type PolicyKind, type PolicySpec, type PolicyView } from "../../pkg/index.ts";
import { UsageError, expectArgs, parseCommandArgs, revisionArg } from "./args.ts";
import { readUserFile } from "./config.ts";
import type { CtlContext } from "./context.ts";
import { describeError, isMissingRoute } from "./errors.ts";
import { emit, renderTable } from "./output.ts";
import { diffValues, renderChanges, type FieldChange } from "./policy-diff.ts";

export const POLICY_USAGE = {
  apply: "policy apply -f FILE.yaml [--dry-run]",
  get: "policy get KIND NAME",
  list: "policy list [KIND]",
  delete: "policy delete KIND NAME [--if-match REV]",
} as const;

export async function runPolicy(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "apply":
      return apply(ctx, rest);
    case "get":
      return get(ctx, rest);
    case "list":
    case "ls":
      return list(ctx, rest);
    case "delete":
    case "del":
      return remove(ctx, rest);
    case undefined:
      throw new UsageError("missing policy subcommand: apply, get, list or delete");
    default:
      throw new UsageError(`unknown policy subcommand "${sub}" (apply, get, list, delete)`);
  }
}

function policyKind(raw: string): PolicyKind {
  if (!(POLICY_KINDS as readonly string[]).includes(raw)) throw new UsageError(`unknown policy kind "${raw}" (${POLICY_KINDS.join(" or ")})`);
  return raw as PolicyKind;
}

export interface PolicyDocument {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly spec: PolicySpec;
}

/** The policies of a YAML file; anything malformed is a usage error naming the document and why. */
export function parsePolicyFile(text: string, file: string): PolicyDocument[] {
  const out: PolicyDocument[] = [];
  const seen = new Set<string>();
  YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).forEach((doc, index) => {
    const where = `${file}, document ${index + 1}`;
    const problem = doc.errors[0];
    if (problem) {
      const at = problem.linePos?.[0] ? ` at line ${problem.linePos[0].line}, column ${problem.linePos[0].col}` : "";
      const reason = (problem.message.split("\n")[0] ?? problem.code).replace(/ at line \d+, column \d+:?$/, "");
      throw new UsageError(`${where} is not valid YAML${at}: ${reason}`);
    }
    const data: unknown = doc.toJS();
    if (data === null || data === undefined) return;
    if (typeof data !== "object" || Array.isArray(data)) throw new UsageError(`${where}: expected a mapping with kind, name and spec`);
    const { kind, name, spec, ...rest } = data as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new UsageError(`${where}: unknown field "${unknown}" (a policy document has kind, name and spec)`);
    if (typeof kind !== "string") throw new UsageError(`${where}: missing kind (${POLICY_KINDS.join(" or ")})`);
    if (!(POLICY_KINDS as readonly string[]).includes(kind)) throw new UsageError(`${where}: unknown kind "${kind}" (${POLICY_KINDS.join(" or ")})`);
    if (typeof name !== "string" || name === "") throw new UsageError(`${where}: missing name`);
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) throw new UsageError(`${where}: spec must be a mapping`);
    const id = `${kind}/${name}`;
    if (seen.has(id)) throw new UsageError(`${where}: ${id} appears twice in the file`);
    seen.add(id);
    out.push({ kind: kind as PolicyKind, name, spec: spec as PolicySpec });
  });
  if (out.length === 0) throw new UsageError(`${file} holds no policy documents`);
  return out;
}

type Action = "create" | "update" | "unchanged";

interface ApplyResult {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly action: Action;
  readonly changes: readonly FieldChange[];
  revision?: number;
  error?: string;
}

async function stored(ctx: CtlContext, doc: PolicyDocument): Promise<PolicyView | undefined> {
  try {
    return await ctx.client.getPolicy(doc.kind, doc.name);
  } catch (error) {
    if (error instanceof NotFoundError && !isMissingRoute(error)) return undefined;
    throw error;
  }
}

const HEADINGS: Record<Action, string> = { create: "new", update: "changed", unchanged: "unchanged" };

async function apply(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(POLICY_USAGE.apply, args, { file: { kind: "string", short: "f" }, "dry-run": { kind: "boolean" } });
  expectArgs(POLICY_USAGE.apply, positionals, 0);
  if (flags.file === undefined) throw new UsageError(`missing -f FILE: usage: ${POLICY_USAGE.apply}`);
  const docs = parsePolicyFile(readUserFile(ctx, flags.file), flags.file === "-" ? "standard input" : flags.file);
  const dryRun = flags["dry-run"];

  // Compare everything first, so the whole diff is shown before anything changes.
  const plans = await Promise.all(
    docs.map(async (doc) => {
      const current = await stored(ctx, doc);
      const changes = diffValues(current?.spec, doc.spec);
      const action: Action = current === undefined ? "create" : changes.length > 0 ? "update" : "unchanged";
      return { doc, current, result: { kind: doc.kind, name: doc.name, action, changes } as ApplyResult };
    }),
  );
  if (!ctx.json) {
    ctx.io.out(plans.map(({ result }) => `${result.kind}/${result.name}: ${HEADINGS[result.action]}\n${renderChanges(result.changes)}`).join(""));
  }

  let failed = 0;
  if (!dryRun) {
    for (const { doc, current, result } of plans) {
      if (result.action === "unchanged") continue;
      try {
        const written = await ctx.client.putPolicy(doc.kind, doc.name, doc.spec, { ifMatch: current?.modRevision ?? 0 });
        result.revision = written.revision;
      } catch (error) {
        failed++;
        result.error = describeError(error);
        const again = error instanceof PreconditionFailedError ? "; it changed since it was compared: run apply again" : "";
        ctx.io.err(`nagentctl: ${doc.kind}/${doc.name}: ${result.error}${again}\n`);
      }
    }
  }

  const results = plans.map(({ result }) => result);
  const count = (action: Action) => results.filter((r) => r.action === action && r.error === undefined).length;
  emit(ctx, { dryRun, policies: results }, () => {
    if (dryRun) return `\ndry run: ${count("create")} to create, ${count("update")} to update, ${count("unchanged")} unchanged; nothing was applied\n`;
    const lines = results
      .filter((r) => r.revision !== undefined)
      .map((r) => `${r.kind}/${r.name} ${r.action === "create" ? "created" : "updated"} (revision ${r.revision})\n`);
    const summary = `${count("create")} created, ${count("update")} updated, ${count("unchanged")} unchanged${failed > 0 ? `, ${failed} failed` : ""}\n`;
    return `\n${lines.join("")}${summary}`;
  });
  return failed > 0 ? 1 : 0;
}

async function get(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(POLICY_USAGE.get, args, {});
  expectArgs(POLICY_USAGE.get, positionals, 2);
  const policy = await ctx.client.getPolicy(policyKind(positionals[0]!), positionals[1]!);
  // As YAML that `policy apply -f` takes back.
  emit(ctx, policy, () => `# revision ${policy.modRevision} (version ${policy.version})\n${YAML.stringify({ kind: policy.kind, name: policy.name, spec: policy.spec })}`);
  return 0;
}

async function list(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(POLICY_USAGE.list, args, {});
  expectArgs(POLICY_USAGE.list, positionals, 0, 1);
  const kind = positionals[0] === undefined ? undefined : policyKind(positionals[0]);
  const listed = await ctx.client.listPolicies(kind ? { kind } : {});
  emit(ctx, listed, () => {
    if (listed.policies.length === 0) return `no ${kind ?? ""}${kind ? " " : ""}policies (revision ${listed.revision})\n`;
    return renderTable(
      ["KIND", "NAME", "REVISION", "VERSION"],
      listed.policies.map((p) => [p.kind, p.name, String(p.modRevision), String(p.version)]),
    );
  });
  return 0;
}

async function remove(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(POLICY_USAGE.delete, args, { "if-match": { kind: "string" } });
  expectArgs(POLICY_USAGE.delete, positionals, 2);
  const ifMatch = revisionArg("--if-match", flags["if-match"]);
  const result = await ctx.client.deletePolicy(policyKind(positionals[0]!), positionals[1]!, ifMatch === undefined ? {} : { ifMatch });
  emit(ctx, result, () => `deleted policy ${result.kind}/${result.name} at revision ${result.revision}\n`);
  return 0;
}
