// The inbound stack: calls from other sidecars (or from this node's own outbound side) to a domain
// this node serves, forwarded to the local app. Order (SPEC): authenticate → authorize → trace →
// metrics → forward. Authentication and authorization come first so that a refused call costs
// no span and no upstream work; every call, refused or not, is counted by finishCall.
import type { HttpClient, HttpResponse, Origin, ServerRequest } from "../http1/index.ts";
import { compileAuthz, type Authorizer } from "../policy/index.ts";
import type { Logger } from "../telemetry/index.ts";
import type { Decision, TokenVerifier } from "./auth/index.ts";
import { BodyTooLargeError, classifyFailure, forwardHeaders, isTooLarge, limitedBody, stripHopByHop } from "./forward.ts";
import type { MeshState } from "./mesh-state.ts";
import { compose, errorResponse, metricsLayer, traceLayer, type Call, type Handler, type Layer } from "./pipeline.ts";
import type { SidecarMetrics, Tracing } from "./telemetry/index.ts";

/** Headers the sidecar sets for the app; a caller's own copies are dropped, never believed. */
export const SUBJECT_HEADER = "x-nagent-subject";
export const ROLES_HEADER = "x-nagent-roles";

export interface InboundOptions {
  readonly nodeId: string;
  /** The local app, or undefined without one. */
  readonly app: Origin | undefined;
  /** The client the app is called with. */
  readonly client: HttpClient;
  readonly verifier: TokenVerifier;
  readonly tracing: Tracing;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
}

/** The token of `Authorization: Bearer <token>`, or undefined for anything else. */
function bearer(request: ServerRequest): string | undefined {
  const header = request.headers.first("authorization");
  if (header === undefined || header.length < 8) return undefined;
  // The canonical spelling without a lower-cased copy; any other case the slow way.
  if (!header.startsWith("Bearer ") && header.slice(0, 7).toLowerCase() !== "bearer ") return undefined;
  const token = header.charCodeAt(7) === 32 || header.charCodeAt(7) === 9 ? header.slice(7).trim() : header.slice(7);
  // The parser leaves no control characters in a value; spaces and tabs are what could remain.
  return token.length > 0 && token.indexOf(" ") < 0 && token.indexOf("\t") < 0 ? token : undefined;
}

/** 401 for a missing or invalid credential (503 when it cannot be checked at all). */
export function authenticateLayer(options: InboundOptions): Layer {
  const { verifier } = options;
  const refuse = (status: number, code: string, message: string, reason?: string) => {
    const response = errorResponse(status, code, message, reason ? { reason } : undefined);
    if (status === 401) response.headers.append("www-authenticate", `Bearer realm="nagent"${reason ? `, error="invalid_token", error_description="${reason}"` : ""}`);
    return Promise.resolve(response);
  };
  return (next) => {
    const decided = (call: Call, decision: Decision): Promise<HttpResponse> => {
      if (!decision.ok) {
        if (decision.reason === "unavailable") return refuse(503, "auth_unavailable", "the credential cannot be checked now: the control plane is unreachable");
        return refuse(401, "unauthenticated", `invalid credential (${decision.reason})`, decision.reason);
      }
      call.principal = decision.claims;
      return next(call);
    };
    return (call) => {
      const token = bearer(call.request);
      if (token === undefined) return refuse(401, "unauthenticated", "missing credential: send Authorization: Bearer <token>");
      // A cached decision answers without a promise; only a miss waits for a verification.
      const cached = verifier.verifyCached(token, call.domain);
      if (cached !== undefined) return decided(call, cached);
      return verifier.verify(token, call.domain).then((decision) => decided(call, decision));
    };
  };
}

/** 403 when the authz policies refuse the call; compiled once per policy change. */
export function authorizeLayer(authorize: Authorizer): Layer {
  return (next) => (call) => {
    const principal = call.principal!;
    const decision = authorize({ subject: principal.subject, roles: principal.roles, domain: call.domain, method: call.method, path: call.pathname });
    if (!decision.allowed) {
      return Promise.resolve(
        errorResponse(403, "forbidden", `${principal.subject} may not ${call.method} ${call.pathname} on ${call.domain}: ${decision.reason}`, decision.policy ? { policy: decision.policy } : undefined),
      );
    }
    return next(call);
  };
}

/** A server span per inbound call, the child of the caller's traceparent. */
export function inboundTraceLayer(tracing: Tracing, nodeId: string): Layer {
  return traceLayer(tracing, (call) => ({
    method: call.method,
    route: `inbound ${call.domain}`,
    urlPath: call.pathname,
    scheme: "http",
    headers: call.request.headers,
    ...(call.fromNode ? { nodeFrom: call.fromNode } : {}),
    nodeTo: nodeId,
    domain: call.domain,
  }));
}

/** The innermost handler: the call, streamed on to the local app. */
export function forwardToApp(options: InboundOptions): Handler {
  const { app, client, logger, nodeId } = options;
  return async (call) => {
    if (app === undefined) return errorResponse(502, "no_app", `node ${nodeId} has no local app (--app) to forward to`);
    const request = call.request;
    const headers = forwardHeaders(request.headers);
    headers.delete(SUBJECT_HEADER);
    headers.delete(ROLES_HEADER);
    if (call.principal) {
      headers.set(SUBJECT_HEADER, call.principal.subject);
      headers.set(ROLES_HEADER, call.principal.roles.join(","));
    }
    call.span?.inject(headers);
    let body;
    try {
      body = limitedBody(request.body, options.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return errorResponse(413, "payload_too_large", error.message);
      throw error;
    }
    try {
      const upstream = await client.request(app, { method: call.method, target: call.target, headers, body }, request);
      stripHopByHop(upstream.headers);
      return upstream;
    } catch (error) {
      if (isTooLarge(error)) return errorResponse(413, "payload_too_large", `request body is larger than the limit of ${options.maxBodyBytes} bytes`);
      const failure = classifyFailure(error, false);
      if (failure === undefined) return errorResponse(499, "cancelled", "the caller went away");
      logger.warn({ err: (error as Error).message, failure, domain: call.domain }, "the local app did not answer");
      return errorResponse(502, "app_unavailable", `the local app did not answer (${failure})`);
    }
  };
}

/** The whole inbound stack, composed with the authz policies in force now. */
export function inboundStack(options: InboundOptions, state: MeshState): Handler {
  const authorize = compileAuthz(state.authzPolicies);
  return compose(
    [authenticateLayer(options), authorizeLayer(authorize), inboundTraceLayer(options.tracing, options.nodeId), metricsLayer(options.metrics)],
    forwardToApp(options),
  );
}
