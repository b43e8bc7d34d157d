#!/usr/bin/env bun
// sidecar: the proxy in front of one business node's agent service.
import { launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { sidecarCommand } from "../../internal/config/index.ts";
import { createDaemonApp } from "../../internal/server/index.ts";

const { config } = parseOrExit(sidecarCommand);
await launchDaemon({
  service: "sidecar",
  nodeId: config.nodeId,
  config,
  listeners: ({ logger, metrics }) => [
    {
      name: "inbound",
      address: config.inboundListen,
      daemon: createDaemonApp({ logger, metrics, maxBodyBytes: config.maxBodyBytes }),
    },
    {
      name: "outbound",
      address: config.outboundListen,
      daemon: createDaemonApp({ logger, metrics, maxBodyBytes: config.maxBodyBytes }),
    },
  ],
});
