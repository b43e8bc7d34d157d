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
  epilogue: `Commands:
  check        Check that every control-plane endpoint is alive and ready (non-zero exit on failure).
  version      Print the client's version.`,
};
