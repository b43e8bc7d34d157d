import { duration, oneOf, urlList } from "./fields.ts";
import { tokenOption } from "./shared-options.ts";
import type { CommandSpec, ConfigOf } from "./load.ts";

const nagentctlOptions = {
  endpoints: {
    flag: "endpoints",
    env: "NAGENT_ENDPOINTS",
    placeholder: "URL,...",
    description: "Control-plane members to talk to, tried in order.",
    defaultText: "http://127.0.0.1:8080",
    schema: urlList().default(["http://127.0.0.1:8080"]),
  },
  token: tokenOption("Credential sent as Authorization: Bearer."),
  output: {
    flag: "output",
    env: "NAGENT_OUTPUT",
    short: "o",
    placeholder: "FORMAT",
    description: "text or json.",
    defaultText: "text",
    schema: oneOf(["text", "json"] as const).default("text"),
  },
  timeout: {
    flag: "timeout",
    env: "NAGENT_TIMEOUT",
    placeholder: "DURATION",
    description: "How long to wait for each request.",
    defaultText: "5s",
    schema: duration().default(5_000),
  },
} as const;

export type NagentctlConfig = ConfigOf<typeof nagentctlOptions>;

/** nagentctl's command line; the command words follow the flags. */
export const nagentctlCommand: CommandSpec<typeof nagentctlOptions> = {
  name: "nagentctl",
  summary: "the Nagent Mesh command-line client",
  options: nagentctlOptions,
  positionals: true,
  epilogue: `Commands (global flags may also follow the command words):
  config get KEY [--consistency linearizable|serializable]
      Print a config value as JSON (-o json: {key, value, createRevision, modRevision, version}).
      linearizable (default) reflects every acknowledged write; serializable is the member's own copy.
  config put KEY VALUE [--if-match REV]
  config put KEY -f FILE [--if-match REV]
      Store a JSON value (quote strings: '"text"'; -f - reads standard input).
      --if-match REV writes only if the key's modRevision is REV (0: only if absent).
  config del KEY [--if-match REV]
  config list [PREFIX]
      Every key under PREFIX with its revision, version and value.
  config watch [PREFIX] [--from-revision N]
      Stream changes until Ctrl-C: one line per change (REVISION TYPE KEY VALUE), or with -o json
      one JSON object per line. Resumes by itself after a disconnect or a control-plane restart.
  config history KEY
      Earlier values with their revisions (roll back by putting an old value).
  nodes [--domain D]
      Registered nodes: id, address, domains, healthy, config revision, last heartbeat.
  cluster status
      Store, leader, term, revision, and each member's role and commit/applied/match index.
  cluster add ID URL
      Add a member started with --join; it joins as a learner and is promoted once caught up.
  cluster remove ID
  cluster transfer [ID]
      Hand leadership to ID (or to the best-placed member).
  snapshot save FILE
      Download a point-in-time backup of the integrated store (admin only) from any member,
      verify it and move it into place; prints revision, keys, size and sha256. A failed or cut
      download leaves no FILE.
  snapshot status FILE
      Verify a backup file (magic, version, checksum, contents) and print what it holds.
  snapshot restore FILE --data-dir DIR --node-id ID [--peers ID=URL,...]
      Offline: write a new data dir for member ID of a NEW cluster holding the backup's keys.
      Restore the same file with the same --peers for every member, then start each with
      control-plane --node-id ID --data-dir DIR --peers .... DIR must not exist or be empty.
  policy apply -f FILE.yaml [--dry-run]
      Apply policy documents ({kind, name, spec}, several separated by ---): shows what is new,
      changed (field by field) or unchanged against what is stored, then applies with
      compare-and-set. --dry-run shows the diff only.
  policy get KIND NAME
      Print a policy as YAML that policy apply takes back. KIND is resilience or authz.
  policy list [KIND]
  policy delete KIND NAME [--if-match REV]
  token issue --subject S --role R [--role R2 ...] [--audience A ...] [--ttl DURATION] [--api-key]
      Issue a signed JWT (or with --api-key an opaque API key); prints only the token
      (-o json: {token, kind, id, expiresAt}). --ttl as 90s, 15m, 1h, 7d, or seconds.
  token revoke TOKEN
  check [--max-lag N]
      Like linkerd check: each endpoint reachable and ready, the credential accepted, a leader,
      a quorum of reachable voters, one leader for all, each member's lag (warns above N
      entries, default 1000), the signing key's rotation clock, unhealthy and stale nodes.
      A hint follows every failure and warning. -o json: {success, checks: [{category, name, ok,
      detail, hint?, warning?}]}. Without a credential only the probes run.
  proxy-status
      Like istioctl proxy-status: per node its config revision against the control plane's,
      SYNCED/STALE/UNKNOWN and how far behind, last heartbeat.
  version
      Print the client's version.

Output: human-readable tables by default. -o json prints exactly one JSON document on stdout,
also when the command fails ({"error": {"code", "message", ...}}), except config watch, which
prints one JSON object per line. Errors go to stderr as one line: nagentctl: <message>.

Exit status:
  0  success
  1  the operation failed or a check failed (not found, precondition failed, refused, no
     endpoint answered, invalid policy, ...)
  2  usage error: unknown command or flag, missing or extra argument, bad JSON value, unreadable
     or malformed file, invalid flag value
  130  interrupted by Ctrl-C (config watch ends with 0)`,
};
