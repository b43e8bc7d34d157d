// The aggregator: the cluster view, the six critical metrics with alerts, Prometheus discovery and
// the dashboard (docs/aggregator.md).
export { Aggregator, type AggregatorOptions, type ClusterMetricsView, type TargetGroup } from "./aggregator.ts";
export { AlertEvaluator, criticalRules, type AlertRule, type AlertState, type AlertView } from "./alerts.ts";
export { mountAggregatorApi } from "./api.ts";
export { CRITICAL_METRIC_EXPORTS, createAggregatorMetrics, type AggregatorMetrics } from "./metrics.ts";
export { WebhookNotifier, alertName, webhookMessage } from "./webhook.ts";
