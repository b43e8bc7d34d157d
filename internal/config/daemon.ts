import { duration, integer } from "./fields.ts";
import type { OptionSet } from "./load.ts";

/** Options of the HTTP server skeleton shared by control-plane, sidecar and aggregator. */
export const daemonOptions = {
  maxBodyBytes: {
    flag: "max-body-bytes",
    env: "NAGENT_MAX_BODY_BYTES",
    placeholder: "BYTES",
    description: "Largest request body accepted; a larger one is answered 413.",
    defaultText: "1048576",
    schema: integer(1, 1024 * 1024 * 1024).default(1024 * 1024),
  },
  shutdownTimeout: {
    flag: "shutdown-timeout",
    env: "NAGENT_SHUTDOWN_TIMEOUT",
    placeholder: "DURATION",
    description: "On SIGTERM or SIGINT, how long in-flight requests may take to finish before they are cut.",
    defaultText: "10s",
    schema: duration().default(10_000),
  },
} satisfies OptionSet;
