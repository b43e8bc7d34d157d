// nagentctl's entry: global flags through internal/config, then the command words to the
// command groups. Answers the exit status: 0 success, 1 the operation or a check failed, 2 a
// usage error (130 when interrupted by Ctrl-C outside `config watch`).
import { ConfigError, nagentctlCommand, parseCommandLine, renderHelp } from "../config/index.ts";
import { VERSION, versionLine } from "../version/index.ts";
import { UsageError, splitGlobalArgs } from "./args.ts";
import { runCheckCommand } from "./check.ts";
import { runCluster } from "./cluster.ts";
import { runConfig } from "./config.ts";
import { createContext, type CtlContext, type CtlIo } from "./context.ts";
import { EXIT_OK, EXIT_USAGE, reportFailure } from "./errors.ts";
import { runNodes } from "./nodes.ts";
import { runPolicy } from "./policy.ts";
import { runProxyStatus } from "./proxy-status.ts";
import { runSnapshot } from "./snapshot.ts";
import { runToken } from "./token.ts";

type Command = (ctx: CtlContext, args: readonly string[]) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  config: runConfig,
  nodes: runNodes,
  cluster: runCluster,
  policy: runPolicy,
  token: runToken,
  check: runCheckCommand,
  "proxy-status": runProxyStatus,
  snapshot: runSnapshot,
  version: async (ctx, args) => {
    if (args.length > 0) throw new UsageError(`version takes no arguments, got "${args.join(" ")}"`);
    ctx.io.out(`${versionLine("nagentctl")}\n`);
    return EXIT_OK;
  },
};

/** Runs one nagentctl command line and answers its exit status; never throws. */
export async function runNagentctl(argv: readonly string[], io: CtlIo): Promise<number> {
  const { global, command } = splitGlobalArgs(argv, nagentctlCommand.options);
  let ctx: CtlContext;
  try {
    const parsed = parseCommandLine(nagentctlCommand, global, io.env);
    if (parsed.kind === "help") {
      io.out(renderHelp(nagentctlCommand, VERSION));
      return EXIT_OK;
    }
    if (parsed.kind === "version") {
      io.out(`${versionLine("nagentctl")}\n`);
      return EXIT_OK;
    }
    ctx = createContext(io, parsed.config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`nagentctl: ${error.message}\n`);
    return EXIT_USAGE;
  }
  try {
    const [word, ...rest] = command;
    if (word === undefined) throw new UsageError("missing command (see nagentctl --help)");
    // Not a global flag, and no command yet to own it.
    if (word.startsWith("-") && word !== "-") throw new UsageError(`unknown flag ${word.split("=")[0]} (see --help)`);
    const run = Object.hasOwn(COMMANDS, word) ? COMMANDS[word] : undefined;
    if (!run) throw new UsageError(`unknown command "${word}" (see nagentctl --help)`);
    return await run(ctx, rest);
  } catch (error) {
    return reportFailure(ctx, error);
  }
}
