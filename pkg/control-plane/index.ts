// The control-plane client: what agent services, sidecars and nagentctl use to talk to the control plane.
export { ControlPlaneClient, type ControlPlaneClientOptions } from "./client.ts";
export {
  CompactedError,
  ConflictError,
  ForbiddenError,
  InvalidRequestError,
  NagentError,
  NotFoundError,
  PreconditionFailedError,
  UnauthenticatedError,
  UnavailableError,
  errorFromResponse,
  type EndpointFailure,
  type NagentErrorInit,
} from "./errors.ts";
export { SseParser, type SseMessage } from "./sse.ts";
export type { FetchFunction } from "./transport.ts";
export type { WatchHandle, WatchOptions } from "./watch.ts";
export * from "./types.ts";
