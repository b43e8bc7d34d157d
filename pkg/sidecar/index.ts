// The sidecar client: what an agent service uses to talk to the sidecar beside it.
export { DEFAULT_SIDECAR_URL, FALLBACK_HEADER, SidecarClient, fallbackOf, type SidecarClientOptions, type TokenSource } from "./client.ts";
export {
  CircuitOpenError,
  InvokeError,
  NoHealthyInstanceError,
  SidecarUnavailableError,
  TimeoutError,
  UpstreamFailedError,
  invokeErrorFromResponse,
  type InvokeAttempt,
} from "./errors.ts";
export { DRAINING_HEADER } from "./http.ts";
export type { ConfigWatchHandle, ConfigWatchOptions } from "./watch.ts";
export * from "./types.ts";
