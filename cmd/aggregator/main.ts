#!/usr/bin/env bun
// aggregator: the cluster-wide metrics view, alerts and dashboard.
import { ControlPlaneClient } from "../../pkg/index.ts";
import { Aggregator, WebhookNotifier, createAggregatorMetrics, mountAggregatorApi } from "../../internal/aggregator/index.ts";
import { launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { aggregatorCommand } from "../../internal/config/index.ts";
import { createDaemonApp } from "../../internal/server/index.ts";

const { config } = parseOrExit(aggregatorCommand);
let aggregator: Aggregator | undefined;
await launchDaemon({
  service: "aggregator",
  config,
  listeners: ({ logger, metrics }) => {
    const host = config.listen.host === "0.0.0.0" || config.listen.host === "::" ? "127.0.0.1" : config.listen.host;
    const externalUrl = `http://${host}:${config.listen.port}`;
    aggregator = new Aggregator({
      client: new ControlPlaneClient({ endpoints: config.controlPlane, ...(config.token ? { token: config.token } : {}), timeoutMs: config.scrapeTimeout }),
      logger,
      metrics: createAggregatorMetrics(metrics.registry),
      scrapeIntervalMs: config.scrapeInterval,
      scrapeTimeoutMs: config.scrapeTimeout,
      windowMs: config.window,
      alertForMs: config.alertFor,
      alertResolveForMs: config.alertResolveFor,
      thresholds: config.thresholds,
      ...(config.webhookUrl ? { webhook: new WebhookNotifier({ url: config.webhookUrl, externalUrl, logger }) } : {}),
    });
    const daemon = createDaemonApp({ logger, metrics, maxBodyBytes: config.maxBodyBytes });
    mountAggregatorApi(daemon.app, aggregator);
    return [{ name: "api", address: config.listen, daemon }];
  },
  onStop: () => aggregator?.stop(),
});
aggregator?.start();
