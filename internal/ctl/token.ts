// nagentctl token issue|revoke: the control plane's authentication authority.
import { UsageError, expectArgs, parseCommandArgs } from "./args.ts";
import type { CtlContext } from "./context.ts";
import { emit } from "./output.ts";

export const TOKEN_USAGE = {
  issue: "token issue --subject S --role R [--role R2 ...] [--audience A ...] [--ttl DURATION] [--api-key]",
  revoke: "token revoke TOKEN",
} as const;

export async function runToken(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "issue":
      return issue(ctx, rest);
    case "revoke":
      return revoke(ctx, rest);
    case undefined:
      throw new UsageError("missing token subcommand: issue or revoke");
    default:
      throw new UsageError(`unknown token subcommand "${sub}" (issue, revoke)`);
  }
}

const TTL = /^(\d+)(s|m|h|d)?$/;
const TTL_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "15m", "1h", "7d", or a bare number of seconds; at least one second. */
export function ttlSeconds(raw: string): number {
  const match = TTL.exec(raw.trim());
  const seconds = match ? Number(match[1]) * (TTL_UNIT[match[2] ?? "s"] ?? 1) : 0;
  if (!match || seconds < 1) throw new UsageError(`--ttl expects a duration of at least 1s such as "15m", "1h", "7d" or "3600", got "${raw}"`);
  return seconds;
}

/** Repeated flags and comma-separated values both work: --role a --role b,c. */
function splitAll(values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(",")).map((value) => value.trim()).filter((value) => value !== "");
}

async function issue(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { flags, positionals } = parseCommandArgs(TOKEN_USAGE.issue, args, {
    subject: { kind: "string" },
    role: { kind: "list" },
    audience: { kind: "list" },
    ttl: { kind: "string" },
    "api-key": { kind: "boolean" },
  });
  expectArgs(TOKEN_USAGE.issue, positionals, 0);
  if (flags.subject === undefined || flags.subject === "") throw new UsageError(`missing --subject: usage: ${TOKEN_USAGE.issue}`);
  const roles = splitAll(flags.role);
  if (roles.length === 0) throw new UsageError(`missing --role: usage: ${TOKEN_USAGE.issue}`);
  const audience = splitAll(flags.audience);
  const issued = await ctx.client.issueToken({
    subject: flags.subject,
    roles,
    ...(audience.length === 1 ? { audience: audience[0]! } : audience.length > 1 ? { audience } : {}),
    ...(flags.ttl !== undefined ? { ttlSeconds: ttlSeconds(flags.ttl) } : {}),
    ...(flags["api-key"] ? { kind: "api-key" as const } : {}),
  });
  // Only the token on stdout, so that TOKEN=$(nagentctl token issue ...) works.
  emit(ctx, issued, () => `${issued.token}\n`);
  return 0;
}

async function revoke(ctx: CtlContext, args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandArgs(TOKEN_USAGE.revoke, args, {});
  expectArgs(TOKEN_USAGE.revoke, positionals, 1);
  const result = await ctx.client.revokeToken(positionals[0]!);
  emit(ctx, result, () => `revoked ${result.kind} ${result.id}\n`);
  return 0;
}
