#!/usr/bin/env bun
// aggregator: the cluster-wide metrics view, alerts and dashboard.
import { launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { aggregatorCommand } from "../../internal/config/index.ts";
import { createDaemonApp } from "../../internal/server/index.ts";

const { config } = parseOrExit(aggregatorCommand);
await launchDaemon({
  service: "aggregator",
  config,
  listeners: ({ logger, metrics }) => [
    {
      name: "api",
      address: config.listen,
      daemon: createDaemonApp({ logger, metrics, maxBodyBytes: config.maxBodyBytes }),
    },
  ],
});
