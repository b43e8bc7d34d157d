// Alert notifications in Alertmanager's webhook format, so anything that takes Alertmanager's
// webhooks (or Alertmanager itself, through a relay) can receive them. Delivery is queued and
// retried with backoff on its own; it never holds up a collection cycle.
import type { Logger } from "../telemetry/index.ts";
import type { AlertChange } from "./alerts.ts";

export interface WebhookOptions {
  readonly url: string;
  /** The aggregator's own address, for generatorURL and externalURL. */
  readonly externalUrl: string;
  readonly logger: Logger;
  readonly timeoutMs?: number;
  /** Attempts per message; default 4 (waits of 0.5, 1, 2 s between). */
  readonly attempts?: number;
}

/** One Alertmanager webhook message (version 4) for a set of alert changes. */
export function webhookMessage(changes: readonly AlertChange[], externalUrl: string): unknown {
  const alerts = changes.map((change) => {
    const firing = change.to === "firing";
    const labels = { alertname: alertName(change.rule.name), metric: change.rule.name, severity: severityOf(change.rule.name) };
    return {
      status: firing ? "firing" : "resolved",
      labels,
      annotations: {
        summary: `${change.rule.name} is ${firing ? "past" : "back within"} its threshold (${change.rule.comparison === "<" ? "below" : "above"} ${change.rule.threshold} is bad)`,
        description: `${change.rule.description}: ${change.value ?? "no value"} ${change.rule.unit}, threshold ${change.rule.threshold}`,
      },
      startsAt: new Date(change.activeAt ?? change.at).toISOString(),
      endsAt: firing ? "0001-01-01T00:00:00Z" : new Date(change.at).toISOString(),
      generatorURL: `${externalUrl}/v1/alerts`,
      fingerprint: change.rule.name,
    };
  });
  const status = alerts.some((alert) => alert.status === "firing") ? "firing" : "resolved";
  return {
    version: "4",
    groupKey: "{}:{alertname=~\"Nagent.*\"}",
    truncatedAlerts: 0,
    status,
    receiver: "nagent-aggregator",
    groupLabels: {},
    commonLabels: alerts.length === 1 ? alerts[0]!.labels : {},
    commonAnnotations: {},
    externalURL: externalUrl,
    alerts,
  };
}

/** CamelCase alert name, as the Prometheus rules in build/prometheus name them. */
export function alertName(metric: string): string {
  const names: Record<string, string> = {
    control_plane_availability: "NagentControlPlaneAvailabilityLow",
    config_sync_latency: "NagentConfigSyncLatencyHigh",
    cross_node_latency: "NagentCrossNodeLatencyHigh",
    network_partition_duration: "NagentNetworkPartition",
    request_success_rate: "NagentRequestSuccessRateLow",
    circuit_breaker_open_count: "NagentCircuitBreakersOpen",
  };
  return names[metric] ?? `Nagent_${metric}`;
}

function severityOf(metric: string): string {
  return metric === "control_plane_availability" || metric === "network_partition_duration" ? "critical" : "warning";
}

/** Queues messages and delivers them one at a time, in order, with retries. */
export class WebhookNotifier {
  readonly #queue: unknown[] = [];
  #sending = false;
  #closed = false;
  delivered = 0;
  failed = 0;

  constructor(private readonly options: WebhookOptions) {}

  notify(changes: readonly AlertChange[]): void {
    const relevant = changes.filter((change) => change.to === "firing" || (change.from === "firing" && change.to === "ok"));
    if (relevant.length === 0 || this.#closed) return;
    this.#queue.push(webhookMessage(relevant, this.options.externalUrl));
    if (this.#queue.length > 100) this.#queue.shift(); // a receiver gone for long: keep the latest
    void this.#drain();
  }

  close(): void {
    this.#closed = true;
  }

  async #drain(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const message = this.#queue[0];
        const ok = await this.#deliver(message);
        this.#queue.shift();
        if (ok) this.delivered++;
        else this.failed++;
      }
    } finally {
      this.#sending = false;
    }
  }

  async #deliver(message: unknown): Promise<boolean> {
    const attempts = this.options.attempts ?? 4;
    let wait = 500;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(this.options.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        });
        await response.body?.cancel().catch(() => {});
        if (response.ok) return true;
        this.options.logger.warn({ url: this.options.url, status: response.status, attempt }, "the alert webhook refused a notification");
      } catch (error) {
        this.options.logger.warn({ url: this.options.url, err: (error as Error).message, attempt }, "the alert webhook could not be reached");
      }
      if (attempt < attempts && !this.#closed) {
        await Bun.sleep(wait);
        wait *= 2;
      }
    }
    this.options.logger.error({ url: this.options.url }, "an alert notification was dropped after every attempt failed");
    return false;
  }
}
