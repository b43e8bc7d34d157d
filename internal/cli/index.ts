// Process glue shared by the four binaries: parsing the command line with the conventional exit
// codes, and starting a daemon's listeners with logging, metrics and signal handling.
import {
  ConfigError,
  parseCommandLine,
  renderHelp,
  type CommandSpec,
  type CommonConfig,
  type ConfigOf,
  type OptionSet,
} from "../config/index.ts";
import { VERSION, versionLine } from "../version/index.ts";

/**
 * Parses the command line or ends the process: --help and --version print and exit 0; invalid
 * configuration prints one line on stderr and exits 2.
 */
export function parseOrExit<O extends OptionSet>(
  spec: CommandSpec<O>,
  argv: readonly string[] = process.argv.slice(2),
  env: Readonly<Record<string, string | undefined>> = process.env,
): { config: ConfigOf<O> & CommonConfig; positionals: readonly string[] } {
  try {
    const parsed = parseCommandLine(spec, argv, env);
    if (parsed.kind === "help") exitWith(0, renderHelp(spec, VERSION));
    if (parsed.kind === "version") exitWith(0, `${versionLine(spec.name)}\n`);
    return parsed;
  } catch (error) {
    if (error instanceof ConfigError) exitWith(2, "", `${spec.name}: ${error.message}\n`);
    throw error;
  }
}

/** Writes and exits; stdout and stderr are flushed first because process.exit does not wait. */
export function exitWith(code: number, out: string, err = ""): never {
  if (out) process.stdout.write(out);
  if (err) process.stderr.write(err);
  process.exit(code);
}

export { launchDaemon, type LaunchOptions } from "./launch.ts";
