import { duration, httpUrl, listenAddress, thresholds } from "./fields.ts";
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
  token: tokenOption("Credential towards the control plane (the admin token)."),
  scrapeInterval: {
    flag: "scrape-interval",
    env: "NAGENT_SCRAPE_INTERVAL",
    placeholder: "DURATION",
    description: "One collection cycle: every node and member is scraped this often.",
    defaultText: "5s",
    schema: duration().refine((ms) => ms >= 100, { error: "expected at least 100ms" }).default(5_000),
  },
  scrapeTimeout: {
    flag: "scrape-timeout",
    env: "NAGENT_SCRAPE_TIMEOUT",
    placeholder: "DURATION",
    description: "How long one target may take to answer before it is counted down.",
    defaultText: "2s",
    schema: duration().refine((ms) => ms >= 10, { error: "expected at least 10ms" }).default(2_000),
  },
  window: {
    flag: "window",
    env: "NAGENT_WINDOW",
    placeholder: "DURATION",
    description: "Rates, ratios and percentiles are computed over this window.",
    defaultText: "5m",
    schema: duration().refine((ms) => ms >= 1_000, { error: "expected at least 1s" }).default(300_000),
  },
  alertFor: {
    flag: "alert-for",
    env: "NAGENT_ALERT_FOR",
    placeholder: "DURATION",
    description: "A condition must hold this long before its alert fires (pending until then).",
    defaultText: "30s",
    schema: duration().default(30_000),
  },
  alertResolveFor: {
    flag: "alert-resolve-for",
    env: "NAGENT_ALERT_RESOLVE_FOR",
    placeholder: "DURATION",
    description: "A firing alert resolves only once its condition has been false this long.",
    defaultText: "30s",
    schema: duration().default(30_000),
  },
  thresholds: {
    flag: "thresholds",
    env: "NAGENT_THRESHOLDS",
    placeholder: "NAME=VALUE,...",
    description: "Threshold overrides for the critical metrics, e.g. cross_node_latency=0.1,request_success_rate=0.9 (seconds, ratios, counts).",
    defaultText: "the design's: control_plane_availability=0.99, config_sync_latency=10, cross_node_latency=0.05, network_partition_duration=30, request_success_rate=0.95, circuit_breaker_open_count=5",
    schema: thresholds().default({}),
  },
  webhookUrl: {
    flag: "webhook-url",
    env: "NAGENT_WEBHOOK_URL",
    placeholder: "URL",
    description: "Where alert transitions are POSTed as Alertmanager webhook messages.",
    defaultText: "none",
    schema: httpUrl().optional(),
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
