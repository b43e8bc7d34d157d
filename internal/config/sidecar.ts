import { httpUrl, listenAddress, nameList, nodeId, redisUrl, text } from "./fields.ts";
import type { CommandSpec, ConfigOf } from "./load.ts";
import { controlPlaneEndpointsOption, daemonOptions, tokenOption } from "./shared-options.ts";

const sidecarOptions = {
  nodeId: {
    flag: "node-id",
    env: "NODE_ID",
    placeholder: "ID",
    description: "This business node's id in the service registry.",
    defaultText: "required",
    schema: nodeId(),
  },
  inboundListen: {
    flag: "inbound-listen",
    env: "NAGENT_INBOUND_LISTEN",
    placeholder: "HOST:PORT",
    description: "Where other sidecars call this node's domains.",
    defaultText: "0.0.0.0:15006",
    schema: listenAddress().default({ host: "0.0.0.0", port: 15006 }),
  },
  outboundListen: {
    flag: "outbound-listen",
    env: "NAGENT_OUTBOUND_LISTEN",
    placeholder: "HOST:PORT",
    description: "Where the local app calls other domains and reads its configuration.",
    defaultText: "127.0.0.1:15001",
    schema: listenAddress().default({ host: "127.0.0.1", port: 15001 }),
  },
  advertise: {
    flag: "advertise",
    env: "NAGENT_ADVERTISE",
    placeholder: "URL",
    description: "How other sidecars reach the inbound port.",
    defaultText: "http://<host name>:<inbound port>",
    schema: httpUrl().optional(),
  },
  domains: {
    flag: "domains",
    env: "NODE_TYPE",
    placeholder: "NAME,...",
    description: "Business domains served by the local app, e.g. communication,execution.",
    defaultText: "none",
    schema: nameList().default([]),
  },
  controlPlane: controlPlaneEndpointsOption("Control-plane members; the sidecar fails over between them."),
  app: {
    flag: "app",
    env: "NAGENT_APP",
    placeholder: "URL",
    description: "The local business service that inbound calls are forwarded to.",
    defaultText: "none",
    schema: httpUrl().optional(),
  },
  redisUrl: {
    flag: "redis-url",
    env: "NAGENT_REDIS_URL",
    placeholder: "URL",
    description: "Optional Redis shared by sidecars as a token cache.",
    defaultText: "none",
    schema: redisUrl().optional(),
  },
  cacheDir: {
    flag: "cache-dir",
    env: "NAGENT_CACHE_DIR",
    placeholder: "DIR",
    description: "Last known configuration, registry, policies and keys, for starting while the control plane is down.",
    defaultText: "./nagent-cache",
    schema: text().default("./nagent-cache"),
  },
  token: tokenOption("Credential towards the control plane (a node token or the admin token)."),
  ...daemonOptions,
} as const;

export type SidecarConfig = ConfigOf<typeof sidecarOptions>;

/** The sidecar binary's command line. */
export const sidecarCommand: CommandSpec<typeof sidecarOptions> = {
  name: "sidecar",
  summary: "the Nagent Mesh sidecar proxy for one business node",
  options: sidecarOptions,
  check(config) {
    const { inboundListen: a, outboundListen: b } = config;
    if (a.port !== 0 && a.port === b.port) {
      return { flag: "outbound-listen", reason: `port ${b.port} is also --inbound-listen's` };
    }
    return undefined;
  },
};
