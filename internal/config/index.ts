export { ConfigError, type ConfigErrorContext } from "./errors.ts";
export type { CriticalMetricName, ListenAddress, Peer, LogLevel } from "./fields.ts";
export { peerList } from "./fields.ts";
export { CRITICAL_METRIC_NAMES } from "./fields.ts";
export {
  parseCommandLine,
  commonOptions,
  type CommandSpec,
  type CommonConfig,
  type ConfigOf,
  type Option,
  type OptionSet,
  type ParsedCommandLine,
} from "./load.ts";
export { renderHelp } from "./help.ts";
export { controlPlaneCommand, type ControlPlaneConfig } from "./control-plane.ts";
export { sidecarCommand, type SidecarConfig } from "./sidecar.ts";
export { aggregatorCommand, type AggregatorConfig } from "./aggregator.ts";
export { nagentctlCommand, type NagentctlConfig } from "./nagentctl.ts";
