// Configuration is read once at start, from four sources in order of precedence:
// flags > environment > YAML file (--config) > defaults. Every field is validated by its zod
// schema into a typed object; the first bad field stops the program with one line that names the
// field, the value, where it came from and what was expected.
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { parseDocument as ParseDocument } from "yaml";
import { ConfigError } from "./errors.ts";
import { LOG_LEVELS, oneOf } from "./fields.ts";

/** One configurable value: its flag, environment variable, YAML key (camelCase) and schema. */
export interface Option<S extends z.ZodType = z.ZodType> {
  /** Kebab-case flag name without dashes; the YAML key is the same name in camelCase. */
  readonly flag: string;
  readonly env: string;
  readonly short?: string;
  /** The value as shown in --help, e.g. "HOST:PORT". Omitted for boolean switches. */
  readonly placeholder?: string;
  readonly description: string;
  /** Shown in --help; the real default lives in the schema. */
  readonly defaultText?: string;
  readonly boolean?: boolean;
  readonly schema: S;
}

export type OptionSet = Record<string, Option>;
export type ConfigOf<O extends OptionSet> = { -readonly [K in keyof O]: z.output<O[K]["schema"]> };

/** A binary's command line: its options and an optional check across fields. */
export interface CommandSpec<O extends OptionSet> {
  readonly name: string;
  readonly summary: string;
  readonly options: O;
  /** Extra text at the end of --help (subcommands, examples). */
  readonly epilogue?: string;
  /** Whether words other than flags are allowed (subcommands of nagentctl). */
  readonly positionals?: boolean;
  /** Checks that involve several fields; answers the offending flag and reason, or nothing. */
  readonly check?: (config: ConfigOf<O>) => { flag: string; reason: string } | undefined;
}

/** Options every binary has. */
export const commonOptions = {
  config: {
    flag: "config",
    env: "NAGENT_CONFIG",
    placeholder: "FILE",
    description: "YAML file with any of these settings (keys in camelCase, e.g. logLevel).",
    schema: z.string().min(1, { error: "expected a file path" }).optional(),
  },
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    placeholder: "LEVEL",
    description: `Log level: ${LOG_LEVELS.join(", ")}.`,
    defaultText: "info",
    schema: oneOf(LOG_LEVELS).default("info"),
  },
} satisfies OptionSet;

export type CommonConfig = ConfigOf<typeof commonOptions>;

export type ParsedCommandLine<O extends OptionSet> =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | {
      readonly kind: "run";
      readonly config: ConfigOf<O> & CommonConfig;
      readonly positionals: readonly string[];
    };

/** Where a value came from, for error messages. */
type Source = { readonly label: string; readonly value: unknown };

/** How a YAML file is read; replaceable in tests. */
export type ReadText = (path: string) => string;

/**
 * Parses argv and the environment against a command's options and the common ones, reads the
 * YAML file named by --config, and validates the result. Throws ConfigError on the first problem;
 * answers help or version when those flags are present, before anything else is validated.
 */
export function parseCommandLine<O extends OptionSet>(
  spec: CommandSpec<O>,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readText: ReadText = (path) => readFileSync(path, "utf8"),
): ParsedCommandLine<O> {
  const options: OptionSet = { ...commonOptions, ...spec.options };
  const { values: flags, positionals } = parseFlags(options, argv, spec.positionals ?? false);
  if (flags.help === true) return { kind: "help" };
  if (flags.version === true) return { kind: "version" };

  const configPath = flagOrEnv(options.config!, flags, env);
  const file = configPath === undefined ? {} : readConfigFile(configPath.value as string, options, readText);

  const config: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(options)) {
    const source =
      flagOrEnv(option, flags, env) ??
      (key in file ? { label: `${key} in ${configPath?.value as string}`, value: file[key] } : undefined);
    const result = option.schema.safeParse(source?.value);
    if (!result.success) throw fieldError(option, key, source, result.error);
    config[key] = result.data;
  }

  const typed = config as ConfigOf<O> & CommonConfig;
  const problem = spec.check?.(typed);
  if (problem) throw new ConfigError(`--${problem.flag}: ${problem.reason}`, { field: problem.flag });
  return { kind: "run", config: typed, positionals };
}

