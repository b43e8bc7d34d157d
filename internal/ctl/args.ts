// nagentctl's command line: global flags (the configuration's, parsed by internal/config) may
// appear anywhere, before or after the command words, as in kubectl; every other word belongs to
// the command, which declares its own flags. `--` ends flag parsing.
import { commonOptions, type Option, type OptionSet } from "../config/index.ts";

/** A usage error: unknown command or flag, missing or extra argument, bad value. Exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Splits argv into the global flags (for parseCommandLine) and the command's own words and flags. */
export function splitGlobalArgs(argv: readonly string[], options: OptionSet): { global: string[]; command: string[] } {
  const valued = new Set<string>();
  const switches = new Set<string>(["--help", "-h", "--version"]);
  for (const option of Object.values({ ...commonOptions, ...options }) as Option[]) {
    const names = [`--${option.flag}`, ...(option.short ? [`-${option.short}`] : [])];
    for (const name of names) (option.boolean ? switches : valued).add(name);
  }
  const global: string[] = [];
  const command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      command.push(...argv.slice(i));
      break;
    }
    const name = word.startsWith("--") ? word.split("=")[0]! : word;
    if (switches.has(name)) {
      global.push(word);
    } else if (valued.has(name)) {
      global.push(word);
      // `--flag=value` carries its value; `--flag value` takes the next word.
      if (!word.includes("=") && i + 1 < argv.length) global.push(argv[++i]!);
    } else if (/^-[A-Za-z]./.test(word) && valued.has(word.slice(0, 2))) {
      global.push(word); // -ojson
    } else {
      command.push(word);
    }
  }
  return { global, command };
}

export interface FlagSpec {
  readonly kind: "string" | "boolean" | "list";
  readonly short?: string;
}

type FlagValue<S extends FlagSpec> = S["kind"] extends "boolean" ? boolean : S["kind"] extends "list" ? string[] : string | undefined;
export type FlagValues<F extends Record<string, FlagSpec>> = { [K in keyof F]: FlagValue<F[K]> };

export interface ParsedArgs<F extends Record<string, FlagSpec>> {
  readonly flags: FlagValues<F>;
  readonly positionals: string[];
}

/**
 * Parses a command's words against its flags (keys are the long names without dashes). A word
 * that looks like a negative number is an argument, so `config put k -1` works; `--` ends flags.
 */
export function parseCommandArgs<const F extends Record<string, FlagSpec>>(usage: string, argv: readonly string[], specs: F): ParsedArgs<F> {
  const values: Record<string, string | boolean | string[] | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.kind === "boolean" ? false : spec.kind === "list" ? [] : undefined;
  const byShort = new Map(Object.entries(specs).flatMap(([name, spec]) => (spec.short ? [[spec.short, name] as const] : [])));
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word === "-" || !word.startsWith("-") || /^-\d/.test(word)) {
      positionals.push(word);
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      inline = eq < 0 ? undefined : word.slice(eq + 1);
    } else {
      name = byShort.get(word[1]!);
      inline = word.length > 2 ? word.slice(2).replace(/^=/, "") : undefined;
    }
    const spec = name === undefined ? undefined : specs[name];
    if (name === undefined || spec === undefined) throw new UsageError(`unknown flag ${word.split("=")[0]} for ${usage}`);
    if (spec.kind === "boolean") {
      if (inline !== undefined) throw new UsageError(`flag --${name} takes no value`);
      values[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-" && !/^-\d/.test(next))) throw new UsageError(`flag --${name} needs a value`);
      value = next;
      i++;
    }
    if (spec.kind === "list") (values[name] as string[]).push(value);
    else if (values[name] !== undefined) throw new UsageError(`flag --${name} given twice`);
    else values[name] = value;
  }
  return { flags: values as FlagValues<F>, positionals };
}

/** Checks the number of arguments; `names` describe them for the message, optional ones in brackets. */
export function expectArgs(usage: string, positionals: readonly string[], required: number, optional = 0): void {
  if (positionals.length < required) throw new UsageError(`missing argument: usage: ${usage}`);
  if (positionals.length > required + optional) {
    throw new UsageError(`unexpected argument "${positionals[required + optional]}": usage: ${usage}`);
  }
}

/** A non-negative revision number given on the command line. */
export function revisionArg(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new UsageError(`${flag} expects a revision number, got "${raw}"`);
  return Number(raw);
}
