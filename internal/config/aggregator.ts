import { listenAddress, text, urlList } from "./fields.ts";
import type { CommandSpec, ConfigOf } from "./load.ts";
import { daemonOptions } from "./daemon.ts";

const aggregatorOptions = {
  listen: {
    flag: "listen",
    env: "NAGENT_LISTEN",
    placeholder: "HOST:PORT",
    description: "Address of the cluster metrics API and dashboard.",
    defaultText: "0.0.0.0:9100",
    schema: listenAddress().default({ host: "0.0.0.0", port: 9100 }),
  },
  controlPlane: {
    flag: "control-plane",
    env: "CONTROL_PLANE_ENDPOINTS",
    placeholder: "URL,...",
    description: "Control-plane members, where the registry of nodes is read.",
    defaultText: "http://127.0.0.1:8080",
    schema: urlList().default(["http://127.0.0.1:8080"]),
  },
  token: {
    flag: "token",
    env: "NAGENT_TOKEN",
    placeholder: "TOKEN",
    description: "Credential towards the control plane.",
    defaultText: "none",
    schema: text().optional(),
  },
  ...daemonOptions,
} as const;

export type AggregatorConfig = ConfigOf<typeof aggregatorOptions>;

/** The aggregator binary's command line. */
export const aggregatorCommand: CommandSpec<typeof aggregatorOptions> = {
  name: "aggregator",
  summary: "the Nagent Mesh metrics aggregator (cluster view, alerts, dashboard)",
  options: aggregatorOptions,
};
