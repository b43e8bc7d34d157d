export { createLogger, flushLogger, type Logger, type LoggerOptions } from "./logger.ts";
export { createDaemonMetrics, LATENCY_BUCKETS_SECONDS, type DaemonMetrics } from "./metrics.ts";
export { FastHistogram, HistogramChild, type FastHistogramOptions } from "./fast-histogram.ts";
export { captureLogger } from "./capture.ts";
