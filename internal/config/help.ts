import { commonOptions, type CommandSpec, type OptionSet } from "./load.ts";

/**
 * The --help text: every flag with its environment variable and default, in the order the
 * command declares them, common flags last.
 */
export function renderHelp<O extends OptionSet>(spec: CommandSpec<O>, version: string): string {
  const lines = [
    `${spec.name} ${version}: ${spec.summary}`,
    "",
    `Usage: ${spec.name} [flags]${spec.positionals ? " COMMAND [ARGS]" : ""}`,
    "",
    "Each setting comes from its flag, else its environment variable, else the --config YAML file, else the default.",
    "",
    "Flags:",
  ];
  const all: OptionSet = { ...spec.options, ...commonOptions };
  for (const option of Object.values(all)) {
    const name = `--${option.flag}${option.placeholder ? ` ${option.placeholder}` : ""}`;
    lines.push(`  ${option.short ? `-${option.short}, ` : ""}${name}`);
    lines.push(`      ${option.description}`);
    const facts = [`env ${option.env}`];
    if (option.defaultText !== undefined) facts.push(`default ${option.defaultText}`);
    lines.push(`      ${facts.join("; ")}`);
  }
  lines.push("  -h, --help", "      Print this help and exit.", "  --version", "      Print the version and exit.");
  if (spec.epilogue) lines.push("", spec.epilogue.trimEnd());
  return `${lines.join("\n")}\n`;
}
