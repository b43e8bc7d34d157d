import { createLogger, type Logger } from "./logger.ts";
import type { LogLevel } from "../config/index.ts";

/** A logger whose JSON lines are kept in memory, for tests that assert on what was logged. */
export function captureLogger(level: LogLevel = "debug"): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const logger = createLogger({ service: "test", level, destination: { write: (chunk: string) => void chunks.push(chunk) } });
  return {
    logger,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
