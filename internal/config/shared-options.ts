import { duration, integer, text, urlList } from "./fields.ts";
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

/** --control-plane / CONTROL_PLANE_ENDPOINTS, as the sidecar and the aggregator take it. */
export function controlPlaneEndpointsOption(description: string) {
  return {
    flag: "control-plane",
    env: "CONTROL_PLANE_ENDPOINTS",
    placeholder: "URL,...",
    description,
    defaultText: "http://127.0.0.1:8080",
    schema: urlList().default(["http://127.0.0.1:8080"]),
  } as const;
}

/** --token / NAGENT_TOKEN: the credential a client presents to the control plane. */
export function tokenOption(description: string) {
  return {
    flag: "token",
    env: "NAGENT_TOKEN",
    placeholder: "TOKEN",
    description,
    defaultText: "none",
    schema: text().optional(),
  } as const;
}
