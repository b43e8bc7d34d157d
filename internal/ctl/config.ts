// nagentctl config get|put|del|list|watch|history: the configuration API. Keys are config keys
// (what /v1/config/{key} takes); the watch shows them without the store's "config/" prefix.
import { CompactedError, type WatchEvent } from "../../pkg/index.ts";
import { UsageError, expectArgs, parseCommandArgs, revisionArg } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { compactJson, emit, renderTable } from "./output.ts";

const STORE_PREFIX = "config/";

export const CONFIG_USAGE = {
  get: "config get KEY [--consistency linearizable|serializable]",
  put: "config put KEY VALUE | -f FILE [--if-match REV]",
  del: "config del KEY [--if-match REV]",
  list: "config list [PREFIX]",
  watch: "config watch [PREFIX] [--from-revision N]",
  history: "config history KEY",
} as const;

export async function runConfig(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "get":
      return get(ctx, rest);
    case "put":
      return put(ctx, rest);
    case "del":
    case "delete":
      return del(ctx, rest);
    case "list":
    case "ls":
      return list(ctx, rest);
    case "watch":
      return watch(ctx, rest);
    case "history":
      return history(ctx, rest);
    case undefined:
      throw new UsageError("missing config subcommand: get, put, del, list, watch or history");
    default:
      throw new UsageError(`unknown config subcommand "${sub}" (get, put, del, list, watch, history)`);
  }
}

async function get(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(CONFIG_USAGE.get, args, { consistency: { kind: "string" } });
  expectArgs(CONFIG_USAGE.get, positionals, 1);
  const consistency = flags.consistency;
  if (consistency !== undefined && consistency !== "linearizable" && consistency !== "serializable") {
    throw new UsageError(`--consistency must be linearizable or serializable, got "${consistency}"`);
  }
  const entry = await ctx.client.getConfig(positionals[0]!, consistency ? { consistency } : {});
  emit(ctx, entry, () => `${JSON.stringify(entry.value, null, 2)}\n`);
  return 0;
}

/** The JSON text of a value given on the command line or in a file; bad JSON is a usage error. */
export function parseJsonValue(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const hint = source === "VALUE" ? `; quote a string as '"text"'` : "";
    throw new UsageError(`${source} is not valid JSON (${(error as Error).message})${hint}`);
  }
}

/** A file the user named, or a usage error saying why it cannot be read. */
export function readUserFile(ctx: CtlContext, path: string): string {
  try {
    return ctx.io.readFile(path);
  } catch (error) {
    const reason = (error as { code?: string }).code ?? (error as Error).message;
    throw new UsageError(`cannot read ${path === "-" ? "standard input" : path}: ${reason}`);
  }
}

async function put(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(CONFIG_USAGE.put, args, { file: { kind: "string", short: "f" }, "if-match": { kind: "string" } });
  const ifMatch = revisionArg("--if-match", flags["if-match"]);
  let value: unknown;
  if (flags.file !== undefined) {
    expectArgs(CONFIG_USAGE.put, positionals, 1);
    value = parseJsonValue(readUserFile(ctx, flags.file), flags.file === "-" ? "standard input" : flags.file);
  } else {
    expectArgs(CONFIG_USAGE.put, positionals, 2);
    value = parseJsonValue(positionals[1]!, "VALUE");
  }
  const result = await ctx.client.putConfig(positionals[0]!, value, ifMatch === undefined ? {} : { ifMatch });
  emit(ctx, result, () => `put ${result.key} at revision ${result.revision}\n`);
  return 0;
}

async function del(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(CONFIG_USAGE.del, args, { "if-match": { kind: "string" } });
  expectArgs(CONFIG_USAGE.del, positionals, 1);
  const ifMatch = revisionArg("--if-match", flags["if-match"]);
  const result = await ctx.client.deleteConfig(positionals[0]!, ifMatch === undefined ? {} : { ifMatch });
  emit(ctx, result, () => `deleted ${result.key} at revision ${result.revision}\n`);
  return 0;
}

async function list(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(CONFIG_USAGE.list, args, {});
  expectArgs(CONFIG_USAGE.list, positionals, 0, 1);
  const listed = await ctx.client.listConfig(positionals[0] ?? "");
  emit(ctx, listed, () => {
    if (listed.items.length === 0) return `no config keys${listed.prefix ? ` under ${listed.prefix}` : ""} (revision ${listed.revision})\n`;
    return renderTable(
      ["KEY", "REVISION", "VERSION", "VALUE"],
      listed.items.map((item) => [item.key, String(item.modRevision), String(item.version), compactJson(item.value)]),
    );
  });
  return 0;
}

async function history(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(CONFIG_USAGE.history, args, {});
  expectArgs(CONFIG_USAGE.history, positionals, 1);
  const result = await ctx.client.configHistory(positionals[0]!);
  emit(ctx, result, () => {
    if (result.history.length === 0) return `no history for ${result.key}\n`;
    return renderTable(
      ["REVISION", "TYPE", "VALUE"],
      result.history.map((entry) => [String(entry.revision), entry.type, entry.type === "put" ? compactJson(entry.value, 100) : "-"]),
    );
  });
  return 0;
}

/** Streams changes until Ctrl-C; one line per change, or one JSON object per line with -o json. */
async function watch(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(CONFIG_USAGE.watch, args, { "from-revision": { kind: "string" } });
  expectArgs(CONFIG_USAGE.watch, positionals, 0, 1);
  const fromRevision = revisionArg("--from-revision", flags["from-revision"]);
  let interrupted = false;
  const print = (event: WatchEvent) => {
    const key = event.key.startsWith(STORE_PREFIX) ? event.key.slice(STORE_PREFIX.length) : event.key;
    const shown = { type: event.type, key, ...(event.type === "put" ? { value: event.value } : {}), revision: event.revision };
    if (ctx.json) ctx.io.out(`${JSON.stringify(shown)}\n`);
    else ctx.io.out(`${event.revision}\t${event.type}\t${key}${event.type === "put" ? `\t${JSON.stringify(event.value)}` : ""}\n`);
  };
  const handle = ctx.client.watch(STORE_PREFIX + (positionals[0] ?? ""), {
    ...(fromRevision !== undefined ? { fromRevision } : {}),
    signal: ctx.io.interrupt,
    onEvent: print,
    onError: (error, { retrying }) => {
      if (retrying && !interrupted) {
        interrupted = true;
        ctx.io.err(`nagentctl: watch interrupted (${error.message}); reconnecting\n`);
      }
    },
    onConnect: ({ endpoint, resumed }) => {
      if (resumed && interrupted) ctx.io.err(`nagentctl: watch resumed from ${endpoint}${handle.revision !== undefined ? ` after revision ${handle.revision}` : ""}\n`);
      interrupted = false;
    },
  });
  const error = await handle.done;
  if (error instanceof CompactedError) {
    const oldest = error.oldestRevision === undefined ? "" : `; the oldest available is ${error.oldestRevision}: re-run with --from-revision ${error.oldestRevision}, or list first`;
    throw new CompactedError(`revision ${fromRevision ?? "asked for"} is compacted${oldest}`, {
      code: error.code,
      details: error.details,
      ...(error.endpoint !== undefined ? { endpoint: error.endpoint } : {}),
      cause: error,
    });
  }
  if (error) throw error;
  return 0;
}
