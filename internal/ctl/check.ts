// `nagentctl check`, in the manner of `linkerd check`: one line per check grouped by category, a
// hint under every check that fails or warns, a summary, `{success, checks}` with -o json, and a
// non-zero exit when any check fails (warnings do not fail). Categories:
//   control plane <endpoint>  each endpoint alive (/healthz), ready (/readyz), API answering with the credential
//   cluster                   a leader, a quorum of reachable voters, one leader for all, each member's lag
//   authentication            the signing key's age against its rotation interval
//   registry                  unhealthy nodes, nodes whose configuration is stale
// A route the control plane does not serve (an older version) fails its check; it is not a crash.
import { ControlPlaneClient, ForbiddenError, UnauthenticatedError, UnavailableError, type ClusterMember, type ClusterStatus, type NodeList, type SigningKeys } from "../../pkg/index.ts";
import { expectArgs, parseCommandArgs, UsageError } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { describeError, isMissingRoute } from "./errors.ts";
import { formatAge, formatSeconds } from "./output.ts";

export interface CheckOptions {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly token?: string;
  /** Entries a member may be behind the leader before its lag check warns. Default 1000. */
  readonly maxLag?: number;
  readonly now?: () => number;
}

export interface CheckResult {
  readonly category: string;
  readonly name: string;
  readonly ok: boolean;
  /** Passed, but something deserves attention (the hint says what). */
  readonly warning?: boolean;
  readonly detail: string;
  readonly hint?: string;
  readonly endpoint?: string;
  readonly latencyMs?: number;
}

export interface CheckReport {
  readonly success: boolean;
  readonly checks: readonly CheckResult[];
}

export const DEFAULT_MAX_LAG = 1000;

const HINTS = {
  reachable: "is a control plane running at this address? Check --endpoints (NAGENT_ENDPOINTS) and the process (its log, `systemctl status`)",
  ready: "the member is up but not ready: it needs a leader and to have applied what is committed; see `nagentctl cluster status` and the member's log",
  token: "pass the admin credential with --token or NAGENT_TOKEN (a generated one is in DATA_DIR/admin-token on the first member)",
  forbidden: "this credential may not read the cluster status; use the admin credential",
  upgrade: "this control plane predates the API this check reads; upgrade it to the version of this nagentctl",
  noLeader: "no leader: a majority of the voters must be running and reach each other; start the stopped members (`nagentctl cluster status` lists them) and read their logs",
  quorum: "the cluster accepts writes only while a majority of its voters reach each other: start the unreachable members or repair the network to them",
  agreement: "a member that disagrees is cut off from the others or stuck in an old term: check the network between members and that member's log; restart it if it stays apart",
  lag: "a member this far behind is overloaded, on a slow disk or network, or catching up after a restart; it should catch up by itself, otherwise read its log (a member far behind is sent a snapshot)",
  keys: "the leader rotates signing keys on schedule: look for rotation errors in the leader's log, and rotate now with POST /v1/auth/keys/rotate",
  unhealthy: "an unhealthy node missed its heartbeats and is out of routing: check that its sidecar runs and reaches the control plane (its log, `nagentctl proxy-status`); it is removed after removeAfterSeconds",
  stale: "a stale sidecar has not applied the latest configuration yet: compare with `nagentctl proxy-status` and read the sidecar's /v1/status and log",
  unknown: "the control plane refused or failed the request: read the detail, and the member's log for the request",
} as const;

type Probe = "reachable" | "ready";

async function probe(endpoint: string, check: Probe, path: string, options: CheckOptions): Promise<CheckResult> {
  const category = `control plane ${endpoint}`;
  const started = performance.now();
  try {
    const response = await fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(options.timeoutMs) });
    const latencyMs = Math.round(performance.now() - started);
    const body = (await response.json().catch(() => ({}))) as { reason?: string };
    if (response.ok) return { category, name: check, ok: true, detail: `${path} answered ${response.status}`, endpoint, latencyMs };
    const reason = body.reason ? `: ${body.reason}` : "";
    return { category, name: check, ok: false, detail: `${path} answered ${response.status}${reason}`, hint: HINTS[check], endpoint, latencyMs };
  } catch (error) {
    const name = (error as Error).name;
    const code = (error as { code?: string }).code;
    const reason =
      name === "TimeoutError" || name === "AbortError"
        ? `no answer within ${options.timeoutMs} ms`
        : code === "ECONNREFUSED" || code === "ConnectionRefused"
          ? "connection refused"
          : (code ?? (error as Error).message);
    return { category, name: check, ok: false, detail: `${path}: ${reason}`, hint: HINTS.reachable, endpoint };
  }
}

