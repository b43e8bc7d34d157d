import { listenAddress } from "./fields.ts";
import type { CommandSpec, ConfigOf } from "./load.ts";
import { controlPlaneEndpointsOption, daemonOptions, tokenOption } from "./shared-options.ts";

const aggregatorOptions = {
  listen: {
    flag: "listen",
    env: "NAGENT_LISTEN",
    placeholder: "HOST:PORT",
    description: "Address of the cluster metrics API and dashboard.",
    defaultText: "0.0.0.0:9100",
    schema: listenAddress().default({ host: "0.0.0.0", port: 9100 }),
  },
  controlPlane: controlPlaneEndpointsOption("Control-plane members, where the registry of nodes is read."),
  token: tokenOption("Credential towards the control plane."),
  ...daemonOptions,
} as const;

export type AggregatorConfig = ConfigOf<typeof aggregatorOptions>;

/** The aggregator binary's command line. */
export const aggregatorCommand: CommandSpec<typeof aggregatorOptions> = {
  name: "aggregator",
  summary: "the Nagent Mesh metrics aggregator (cluster view, alerts, dashboard)",
  options: aggregatorOptions,
};
