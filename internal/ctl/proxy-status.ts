// nagentctl proxy-status: each registered sidecar's configuration revision against the control
// plane's, in the manner of `istioctl proxy-status`.
import type { NodeList, NodeView, SyncState } from "../../pkg/index.ts";
import { expectArgs, parseCommandArgs } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { dash, emit, formatAge, renderTable } from "./output.ts";

export const PROXY_STATUS_USAGE = "proxy-status";

export interface ProxyStatusRow {
  readonly id: string;
  readonly address: string;
  readonly healthy: boolean;
  readonly configRevision: number | null;
  readonly controlPlaneRevision: number;
  readonly sync: SyncState;
  /** Revisions behind the control plane, when stale. */
  readonly behind: number | null;
  readonly lastHeartbeat: string | null;
  readonly lastHeartbeatAgeSeconds: number | null;
}

/** The node's sync state as the control plane computed it; derived from the revisions when the view lacks it. */
function syncOf(node: NodeView, revision: number): { state: SyncState; behind: number | null } {
  if (node.sync) return { state: node.sync.state, behind: node.sync.behind ?? (node.sync.state === "synced" ? 0 : null) };
  if (node.configRevision === null) return { state: "unknown", behind: null };
  const behind = Math.max(0, revision - node.configRevision);
  return { state: behind === 0 ? "synced" : "stale", behind };
}

export function proxyStatusRows(listed: NodeList, now: number): ProxyStatusRow[] {
  return listed.nodes.map((node) => {
    const sync = syncOf(node, listed.revision);
    const at = node.lastHeartbeat === null ? Number.NaN : Date.parse(node.lastHeartbeat);
    return {
      id: node.id,
      address: node.address,
      healthy: node.healthy,
      configRevision: node.configRevision,
      controlPlaneRevision: listed.revision,
      sync: sync.state,
      behind: sync.behind,
      lastHeartbeat: node.lastHeartbeat,
      lastHeartbeatAgeSeconds: Number.isNaN(at) ? null : Math.max(0, Math.round((now - at) / 1000)),
    };
  });
}

export async function runProxyStatus(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(PROXY_STATUS_USAGE, args, {});
  expectArgs(PROXY_STATUS_USAGE, positionals, 0);
  const listed = await ctx.client.listNodes();
  const now = ctx.io.now();
  const rows = proxyStatusRows(listed, now);
  emit(ctx, { revision: listed.revision, nodes: rows }, () => {
    if (rows.length === 0) return `no sidecars registered (control plane at revision ${listed.revision})\n`;
    return renderTable(
      ["NODE", "ADDRESS", "HEALTHY", "CONFIG REVISION", "CONTROL PLANE", "SYNC", "BEHIND", "LAST HEARTBEAT"],
      rows.map((row) => [
        row.id,
        row.address,
        row.healthy ? "yes" : "no",
        dash(row.configRevision),
        String(row.controlPlaneRevision),
        row.sync.toUpperCase(),
        row.sync === "stale" ? dash(row.behind) : "-",
        formatAge(row.lastHeartbeat, now),
      ]),
    );
  });
  return 0;
}
