// The real process behind CtlIo: stdout, stderr, files, the environment and Ctrl-C.
import { readFileSync } from "node:fs";
import type { CtlIo } from "./context.ts";

/**
 * The process's streams. Ctrl-C aborts `interrupt`, which ends `config watch` cleanly; a command
 * that does not stop within a second, or a second Ctrl-C, ends the process with 130.
 */
export function processIo(): CtlIo {
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    setTimeout(() => process.exit(130), 1_000).unref();
  });
  return {
    env: process.env,
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    readFile: (path) => readFileSync(path === "-" ? 0 : path, "utf8"),
    interrupt: controller.signal,
    now: () => Date.now(),
  };
}

/** Exits once stdout and stderr have been handed to the OS (process.exit does not wait for pipes). */
export async function exitAfterFlush(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()));
  await Promise.race([Promise.all([flushed(process.stdout), flushed(process.stderr)]), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  process.exit(code);
}
