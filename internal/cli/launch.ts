import type { CommonConfig } from "../config/index.ts";
import { ListenError, exitOnSignals, startDaemon, type Daemon, type ListenerSpec } from "../server/index.ts";
import { createDaemonMetrics, createLogger, flushLogger, type DaemonMetrics, type Logger } from "../telemetry/index.ts";
import { VERSION } from "../version/index.ts";

export interface LaunchOptions {
  readonly service: string;
  readonly nodeId?: string;
  readonly config: CommonConfig & { readonly shutdownTimeout: number };
  /** Builds the daemon's HTTP apps once logging and metrics exist. */
  readonly listeners: (telemetry: { logger: Logger; metrics: DaemonMetrics }) => ListenerSpec[] | Promise<ListenerSpec[]>;
  readonly onDrain?: () => Promise<void> | void;
  readonly onStop?: () => Promise<void> | void;
}

/**
 * Starts a daemon the way every binary does: JSON logs, a metrics registry, its listeners, and a
 * graceful stop on SIGTERM/SIGINT. A port that cannot be opened ends the process with one line
 * and exit status 1.
 */
export async function launchDaemon(options: LaunchOptions): Promise<Daemon> {
  const logger = createLogger({
    service: options.service,
    level: options.config.logLevel,
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
  });
  const metrics = createDaemonMetrics(options.service);
  let listeners: ListenerSpec[];
  try {
    listeners = await options.listeners({ logger, metrics });
  } catch (error) {
    logger.fatal({ err: error }, "cannot start");
    await flushLogger(logger);
    process.stderr.write(`${options.service}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  try {
    const daemon = startDaemon({
      logger,
      listeners,
      shutdownTimeoutMs: options.config.shutdownTimeout,
      ...(options.onDrain ? { onDrain: options.onDrain } : {}),
      ...(options.onStop ? { onStop: options.onStop } : {}),
    });
    logger.info({ version: VERSION, pid: process.pid }, "started");
    exitOnSignals(daemon);
    return daemon;
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    logger.fatal({ err: error }, error.message);
    await flushLogger(logger);
    process.stderr.write(`${options.service}: ${error.message}\n`);
    process.exit(1);
  }
}