/** Why a member could not be asked, briefly: the connection's failure rather than the whole UnavailableError. */
function reasonOf(error: unknown): string {
  if (error instanceof UnavailableError) return error.failures.map((failure) => failure.reason).join("; ") || error.message;
  return describeError(error);
}

function hintFor(error: unknown): string {
  if (error instanceof UnauthenticatedError) return HINTS.token;
  if (error instanceof ForbiddenError) return HINTS.forbidden;
  if (isMissingRoute(error)) return HINTS.upgrade;
  return HINTS.unknown;
}

/** One member's own view of the cluster, and which member it is (the one reporting its own indexes). */
interface MemberView {
  readonly via: string;
  readonly status: ClusterStatus;
  readonly self: ClusterMember | undefined;
}

function selfOf(status: ClusterStatus): ClusterMember | undefined {
  return status.members.find((member) => member.commitIndex !== undefined);
}

async function viewOf(endpoint: string, options: CheckOptions): Promise<MemberView | { via: string; error: unknown }> {
  const client = new ControlPlaneClient({ endpoints: [endpoint], timeoutMs: options.timeoutMs, ...(options.token ? { token: options.token } : {}) });
  try {
    const status = await client.clusterStatus();
    return { via: endpoint, status, self: selfOf(status) };
  } catch (error) {
    return { via: endpoint, error };
  }
}

function isView(value: MemberView | { via: string; error: unknown }): value is MemberView {
  return "status" in value;
}

/** Every check of `nagentctl check`; endpoints are probed in parallel. */
export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const probes = (
    await Promise.all(
      options.endpoints.map(async (endpoint): Promise<CheckResult[]> => {
        const alive = await probe(endpoint, "reachable", "/healthz", options);
        if (!alive.ok) return [alive, { ...alive, name: "ready", detail: "not checked: the endpoint is unreachable", latencyMs: undefined }];
        return [alive, await probe(endpoint, "ready", "/readyz", options)];
      }),
    )
  ).flat();
  const checks: CheckResult[] = [...probes];
  if (options.endpoints.length === 0) {
    checks.push({ category: "cluster", name: "endpoints", ok: false, detail: "no control-plane endpoint given", hint: "pass --endpoints URL,... or set NAGENT_ENDPOINTS" });
  } else if (!options.token) {
    checks.push({
      category: "cluster",
      name: "credential",
      ok: true,
      warning: true,
      detail: "no credential given: the API, quorum, leader, lag, signing-key and registry checks were skipped",
      hint: HINTS.token,
    });
  } else {
    const reachable = new Set(probes.filter((p) => p.name === "reachable" && p.ok).map((p) => p.endpoint));
    // With no endpoint reachable the other checks could only repeat that failure.
    if (reachable.size > 0) {
      const [cluster, keys, registry] = await Promise.all([clusterChecks(options, reachable), keyChecks(options), registryChecks(options)]);
      checks.push(...cluster, ...keys, ...registry);
    }
  }
  // Each endpoint's checks together (the API check joins its probes), then the cluster-wide ones.
  const perEndpoint = options.endpoints.flatMap((endpoint) => checks.filter((check) => check.endpoint === endpoint));
  const ordered = [...new Set([...perEndpoint, ...checks])];
  return { success: ordered.length > 0 && ordered.every((check) => check.ok), checks: ordered };
}

