#!/usr/bin/env bun
// nagentctl: the command-line client of the control plane.
import { exitWith, parseOrExit } from "../../internal/cli/index.ts";
import { nagentctlCommand } from "../../internal/config/index.ts";
import { renderCheck, runCheck } from "../../internal/ctl/index.ts";
import { versionLine } from "../../internal/version/index.ts";

const { config, positionals } = parseOrExit(nagentctlCommand);
const [command, ...rest] = positionals;

switch (command) {
  case "check": {
    if (rest.length > 0) exitWith(2, "", `nagentctl: check takes no arguments, got "${rest.join(" ")}"\n`);
    const report = await runCheck({
      endpoints: config.endpoints,
      timeoutMs: config.timeout,
      ...(config.token ? { token: config.token } : {}),
    });
    exitWith(report.success ? 0 : 1, renderCheck(report, config.output));
    break;
  }
  case "version":
    exitWith(0, `${versionLine("nagentctl")}\n`);
    break;
  case undefined:
    exitWith(2, "", "nagentctl: missing command (see nagentctl --help)\n");
    break;
  default:
    exitWith(2, "", `nagentctl: unknown command "${command}" (see nagentctl --help)\n`);
}
