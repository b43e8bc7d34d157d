import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../../telemetry/index.ts";

export const DEFAULT_OTLP_ENDPOINT = "http://127.0.0.1:4318/v1/traces";
export const DEFAULT_JAEGER_ENDPOINT = "http://127.0.0.1:14268/api/traces";

/** How long one export request may take before the exporter gives up on it. */
export const EXPORT_TIMEOUT_MS = 10_000;
/** At most one warning per this interval while exports keep failing. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

export type ExporterKind = "otlp" | "jaeger";

/** The upstream exporter for `kind`, with its endpoint. */
export function createSpanExporter(kind: ExporterKind, endpoint: string): SpanExporter {
  if (kind === "jaeger") {
    // Deprecated upstream; kept for collectors older than Jaeger 1.35, which cannot take OTLP.
    return new LazyJaegerExporter(endpoint);
  }
  // OTLP/HTTP with the JSON encoding: what this exporter package sends, and what every OTLP
  // collector (and Jaeger since 1.35) accepts on /v1/traces.
  return new OTLPTraceExporter({ url: endpoint, timeoutMillis: EXPORT_TIMEOUT_MS, concurrencyLimit: 4 });
}

/**
 * The Jaeger exporter, loaded on first use: its Thrift dependencies are old CommonJS that cannot
 * even be evaluated inside a single-file executable, so a sidecar that does not ask for Jaeger
 * must never load them. When loading fails, every export fails with the reason (and is logged).
 */
class LazyJaegerExporter implements SpanExporter {
  private loaded: Promise<SpanExporter> | undefined;

  constructor(private readonly endpoint: string) {}

  private load(): Promise<SpanExporter> {
    this.loaded ??= import("@opentelemetry/exporter-jaeger").then(
      ({ JaegerExporter }) => new JaegerExporter({ endpoint: this.endpoint, flushTimeout: EXPORT_TIMEOUT_MS }),
      (error: unknown) => {
        throw new Error(`the Jaeger exporter cannot be loaded here (${(error as Error).message}); use --trace-exporter otlp, which Jaeger 1.35+ accepts`, { cause: error });
      },
    );
    return this.loaded;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.load().then(
      (exporter) => exporter.export(spans, resultCallback),
      (error: Error) => resultCallback({ code: ExportResultCode.FAILED, error }),
    );
  }

  async shutdown(): Promise<void> {
    if (this.loaded) await (await this.loaded.catch(() => undefined))?.shutdown();
  }

  async forceFlush(): Promise<void> {
    if (this.loaded) await (await this.loaded.catch(() => undefined))?.forceFlush?.();
  }
}

/**
 * Wraps an exporter so that (1) the export, which serialises a whole batch, never runs inside the
 * `span.end()` that filled the batch (the batch processor calls `export` synchronously from there
 * once a batch is full): it is deferred to the next turn of the event loop, off the request path;
 * and (2) failures reach our logger, at most once a minute, instead of the OpenTelemetry global
 * diagnostics logger that nobody reads.
 */
export class DeferredLoggingExporter implements SpanExporter {
  private failuresSinceLog = 0;
  private lastFailureLogAt = Number.NEGATIVE_INFINITY;
  private failing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly logger: Logger,
    private readonly description: { exporter: ExporterKind; endpoint: string },
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    setImmediate(() => {
      try {
        this.inner.export(spans, (result) => {
          this.record(result, spans.length);
          resultCallback(result);
        });
      } catch (error) {
        const result = { code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) };
        this.record(result, spans.length);
        resultCallback(result);
      }
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  private record(result: ExportResult, spanCount: number): void {
    if (result.code === ExportResultCode.SUCCESS) {
      if (this.failing) {
        this.failing = false;
        this.logger.info({ ...this.description, failedBatches: this.failuresSinceLog }, "trace export recovered");
        this.failuresSinceLog = 0;
      }
      return;
    }
    this.failing = true;
    this.failuresSinceLog++;
    const now = Date.now();
    if (now - this.lastFailureLogAt < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLogAt = now;
    this.logger.warn(
      { ...this.description, spans: spanCount, failedBatches: this.failuresSinceLog, err: result.error?.message },
      "trace export failed; spans dropped",
    );
    this.failuresSinceLog = 0;
  }
}
