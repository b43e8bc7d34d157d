import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { captureLogger } from "./capture.ts";
import { flushLogger } from "./logger.ts";

describe("logger", () => {
  test("lines are JSON with the service, the level as a word and an ISO time", () => {
    const { logger, lines } = captureLogger("info");
    logger.info({ reqId: "r1" }, "hello");
    logger.debug("not at info");
    expect(lines()).toEqual([
      expect.objectContaining({ service: "test", level: "info", reqId: "r1", msg: "hello", time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }),
    ]);
  });

  test("flushLogger resolves for a logger with its own destination", async () => {
    const { logger } = captureLogger();
    logger.info("x");
    await flushLogger(logger);
  });

  // The last line a daemon writes before process.exit() is the one an operator reads; it was
  // lost when the flush answered while an asynchronous write was still in flight.
  test("every line written before flushLogger reaches stdout, even when the process exits right after", () => {
    let lost = 0;
    for (let run = 0; run < 40; run++) {
      const child = Bun.spawnSync([process.execPath, join(import.meta.dir, "fixtures", "log-then-exit.ts"), String(run % 3)]);
      expect(child.exitCode).toBe(0);
      const lines = child.stdout.toString().trimEnd().split("\n");
      if (lines.length !== 102 || JSON.parse(lines.at(-1) ?? "{}").msg !== "stopped") lost++;
    }
    expect(lost).toBe(0);
  });
});
