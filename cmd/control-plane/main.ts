#!/usr/bin/env bun
// control-plane: one member of the Nagent Mesh control plane.
import { launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { controlPlaneCommand } from "../../internal/config/index.ts";
import { createDaemonApp } from "../../internal/server/index.ts";

const { config } = parseOrExit(controlPlaneCommand);
await launchDaemon({
  service: "control-plane",
  nodeId: config.nodeId,
  config,
  listeners: ({ logger, metrics }) => [
    {
      name: "api",
      address: config.listen,
      daemon: createDaemonApp({ logger, metrics, maxBodyBytes: config.maxBodyBytes }),
    },
  ],
});
