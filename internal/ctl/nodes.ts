// nagentctl nodes: the service registry as a table.
import type { NodeView } from "../../pkg/index.ts";
import { expectArgs, parseCommandArgs } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { dash, emit, formatAge, renderTable } from "./output.ts";

export const NODES_USAGE = "nodes [--domain D]";

export async function runNodes(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(NODES_USAGE, args, { domain: { kind: "string" } });
  expectArgs(NODES_USAGE, positionals, 0);
  const listed = await ctx.client.listNodes(flags.domain !== undefined ? { domain: flags.domain } : {});
  emit(ctx, listed, () => renderNodes(listed.nodes, ctx.io.now(), flags.domain));
  return 0;
}

export function renderNodes(nodes: readonly NodeView[], now: number, domain?: string): string {
  if (nodes.length === 0) return domain === undefined ? "no nodes registered\n" : `no nodes registered for domain ${domain}\n`;
  return renderTable(
    ["ID", "ADDRESS", "DOMAINS", "HEALTHY", "CONFIG REVISION", "LAST HEARTBEAT"],
    nodes.map((node) => [
      node.id,
      node.address,
      node.domains.join(",") || "-",
      node.healthy ? "yes" : "no",
      dash(node.configRevision),
      formatAge(node.lastHeartbeat, now),
    ]),
  );
}
