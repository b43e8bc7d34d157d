// The outbound stack: the local app's calls to other domains, `ANY /v1/invoke/{domain}/{path}`.
// Order: trace (a server span for the app's call) → metrics → resilience (deadline, retries,
// breaker, ejection, fallback) → route (a healthy instance, a client span per attempt, the call).
// The caller's credential and the trace context travel with the call; a call to a domain this
// node serves itself goes to its own inbound stack in-process, without a network hop.
import { compileResilience, FALLBACK_HEADER, type DomainResilience } from "./resilience/index.ts";
import { originOf, type Body, type HttpClient, type HttpResponse, type ServerRequest } from "../http1/index.ts";
import type { Logger } from "../telemetry/index.ts";
import { Balancer } from "./balancer.ts";
import { BodyTooLargeError, bufferBody, classifyFailure, forwardHeaders, isTooLarge, limitedBody, stripHopByHop } from "./forward.ts";
import type { MeshState } from "./mesh-state.ts";
import { compose, errorResponse, metricsLayer, traceLayer, type Call, type Handler } from "./pipeline.ts";
import type { SidecarMetrics, Tracing } from "./telemetry/index.ts";

/** Headers between sidecars: which domain is called, and from which node. */
export const DOMAIN_HEADER = "x-nagent-domain";
export const FROM_HEADER = "x-nagent-from";

export interface OutboundOptions {
  readonly nodeId: string;
  readonly state: MeshState;
  readonly tracing: Tracing;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  /** The client other nodes' sidecars are called with. */
  readonly client: HttpClient;
  /** This node's own inbound stack, for calls to a domain it serves. */
  readonly local: (request: ServerRequest, domain: string, target: string) => Promise<HttpResponse>;
  /** Whether this node's own app serves `domain`: then a call is never left without an instance. */
  readonly servesLocally: (domain: string) => boolean;
}

/** A call to this node's own inbound stack, without a socket: the outbound request with the forwarded fields and body. */
class LocalRequest implements ServerRequest {
  readonly minor = 1;
  readonly remoteAddress = "local";
  onCancel: (() => void) | undefined = undefined;
  constructor(
    readonly method: string,
    readonly target: string,
    readonly headers: ServerRequest["headers"],
    readonly body: Body,
    readonly signal: AbortSignal,
  ) {
    signal.addEventListener("abort", () => this.onCancel?.(), { once: true });
  }

  get cancelled(): boolean {
    return this.signal.aborted;
  }

  get cancelReason(): unknown {
    return this.signal.reason;
  }
}

/**
 * Per-domain resilience runtimes, rebuilt when a domain's policy changes (a breaker's state
 * survives changes to other domains' policies) and told the healthy instances when the
 * registry changes.
 */
export class ResilienceTable {
  private readonly byDomain = new Map<string, { fingerprint: string; policyName: string | undefined; runtime: DomainResilience }>();

  constructor(
    private readonly state: MeshState,
    private readonly metrics: SidecarMetrics,
    private readonly logger: Logger,
  ) {}

  get(domain: string): DomainResilience {
    return this.byDomain.get(domain)?.runtime ?? this.build(domain);
  }

  /** After a policy change: only the domains whose policy changed get a new runtime (their breaker starts closed). */
  refreshPolicies(): void {
    for (const [domain, entry] of this.byDomain) {
      if (fingerprint(this.state, domain) !== entry.fingerprint) this.build(domain);
    }
  }

  refreshInstances(): void {
    for (const [domain, entry] of this.byDomain) entry.runtime.setInstances(this.state.instancesOf(domain).map((node) => node.id));
  }

  snapshot(): unknown[] {
    return [...this.byDomain.values()].map((entry) => ({ ...entry.runtime.snapshot(), policy: entry.policyName ?? null }));
  }

  private build(domain: string): DomainResilience {
    const named = this.state.resilienceFor(domain);
    const metrics = this.metrics;
    const runtime = compileResilience(domain, named?.policy, {
      onTransition: (from, to) => metrics.breakerTransition(domain, gaugeState(from), gaugeState(to)),
      onRetry: () => metrics.retry(domain),
      onEjection: (instance) => {
        metrics.outlierEjection(domain);
        this.logger.warn({ domain, instance }, "instance ejected after consecutive failures");
      },
      onFallback: (type) => metrics.fallback(domain, type),
    });
    if (named?.policy.circuitBreaker) metrics.breakerState(domain, "closed");
    runtime.setInstances(this.state.instancesOf(domain).map((node) => node.id));
    this.byDomain.set(domain, { fingerprint: fingerprint(this.state, domain), policyName: named?.name, runtime });
    return runtime;
  }
}

