// Test support: nagentctl run in-process, its output captured.
import { readFileSync } from "node:fs";
import type { CtlIo } from "./context.ts";
import { runNagentctl } from "./run.ts";

export interface CapturedRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CaptureOptions {
  readonly env?: Record<string, string>;
  /** Files by name, read instead of the disk; other names are read from the disk. */
  readonly files?: Record<string, string>;
  readonly now?: number;
  /** Aborts like Ctrl-C. */
  readonly interrupt?: AbortSignal;
  /** Called with each chunk written to stdout, as it is written. */
  readonly onOut?: (text: string) => void;
}

/** Runs one nagentctl command line in this process. */
export async function runCaptured(argv: readonly string[], options: CaptureOptions = {}): Promise<CapturedRun> {
  let stdout = "";
  let stderr = "";
  const io: CtlIo = {
    env: options.env ?? {},
    out: (text) => {
      stdout += text;
      options.onOut?.(text);
    },
    err: (text) => void (stderr += text),
    readFile: (path) => options.files?.[path] ?? readFileSync(path, "utf8"),
    interrupt: options.interrupt ?? new AbortController().signal,
    now: () => options.now ?? Date.now(),
  };
  const code = await runNagentctl(argv, io);
  return { code, stdout, stderr };
}