async function clusterChecks(options: CheckOptions, reachable: ReadonlySet<string | undefined>): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const answers = await Promise.all(options.endpoints.map((endpoint) => viewOf(endpoint, options)));
  for (const answer of answers) {
    if (!reachable.has(answer.via)) continue;
    const category = `control plane ${answer.via}`;
    if (isView(answer)) {
      out.push({ category, name: "API", ok: true, detail: `GET /v1/cluster answered${answer.self ? ` as ${answer.self.id}` : ""}`, endpoint: answer.via });
    } else {
      out.push({ category, name: "API", ok: false, detail: `GET /v1/cluster: ${describeError(answer.error)}`, hint: hintFor(answer.error), endpoint: answer.via });
    }
  }
  const views = answers.filter(isView);
  const first = views[0];
  if (!first) {
    out.push({ category: "cluster", name: "status", ok: false, detail: "no endpoint answered GET /v1/cluster", hint: answers.length > 0 ? hintFor((answers[0] as { error: unknown }).error) : HINTS.reachable });
    return out;
  }
  if (first.status.store === "etcd") {
    const leader = views.find((view) => view.status.leader)?.status.leader ?? null;
    out.push(
      leader
        ? { category: "cluster", name: "leader", ok: true, detail: `etcd store; etcd member ${leader} leads (quorum and lag are etcd's own: etcdctl endpoint status)` }
        : { category: "cluster", name: "leader", ok: false, detail: "etcd store without a leader", hint: "check the etcd cluster: etcdctl endpoint health" },
    );
    return out;
  }

  // Every member's own view: from the endpoints given, then from the members' advertised URLs.
  const byMember = new Map<string, MemberView>();
  for (const view of views) if (view.self && !byMember.has(view.self.id)) byMember.set(view.self.id, view);
  const leaderGuess = views.map((view) => view.status.leader).find((leader) => leader !== null) ?? null;
  const members = (leaderGuess !== null ? byMember.get(leaderGuess)?.status.members : undefined) ?? first.status.members;
  const failures = new Map<string, string>();
  await Promise.all(
    members
      .filter((member) => !byMember.has(member.id) && member.url)
      .map(async (member) => {
        const answer = await viewOf(member.url.replace(/\/+$/, ""), options);
        if (isView(answer) && answer.self?.id === member.id) byMember.set(member.id, answer);
        else failures.set(member.id, isView(answer) ? `${member.url} answered as another member` : reasonOf(answer.error));
      }),
  );

  const term = Math.max(...views.map((view) => view.status.term), ...[...byMember.values()].map((view) => view.status.term));
  const leaders = new Map<string, string | null>([...byMember].map(([id, view]) => [id, view.status.leader]));
  const known = [...leaders.values()].filter((leader): leader is string => leader !== null);
  const counts = new Map<string, number>();
  for (const leader of known) counts.set(leader, (counts.get(leader) ?? 0) + 1);
  const leader = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  out.push(
    leader
      ? { category: "cluster", name: "leader", ok: true, detail: `${leader} leads, term ${term}` }
      : { category: "cluster", name: "leader", ok: false, detail: "no member knows a leader", hint: HINTS.noLeader },
  );

  const voters = members.filter((member) => member.role !== "learner");
  const up = voters.filter((member) => byMember.has(member.id));
  const down = voters.filter((member) => !byMember.has(member.id));
  const downText = down.map((member) => `${member.id}: ${failures.get(member.id) ?? "not reached"}`).join("; ");
  const quorum = up.length > voters.length / 2;
  out.push({
    category: "cluster",
    name: "quorum",
    ok: quorum,
    ...(quorum && down.length === 0 ? {} : { warning: quorum, hint: HINTS.quorum }),
    detail: `${up.length} of ${voters.length} voters reachable${down.length > 0 ? ` (${downText})` : ""}`,
  });

  const disagree = [...leaders].filter(([, seen]) => seen !== leader);
  out.push(
    disagree.length === 0
      ? { category: "cluster", name: "leader agreement", ok: true, detail: `the ${leaders.size} reachable member${leaders.size === 1 ? "" : "s"} follow${leaders.size === 1 ? "s" : ""} ${leader ?? "no one"}` }
      : {
          category: "cluster",
          name: "leader agreement",
          ok: false,
          detail: disagree.map(([id, seen]) => (seen === null ? `${id} knows no leader` : `${id} follows ${seen}`)).join("; ") + (leader ? `; the others follow ${leader}` : ""),
          hint: HINTS.agreement,
        },
  );

  const leaderView = leader === undefined ? undefined : byMember.get(leader);
  const leaderCommit = leaderView?.self?.commitIndex;
  if (leaderView && leaderCommit !== undefined) {
    const maxLag = options.maxLag ?? DEFAULT_MAX_LAG;
    // Only members that answered: an unreachable one is the quorum check's business, and the
    // leader's matchIndex for it is stale.
    for (const member of members.filter((m) => byMember.has(m.id))) {
      const own = byMember.get(member.id)?.self;
      const match = leaderView.status.members.find((m) => m.id === member.id)?.matchIndex;
      const applied = own?.appliedIndex;
      const behind = applied !== undefined ? Math.max(0, leaderCommit - applied) : match !== undefined ? Math.max(0, leaderCommit - match) : undefined;
      if (behind === undefined) continue;
      const what = applied !== undefined ? `applied ${applied}` : `log matches to ${match}`;
      const lagging = behind > maxLag;
      out.push({
        category: "cluster",
        name: `lag ${member.id}`,
        ok: true,
        detail: `${behind} entries behind the leader's commit ${leaderCommit}${lagging ? `, more than ${maxLag}` : ""} (${what}${own?.commitIndex !== undefined ? `, commit ${own.commitIndex}` : ""})`,
        ...(lagging ? { warning: true, hint: HINTS.lag } : {}),
      });
    }
  }
  return out;
}