function fingerprint(state: MeshState, domain: string): string {
  const named = state.resilienceFor(domain);
  return named ? `${named.name} ${JSON.stringify(named.policy)}` : "";
}

function gaugeState(state: "closed" | "open" | "half-open"): "closed" | "open" | "half_open" {
  return state === "half-open" ? "half_open" : state;
}

/** The outbound server span: one per call of the local app, the parent of every attempt. */
function outboundTraceLayer(tracing: Tracing, nodeId: string) {
  return traceLayer(tracing, (call) => ({
    method: call.method,
    route: "/v1/invoke/{domain}",
    urlPath: call.pathname,
    scheme: "http",
    headers: call.request.headers,
    nodeFrom: nodeId,
    domain: call.domain,
  }));
}

/** Resilience around the route: the runtime of the call's domain, and a fallback to another domain. */
function resilientRoute(options: OutboundOptions, table: ResilienceTable, balancer: Balancer): Handler {
  const { state, tracing, metrics, nodeId, logger, client } = options;

  async function route(call: Call, domain: string, allowDomainFallback: boolean): Promise<HttpResponse> {
    const runtime = table.get(domain);
    const policy = state.resilienceFor(domain)?.policy;
    const retries = (policy?.retry?.maxAttempts ?? 1) > 1;
    const request = call.request;
    // A body that may be sent twice is read once into memory (bounded); otherwise it streams through.
    let body: Body;
    try {
      body = retries ? await bufferBody(request.body, options.maxBodyBytes) : limitedBody(request.body, options.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return errorResponse(413, "payload_too_large", error.message);
      throw error;
    }
    const replayable = body === null || body instanceof Uint8Array;
    // One set of fields for every attempt, changed in place: attempts run one after another,
    // and each sets its own traceparent before it is sent.
    const headers = forwardHeaders(request.headers);
    headers.set(DOMAIN_HEADER, domain);
    headers.set(FROM_HEADER, nodeId);

    const result = await runtime.execute(
      { method: call.method, replayable, cacheKey: call.method === "GET" ? call.target : undefined, cancel: request },
      async (ctx) => {
        const instances = state.instancesOf(domain);
        // This node is missing from the healthy instances while it drains (it has left the
        // registry) or before its registration is known; its own app can still take the call.
        const instance = balancer.pick(instances, ctx.exclude) ?? (options.servesLocally(domain) ? { id: nodeId, address: "" } : undefined);
        if (!instance) return { kind: "error", error: "no_instance" };
        const local = instance.id === nodeId;
        const origin = local ? undefined : originOf(instance.address);
        const span = tracing.startClientSpan(call.span!, {
          method: call.method,
          url: local ? `http://local${call.target}` : instance.address + call.target,
          resendCount: ctx.attempt - 1,
          nodeFrom: nodeId,
          nodeTo: instance.id,
          domain,
          instance: instance.id,
        });
        span.inject(headers);
        const done = balancer.begin(instance.id);
        const started = performance.now();
        try {
          const response = local
            ? await options.local(new LocalRequest(call.method, call.target, headers, body, ctx.signal), domain, call.target)
            : await client.request(origin!, { method: call.method, target: call.target, headers, body }, ctx.cancel);
          if (span.sampled) span.end({ status: response.status });
          if (!local) metrics.observeCrossNode(domain, (performance.now() - started) / 1000);
          return { kind: "response", response, instance: instance.id };
        } catch (error) {
          if (isTooLarge(error)) throw error;
          const failure = ctx.cancel.cancelled ? "timeout" : (classifyFailure(error, false) ?? "reset");
          if (span.sampled) span.end({ error: failure });
          return { kind: "error", error: failure, instance: instance.id, cause: error };
        } finally {
          done();
        }
      },
    );
    if (result.kind === "fallback-domain") {
      if (!allowDomainFallback || result.domain === domain) {
        return errorResponse(502, "upstream_failed", `calls to ${domain} failed and its fallback domain ${result.domain} is not usable`);
      }
      logger.debug({ domain, fallback: result.domain }, "calling the fallback domain");
      const fallback = await route(call, result.domain, false);
      fallback.headers.set(FALLBACK_HEADER, "domain");
      return fallback;
    }
    const { response } = result;
    if (result.fallback) return response;
    stripHopByHop(response.headers);
    return response;
  }

  return (call) => route(call, call.domain, true);
}

/** The whole outbound stack. */
export function outboundStack(options: OutboundOptions, table: ResilienceTable, balancer = new Balancer()): Handler {
  return compose([outboundTraceLayer(options.tracing, options.nodeId), metricsLayer(options.metrics)], resilientRoute(options, table, balancer));
}
