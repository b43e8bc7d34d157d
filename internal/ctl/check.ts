// `nagentctl check`: is each control-plane member alive and ready? In the manner of `linkerd
// check`: one line per check, a summary, JSON with -o json, and a non-zero exit on any failure.

export interface CheckOptions {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly token?: string;
}

export interface CheckResult {
  readonly endpoint: string;
  /** "reachable" (GET /healthz) or "ready" (GET /readyz). */
  readonly check: "reachable" | "ready";
  readonly ok: boolean;
  readonly detail: string;
  readonly latencyMs?: number;
}

export interface CheckReport {
  readonly success: boolean;
  readonly checks: readonly CheckResult[];
}

/** Probes every endpoint's /healthz and /readyz, all endpoints at once. */
export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const perEndpoint = await Promise.all(
    options.endpoints.map(async (endpoint) => [
      await probe(endpoint, "reachable", "/healthz", options),
      await probe(endpoint, "ready", "/readyz", options),
    ]),
  );
  const checks = perEndpoint.flat();
  return { success: checks.length > 0 && checks.every((check) => check.ok), checks };
}

async function probe(
  endpoint: string,
  check: CheckResult["check"],
  path: string,
  options: CheckOptions,
): Promise<CheckResult> {
  const started = performance.now();
  try {
    const response = await fetch(`${endpoint}${path}`, {
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    });
    const latencyMs = Math.round(performance.now() - started);
    const body = (await response.json().catch(() => ({}))) as { reason?: string };
    if (response.ok) return { endpoint, check, ok: true, detail: `${path} answered ${response.status}`, latencyMs };
    const reason = body.reason ? `: ${body.reason}` : "";
    return { endpoint, check, ok: false, detail: `${path} answered ${response.status}${reason}`, latencyMs };
  } catch (error) {
    const name = (error as Error).name;
    const detail =
      name === "TimeoutError"
        ? `${path}: no answer within ${options.timeoutMs} ms`
        : `${path}: ${(error as { code?: string }).code ?? (error as Error).message}`;
    return { endpoint, check, ok: false, detail };
  }
}

/** The report as text (one line per check) or JSON. */
export function renderCheck(report: CheckReport, format: "text" | "json"): string {
  if (format === "json") return `${JSON.stringify(report, null, 2)}\n`;
  const lines: string[] = [];
  let current = "";
  for (const result of report.checks) {
    if (result.endpoint !== current) {
      if (current) lines.push("");
      current = result.endpoint;
      lines.push(`control plane ${current}`);
      lines.push("-".repeat(14 + current.length));
    }
    const latency = result.latencyMs === undefined ? "" : ` in ${result.latencyMs} ms`;
    lines.push(`${result.ok ? "√" : "×"} ${result.check} (${result.detail}${latency})`);
  }
  const failed = report.checks.filter((result) => !result.ok).length;
  lines.push("", report.success ? "Status check results are √" : `Status check results are × (${failed} failed)`);
  return `${lines.join("\n")}\n`;
}
