// The aggregator's HTTP surface on the daemon skeleton: the cluster view, the alerts, the targets
// for Prometheus's HTTP service discovery, and the dashboard (docs/aggregator.md).
import type { App } from "../server/index.ts";
import type { Aggregator } from "./aggregator.ts";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "./dashboard.ts";

export function mountAggregatorApi(app: App, aggregator: Aggregator): void {
  app.get("/v1/cluster/metrics", (c) => c.json(aggregator.clusterMetrics()));
  app.get("/v1/alerts", (c) => c.json({ alerts: aggregator.alerts() }));
  app.get("/v1/targets", (c) => c.json(aggregator.targets()));
  app.get("/", (c) => {
    c.header("content-security-policy", `${DASHBOARD_CSP}; frame-ancestors 'none'`);
    return c.html(DASHBOARD_HTML);
  });
}
