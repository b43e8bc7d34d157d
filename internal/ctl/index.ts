export { runCheck, renderCheck, type CheckOptions, type CheckReport, type CheckResult } from "./check.ts";
