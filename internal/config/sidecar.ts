import { duration, fraction, httpUrl, listenAddress, nameList, nodeId, oneOf, redisUrl, text } from "./fields.ts";
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
  authDownPolicy: {
    flag: "auth-down-policy",
    env: "NAGENT_AUTH_DOWN_POLICY",
    placeholder: "POLICY",
    description:
      "While no control-plane member answers: extend-cache (honour cached credential decisions past their cache time, never past a token's expiry), deny (refuse credentials not verifiable locally), or allow (let them through unverified).",
    defaultText: "extend-cache",
    schema: oneOf(["extend-cache", "deny", "allow"] as const).default("extend-cache"),
  },
  registrationTtl: {
    flag: "registration-ttl",
    env: "NAGENT_REGISTRATION_TTL",
    placeholder: "DURATION",
    description: "TTL of this node's registration: heartbeats every third of it; without one for this long the node leaves routing.",
    defaultText: "10s",
    schema: duration().default(10_000),
  },
  drainDelay: {
    flag: "drain-delay",
    env: "NAGENT_DRAIN_DELAY",
    placeholder: "DURATION",
    description:
      "On SIGTERM or SIGINT, how long the sidecar keeps serving after it has left the registry, so that every other sidecar learns it is gone before its ports close (like Istio's terminationDrainDuration); then in-flight requests get --shutdown-timeout.",
    defaultText: "5s",
    schema: duration().default(5_000),
  },
  traceSampleRatio: {
    flag: "trace-sample-ratio",
    env: "NAGENT_TRACE_SAMPLE_RATIO",
    placeholder: "RATIO",
    description: "Share of new traces recorded, 0 to 1; a request that arrives with a sampled traceparent is always recorded.",
    defaultText: "0.01",
    schema: fraction(0, 1).default(0.01),
  },
  traceExporter: {
    flag: "trace-exporter",
    env: "NAGENT_TRACE_EXPORTER",
    placeholder: "KIND",
    description: "otlp (OTLP/HTTP, which Jaeger 1.35+ ingests), jaeger (the legacy Jaeger collector API), or none.",
    defaultText: "otlp",
    schema: oneOf(["otlp", "jaeger", "none"] as const).default("otlp"),
  },
  otlpEndpoint: {
    flag: "otlp-endpoint",
    env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    placeholder: "URL",
    description: "Where OTLP/HTTP trace exports go.",
    defaultText: "http://127.0.0.1:4318/v1/traces",
    schema: httpUrl().default("http://127.0.0.1:4318/v1/traces"),
  },
  jaegerEndpoint: {
    flag: "jaeger-endpoint",
    env: "NAGENT_JAEGER_ENDPOINT",
    placeholder: "URL",
    description: "The Jaeger collector's HTTP endpoint, with --trace-exporter jaeger.",
    defaultText: "http://127.0.0.1:14268/api/traces",
    schema: httpUrl().default("http://127.0.0.1:14268/api/traces"),
  },
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
    if (config.registrationTtl < 1000 || config.registrationTtl > 3_600_000) {
      return { flag: "registration-ttl", reason: "must be from 1s to 1h" };
    }
    if (config.drainDelay > 300_000) {
      return { flag: "drain-delay", reason: "must be at most 5m" };
    }
    return undefined;
  },
};