function parseFlags(options: OptionSet, argv: readonly string[], allowPositionals: boolean) {
  const parseOptions: NonNullable<Parameters<typeof parseArgs>[0]>["options"] = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean" },
  };
  for (const option of Object.values(options)) {
    parseOptions[option.flag] = {
      type: option.boolean ? "boolean" : "string",
      ...(option.short ? { short: option.short } : {}),
    };
  }
  try {
    return parseArgs({ args: [...argv], options: parseOptions, strict: true, allowPositionals });
  } catch (error) {
    throw flagSyntaxError(error);
  }
}

/** Turns node:util parseArgs errors into one line a user can act on. */
function flagSyntaxError(error: unknown): ConfigError {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new ConfigError(`unknown flag ${quoted.split(" ")[0]} (see --help)`, { field: quoted });
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new ConfigError(`flag ${quoted.split(" ")[0]} needs a value (see --help)`, { field: quoted });
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new ConfigError(`unexpected argument "${quoted}" (this command takes only flags; see --help)`, {
        field: quoted,
      });
    default:
      return new ConfigError(`bad command line: ${message}`, { field: "" });
  }
}

type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

function flagOrEnv(
  option: Option,
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
): Source | undefined {
  const flagged = flags[option.flag];
  if (flagged !== undefined) return { label: `--${option.flag}`, value: flagged };
  const fromEnv = env[option.env];
  if (fromEnv !== undefined && fromEnv !== "") return { label: `$${option.env}`, value: fromEnv };
  return undefined;
}

/**
 * The YAML library, loaded when a --config file is read: most daemons never get one, and the
 * sidecar counts every module it holds in memory.
 */
function yamlModule(): { parseDocument: typeof ParseDocument } {
  return require("yaml") as { parseDocument: typeof ParseDocument };
}

/** Reads the YAML file into a map keyed by option key; kebab-case flag names are accepted too. */
function readConfigFile(path: string, options: OptionSet, readText: ReadText): Record<string, unknown> {
  let text: string;
  try {
    text = readText(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`cannot read config file ${path}: ${reason}`, { field: "config", value: path });
  }
  const doc = yamlModule().parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const where = first.linePos?.[0];
    const at = where ? ` at line ${where.line}, column ${where.col}` : "";
    const reason = (first.message.split("\n")[0] ?? first.code).replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(`config file ${path} is not valid YAML${at}: ${reason}`, { field: "config", value: path });
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(`config file ${path} must hold a mapping of settings, not a ${describe(data)}`, {
      field: "config",
      value: path,
    });
  }

  const byName = new Map<string, string>();
  for (const [key, option] of Object.entries(options)) {
    byName.set(key, key);
    byName.set(option.flag, key);
  }
  byName.delete("config");
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(data)) {
    const key = byName.get(name);
    if (key === undefined) {
      const known = Object.keys(options).filter((k) => k !== "config");
      throw new ConfigError(`config file ${path}: unknown field "${name}" (known: ${known.join(", ")})`, {
        field: name,
      });
    }
    out[key] = value;
  }
  return out;
}

function fieldError(option: Option, key: string, source: Source | undefined, error: z.ZodError): ConfigError {
  if (source === undefined) {
    return new ConfigError(
      `missing required value --${option.flag} (or $${option.env}, or ${key} in the config file)`,
      { field: option.flag },
    );
  }
  const issue = error.issues[0];
  const reason = issue?.message ?? "invalid value";
  const index = issue?.path.find((part) => typeof part === "number");
  const item = index !== undefined ? ` (item ${index + 1})` : "";
  return new ConfigError(
    `invalid --${option.flag} ${render(source.value)} from ${source.label}${item}: ${reason}`,
    { field: option.flag, value: source.value, source: source.label },
  );
}

function render(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const short = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return typeof value === "string" ? JSON.stringify(short) : short;
}

function describe(value: unknown): string {
  return Array.isArray(value) ? "list" : typeof value;
}
