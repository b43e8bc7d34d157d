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

/** The parts of pino's SonicBoom destination that tell whether a write is still under way. */
interface AsyncDestination extends DestinationStream {
  readonly _writing: boolean;
  readonly _len: number;
  once(event: "drain" | "error", listener: () => void): unknown;
  off(event: "drain" | "error", listener: () => void): unknown;
}

const asyncDestinations = new WeakMap<Logger, AsyncDestination>();

/**
 * A pino logger writing JSON lines. Stdout is written through an asynchronous buffer so that
 * logging stays off the request path; call `flushLogger` before exiting so nothing is lost.
 */
export function createLogger(options: LoggerOptions): Logger {
  // Asynchronous, but without a minimum buffer: a quiet daemon's last lines must not wait for more.
  const stdout = options.destination ? undefined : pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level: options.level,
      base: { service: options.service, ...(options.nodeId ? { node: options.nodeId } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? stdout,
  );
  if (stdout) asyncDestinations.set(logger, stdout as unknown as AsyncDestination);
  return logger;
}

/**
 * Resolves once every line the logger was given has reached its destination, or after
 * `timeoutMs` if the destination is stuck (a reader that stopped reading our stdout).
 */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  const destination = asyncDestinations.get(logger);
  // pino's flush callback alone is not enough: with no minimum buffer, SonicBoom answers it at
  // once even while a write is in flight and more lines wait behind it, and a process.exit()
  // that follows loses them. So wait for its 'drain', which comes when nothing is left.
  if (!destination || (!destination._writing && destination._len === 0)) {
    return new Promise((resolve) => logger.flush(() => resolve()));
  }
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      destination.off("drain", done);
      destination.off("error", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    destination.once("drain", done);
    destination.once("error", done);
  });
}
