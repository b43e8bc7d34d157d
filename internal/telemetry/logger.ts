import pino, { type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "../config/index.ts";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** The binary: control-plane, sidecar, aggregator. */
  readonly service: string;
  readonly level: LogLevel;
  /** Node or member id, on every line so that logs from many machines can be merged. */
  readonly nodeId?: string;
  /** Where lines go; stdout (asynchronously buffered) when omitted. */
  readonly destination?: DestinationStream;
}

/**
 * A pino logger writing JSON lines. Stdout is written through an asynchronous buffer so that
 * logging stays off the request path; call `flushLogger` before exiting so nothing is lost.
 */
export function createLogger(options: LoggerOptions): Logger {
  // Asynchronous, but without a minimum buffer: a quiet daemon's last lines must not wait for more.
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level,
      base: { service: options.service, ...(options.nodeId ? { node: options.nodeId } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Writes out whatever the logger still buffers. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.flush(() => resolve());
  });
}