async function keyChecks(options: CheckOptions): Promise<CheckResult[]> {
  const client = new ControlPlaneClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs, ...(options.token ? { token: options.token } : {}) });
  const now = (options.now ?? Date.now)();
  let keys: SigningKeys;
  try {
    keys = await client.signingKeys();
  } catch (error) {
    return [{ category: "authentication", name: "signing keys", ok: false, detail: `GET /v1/auth/keys: ${describeError(error)}`, hint: hintFor(error) }];
  }
  return [signingKeyCheck(keys, now)];
}

/**
 * The rotation clock: the current key is overdue once `nextRotationAt` (or, without it, its
 * creation plus the rotation interval) has passed by more than a grace of a tenth of the
 * interval, at most a minute, which covers the leader's timer and a leader change.
 */
export function signingKeyCheck(keys: SigningKeys, now: number): CheckResult {
  const base = { category: "authentication", name: "signing keys" } as const;
  const current = keys.keys.find((key) => key.kid === keys.current);
  if (!current) return { ...base, ok: false, detail: `the current key ${keys.current} is not among the published keys`, hint: HINTS.keys };
  const interval = keys.rotationIntervalSeconds;
  const since = Date.parse(keys.rotatedAt ?? current.createdAt);
  const ageSeconds = Math.max(0, (now - since) / 1000);
  const next = Date.parse(keys.nextRotationAt);
  const due = Number.isNaN(next) ? since + interval * 1000 : next;
  const lateSeconds = (now - due) / 1000;
  const grace = Math.min(60, interval / 10);
  const age = `current key ${current.kid} is ${formatSeconds(ageSeconds)} old; rotation every ${formatSeconds(interval)}`;
  if (lateSeconds > grace) return { ...base, ok: false, detail: `${age}: overdue by ${formatSeconds(lateSeconds)}`, hint: HINTS.keys };
  const when = lateSeconds <= 0 ? `, next in ${formatSeconds(-lateSeconds)}` : `, next was due ${formatSeconds(lateSeconds)} ago`;
  return { ...base, ok: true, detail: `${age}${when}` };
}

async function registryChecks(options: CheckOptions): Promise<CheckResult[]> {
  const client = new ControlPlaneClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs, ...(options.token ? { token: options.token } : {}) });
  let listed: NodeList;
  try {
    listed = await client.listNodes();
  } catch (error) {
    return [{ category: "registry", name: "node health", ok: false, detail: `GET /v1/nodes: ${describeError(error)}`, hint: hintFor(error) }];
  }
  return registryHealth(listed, (options.now ?? Date.now)());
}

