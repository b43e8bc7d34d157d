// Alerts on the critical metrics, in the manner of Prometheus's alerting rules: a condition that
// holds is pending until it has held for `for`, then firing; unlike Prometheus, a firing alert
// resolves only once its condition has been false for `resolveFor` (Prometheus's keep_firing_for),
// so a value that wavers around its threshold does not flap between firing and resolved. A
// metric with no value (no requests in the window, say) leaves its alert as it is.
import type { CriticalMetricName } from "../config/index.ts";

export type AlertState = "ok" | "pending" | "firing";
export type Comparison = "<" | ">";

export interface AlertRule {
  readonly name: CriticalMetricName;
  readonly description: string;
  readonly unit: "ratio" | "seconds" | "count";
  /** The alert's condition: value < threshold (ratios) or value > threshold. */
  readonly comparison: Comparison;
  readonly threshold: number;
}

export interface AlertTransition {
  readonly at: string;
  readonly from: AlertState;
  readonly to: AlertState;
  readonly value: number | null;
}

/** One alert as GET /v1/alerts shows it. */
export interface AlertView extends AlertRule {
  readonly value: number | null;
  readonly state: AlertState;
  /** When the current state began (ISO-8601). */
  readonly since: string;
  /** When the condition began to hold, while pending or firing. */
  readonly activeAt: string | null;
  readonly forSeconds: number;
  readonly resolveForSeconds: number;
  /** The latest first, at most MAX_TRANSITIONS. */
  readonly transitions: readonly AlertTransition[];
}

/** What changed in one evaluation, for notifications. */
export interface AlertChange {
  readonly rule: AlertRule;
  readonly from: AlertState;
  readonly to: AlertState;
  readonly value: number | null;
  /** ms since the epoch. */
  readonly activeAt: number | undefined;
  readonly at: number;
}

export const MAX_TRANSITIONS = 20;

/** The seed's six critical metrics with their thresholds (overridable). */
export function criticalRules(thresholds: Partial<Record<CriticalMetricName, number>> = {}): AlertRule[] {
  const rule = (name: CriticalMetricName, description: string, unit: AlertRule["unit"], comparison: Comparison, threshold: number): AlertRule => ({
    name,
    description,
    unit,
    comparison,
    threshold: thresholds[name] ?? threshold,
  });
  return [
    rule("control_plane_availability", "share of the window with a control-plane leader and quorum", "ratio", "<", 0.99),
    rule("config_sync_latency", "the worst node's delay in applying a committed configuration change", "seconds", ">", 10),
    rule("cross_node_latency", "p99 of sidecar-to-sidecar calls over the window", "seconds", ">", 0.05),
    rule("network_partition_duration", "the longest a registered node or control-plane member has been unreachable", "seconds", ">", 30),
    rule("request_success_rate", "share of requests through the sidecars not ending in 5xx or an error, over the window", "ratio", "<", 0.95),
    rule("circuit_breaker_open_count", "circuit breakers open now (one per node and target domain)", "count", ">", 5),
  ];
}

class Alert {
  state: AlertState = "ok";
  since: number;
  activeAt: number | undefined;
  /** While firing: when the condition stopped holding. */
  clearSince: number | undefined;
  value: number | null = null;
  transitions: AlertTransition[] = [];

  constructor(
    readonly rule: AlertRule,
    now: number,
  ) {
    this.since = now;
  }
}

export class AlertEvaluator {
  readonly #alerts: Alert[];

  constructor(
    rules: readonly AlertRule[],
    private readonly forMs: number,
    private readonly resolveForMs: number,
    now: number,
  ) {
    this.#alerts = rules.map((rule) => new Alert(rule, now));
  }

  /** Takes this cycle's values (undefined or null: no value) and answers the transitions made. */
  evaluate(values: Partial<Record<CriticalMetricName, number | null>>, now: number): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const alert of this.#alerts) {
      const raw = values[alert.rule.name];
      const value = raw === undefined || raw === null || !Number.isFinite(raw) ? null : raw;
      alert.value = value;
      if (value === null) continue;
      const holds = alert.rule.comparison === "<" ? value < alert.rule.threshold : value > alert.rule.threshold;
      const before = alert.state;
      switch (alert.state) {
        case "ok":
          if (holds) {
            alert.activeAt = now;
            this.#move(alert, this.forMs <= 0 ? "firing" : "pending", now);
          }
          break;
        case "pending":
          if (!holds) {
            alert.activeAt = undefined;
            this.#move(alert, "ok", now);
          } else if (now - alert.activeAt! >= this.forMs) {
            this.#move(alert, "firing", now);
          }
          break;
        case "firing":
          if (holds) {
            alert.clearSince = undefined;
          } else {
            alert.clearSince ??= now;
            if (now - alert.clearSince >= this.resolveForMs) {
              alert.clearSince = undefined;
              const activeAt = alert.activeAt;
              alert.activeAt = undefined;
              this.#move(alert, "ok", now);
              changes.push({ rule: alert.rule, from: "firing", to: "ok", value, activeAt, at: now });
              continue;
            }
          }
          break;
      }
      if (alert.state !== before) changes.push({ rule: alert.rule, from: before, to: alert.state, value, activeAt: alert.activeAt, at: now });
    }
    return changes;
  }

  #move(alert: Alert, to: AlertState, now: number): void {
    alert.transitions.unshift({ at: new Date(now).toISOString(), from: alert.state, to, value: alert.value });
    if (alert.transitions.length > MAX_TRANSITIONS) alert.transitions.length = MAX_TRANSITIONS;
    alert.state = to;
    alert.since = now;
  }

  views(): AlertView[] {
    return this.#alerts.map((alert) => ({
      ...alert.rule,
      value: alert.value,
      state: alert.state,
      since: new Date(alert.since).toISOString(),
      activeAt: alert.activeAt === undefined ? null : new Date(alert.activeAt).toISOString(),
      forSeconds: this.forMs / 1000,
      resolveForSeconds: this.resolveForMs / 1000,
      transitions: alert.transitions,
    }));
  }

  /** The state of each alert: 0 ok, 1 pending, 2 firing (for the nagent_alert_state gauge). */
  states(): { name: CriticalMetricName; code: number }[] {
    return this.#alerts.map((alert) => ({ name: alert.rule.name, code: alert.state === "ok" ? 0 : alert.state === "pending" ? 1 : 2 }));
  }
}
