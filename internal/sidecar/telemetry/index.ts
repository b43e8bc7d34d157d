// Tracing and metrics for the sidecar's request pipeline.
export {
  ATTR_NAGENT_DOMAIN,
  ATTR_NAGENT_INSTANCE,
  ATTR_NODE_FROM,
  ATTR_NODE_TO,
  createTracing,
  type ClientSpan,
  type ClientSpanInfo,
  type RequestSpan,
  type ServerSpan,
  type ServerSpanInfo,
  type SpanResult,
  type Tracing,
  type TracingOptions,
} from "./tracing.ts";
export { DEFAULT_JAEGER_ENDPOINT, DEFAULT_OTLP_ENDPOINT } from "./exporter.ts";
export {
  BoundedLabel,
  createSidecarMetrics,
  DEFAULT_MAX_DOMAINS,
  methodLabel,
  OTHER_DOMAIN,
  statusClass,
  type AuthResult,
  type AuthTier,
  type BreakerState,
  type Direction,
  type FallbackStrategy,
  type MethodLabel,
  type SidecarMetrics,
  type SidecarMetricsOptions,
  type StatusClass,
} from "./metrics.ts";