/** Unhealthy nodes fail; healthy nodes with stale configuration warn (a change takes a heartbeat to be reported). */
export function registryHealth(listed: NodeList, now: number): CheckResult[] {
  const nodes = listed.nodes;
  const unhealthy = nodes.filter((node) => !node.healthy);
  const health: CheckResult =
    unhealthy.length === 0
      ? { category: "registry", name: "node health", ok: true, detail: nodes.length === 0 ? "no nodes registered" : `${nodes.length} nodes registered, all healthy` }
      : {
          category: "registry",
          name: "node health",
          ok: false,
          detail: `${unhealthy.length} of ${nodes.length} nodes unhealthy: ${unhealthy.map((node) => `${node.id} (last heartbeat ${formatAge(node.lastHeartbeat, now)})`).join(", ")}`,
          hint: HINTS.unhealthy,
        };
  const stale = nodes.filter((node) => node.healthy && node.sync?.state === "stale");
  const unknown = nodes.filter((node) => node.healthy && node.sync?.state === "unknown");
  const unknownText = unknown.length > 0 ? `; ${unknown.length} not reporting a revision yet (${unknown.map((node) => node.id).join(", ")})` : "";
  const sync: CheckResult =
    stale.length === 0
      ? { category: "registry", name: "config sync", ok: true, detail: nodes.length === 0 ? "no nodes registered" : `every healthy node has applied revision ${listed.revision}${unknownText}` }
      : {
          category: "registry",
          name: "config sync",
          ok: true,
          warning: true,
          detail: `${stale.map((node) => `${node.id} is ${node.sync.behind ?? "?"} revisions behind (at ${node.configRevision ?? "?"})`).join(", ")}; the control plane is at ${listed.revision}${unknownText}`,
          hint: HINTS.stale,
        };
  return [health, sync];
}

/** The report as text (checks grouped by category, hints under failures and warnings) or JSON. */
export function renderCheck(report: CheckReport, format: "text" | "json"): string {
  if (format === "json") return `${JSON.stringify(report, null, 2)}\n`;
  const lines: string[] = [];
  let current = "";
  for (const result of report.checks) {
    if (result.category !== current) {
      if (current) lines.push("");
      current = result.category;
      lines.push(current, "-".repeat(current.length));
    }
    const latency = result.latencyMs === undefined ? "" : ` in ${result.latencyMs} ms`;
    const mark = !result.ok ? "×" : result.warning ? "‼" : "√";
    lines.push(`${mark} ${result.name} (${result.detail}${latency})`);
    if (result.hint && (!result.ok || result.warning)) lines.push(`    hint: ${result.hint}`);
  }
  const failed = report.checks.filter((result) => !result.ok).length;
  const warned = report.checks.filter((result) => result.ok && result.warning).length;
  const warnings = warned > 0 ? `${warned} warning${warned > 1 ? "s" : ""}` : "";
  const summary = report.success
    ? `Status check results are √${warnings ? ` (${warnings})` : ""}`
    : `Status check results are × (${failed} failed${warnings ? `, ${warnings}` : ""})`;
  lines.push("", summary);
  return `${lines.join("\n")}\n`;
}

export const CHECK_USAGE = "check [--max-lag N]";

/** `nagentctl check`: exit 0 when every check passes (warnings allowed), 1 otherwise. */
export async function runCheckCommand(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(CHECK_USAGE, args, { "max-lag": { kind: "string" } });
  expectArgs(CHECK_USAGE, positionals, 0);
  const raw = flags["max-lag"];
  if (raw !== undefined && !/^\d{1,12}$/.test(raw)) throw new UsageError(`--max-lag expects a number of entries, got "${raw}"`);
  const report = await runCheck({
    endpoints: ctx.config.endpoints,
    timeoutMs: ctx.config.timeout,
    now: () => ctx.io.now(),
    ...(raw !== undefined ? { maxLag: Number(raw) } : {}),
    ...(ctx.config.token !== undefined ? { token: ctx.config.token } : {}),
  });
  ctx.io.out(renderCheck(report, ctx.json ? "json" : "text"));
  if (report.success) return 0;
  const failed = report.checks.filter((check) => !check.ok);
  ctx.io.err(`nagentctl: ${failed.length} of ${report.checks.length} checks failed: ${failed.map((check) => check.name).join(", ")}\n`);
  return 1;
}
