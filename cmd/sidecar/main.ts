#!/usr/bin/env bun
// sidecar: the proxy in front of one business node's agent service.
import { hostname } from "node:os";
import { launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { sidecarCommand } from "../../internal/config/index.ts";
import { Sidecar } from "../../internal/sidecar/index.ts";

const { config } = parseOrExit(sidecarCommand);
let sidecar: Sidecar | undefined;
await launchDaemon({
  service: "sidecar",
  nodeId: config.nodeId,
  config,
  listeners({ logger, metrics }) {
    const advertise = config.advertise ?? `http://${hostname()}:${config.inboundListen.port}`;
    sidecar = new Sidecar({ config, logger, metrics, advertise });
    sidecar.start();
    return sidecar.listeners();
  },
  onDrain: () => sidecar?.drain(),
  onStop: () => sidecar?.stop(),
});
sidecar?.announce();
