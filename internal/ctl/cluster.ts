// nagentctl cluster status|add|remove|transfer: the control plane's own membership.
import type { ClusterStatus } from "../../pkg/index.ts";
import { UsageError, expectArgs, parseCommandArgs } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { dash, emit, renderTable } from "./output.ts";

export const CLUSTER_USAGE = {
  status: "cluster status",
  add: "cluster add ID URL",
  remove: "cluster remove ID",
  transfer: "cluster transfer [ID]",
} as const;

const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export async function runCluster(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "status":
      return status(ctx, rest);
    case "add":
      return add(ctx, rest);
    case "remove":
      return remove(ctx, rest);
    case "transfer":
      return transfer(ctx, rest);
    case undefined:
      throw new UsageError("missing cluster subcommand: status, add, remove or transfer");
    default:
      throw new UsageError(`unknown cluster subcommand "${sub}" (status, add, remove, transfer)`);
  }
}

export function renderClusterStatus(status: ClusterStatus): string {
  const head = `store ${status.store}, leader ${status.leader ?? "none"}, term ${status.term}, revision ${status.revision}\n\n`;
  return (
    head +
    renderTable(
      ["ID", "URL", "ROLE", "COMMIT", "APPLIED", "MATCH"],
      status.members.map((m) => [m.id, m.url || "-", m.role, dash(m.commitIndex), dash(m.appliedIndex), dash(m.matchIndex)]),
    )
  );
}

async function status(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(CLUSTER_USAGE.status, args, {});
  expectArgs(CLUSTER_USAGE.status, positionals, 0);
  const result = await ctx.client.clusterStatus();
  emit(ctx, result, () => renderClusterStatus(result));
  return 0;
}

function memberId(raw: string): string {
  if (!MEMBER_ID.test(raw)) throw new UsageError(`"${raw}" is not a member id (letters, digits, '.', '_', '-')`);
  return raw;
}

async function add(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(CLUSTER_USAGE.add, args, {});
  expectArgs(CLUSTER_USAGE.add, positionals, 2);
  const id = memberId(positionals[0]!);
  const url = positionals[1]!.replace(/\/+$/, "");
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) throw new UsageError(`"${url}" is not an http:// or https:// URL`);
  const result = await ctx.client.addMember(id, url);
  emit(ctx, { ...result, url }, () => `added member ${id} (${url}); it joins as a learner and is promoted once caught up\n`);
  return 0;
}

async function remove(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(CLUSTER_USAGE.remove, args, {});
  expectArgs(CLUSTER_USAGE.remove, positionals, 1);
  const result = await ctx.client.removeMember(memberId(positionals[0]!));
  emit(ctx, result, () => `removed member ${result.removed}\n`);
  return 0;
}

async function transfer(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(CLUSTER_USAGE.transfer, args, {});
  expectArgs(CLUSTER_USAGE.transfer, positionals, 0, 1);
  const to = positionals[0] === undefined ? undefined : memberId(positionals[0]);
  const result = await ctx.client.transferLeadership(to);
  emit(ctx, result, () => `leadership moved to ${result.leader}\n`);
  return 0;
}
