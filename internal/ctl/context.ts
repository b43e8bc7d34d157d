// What a nagentctl command works with: the parsed global configuration, a client of the control
// plane, and the process's streams, files and Ctrl-C, behind an interface so that tests run
// commands in-process.
import type { CommonConfig, NagentctlConfig } from "../config/index.ts";
import { ControlPlaneClient } from "../../pkg/index.ts";

export interface CtlIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
  /** Reads a file the user named; "-" is standard input. Throws with the system's reason. */
  readFile(path: string): string;
  /** Aborted on Ctrl-C: long-running commands (config watch) end cleanly. */
  readonly interrupt: AbortSignal;
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface CtlContext {
  readonly io: CtlIo;
  readonly config: NagentctlConfig & CommonConfig;
  readonly json: boolean;
  /** Fails over between every endpoint. */
  readonly client: ControlPlaneClient;
  /** A client of one endpoint only (per-member checks). */
  clientFor(endpoint: string): ControlPlaneClient;
}

export function createContext(io: CtlIo, config: NagentctlConfig & CommonConfig): CtlContext {
  const clientFor = (endpoints: readonly string[]) =>
    new ControlPlaneClient({ endpoints, timeoutMs: config.timeout, ...(config.token !== undefined ? { token: config.token } : {}) });
  return {
    io,
    config,
    json: config.output === "json",
    client: clientFor(config.endpoints),
    clientFor: (endpoint) => clientFor([endpoint]),
  };
}
