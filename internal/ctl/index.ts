// nagentctl's commands; cmd/nagentctl/main.ts only wires them to the process.
export { runNagentctl } from "./run.ts";
export { exitAfterFlush, processIo } from "./io.ts";
export type { CtlContext, CtlIo } from "./context.ts";
export { runCheck, renderCheck, type CheckOptions, type CheckReport, type CheckResult } from "./check.ts";
export { UsageError } from "./args.ts";
