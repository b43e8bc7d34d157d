#!/usr/bin/env bun
// nagentctl: the command-line client of the control plane.
import { exitAfterFlush, processIo, runNagentctl } from "../../internal/ctl/index.ts";

await exitAfterFlush(await runNagentctl(process.argv.slice(2), processIo()));
