// ControlPlaneClient: the whole control-plane API as typed methods over fetch, failing over
// between members. Runs on Node.js 20+ and Bun (fetch, AbortSignal, TextDecoder, URL only).
import { NagentError } from "./errors.ts";
import { Transport, type FetchFunction } from "./transport.ts";
import { WatchLoop, type WatchHandle, type WatchOptions } from "./watch.ts";
import type {
  AddMemberResult,
  CallOptions,
  ClusterStatus,
  ConfigEntry,
  ConfigHistory,
  ConfigList,
  StoreList,
  ConfigWriteResult,
  DeregisterResult,
  HeartbeatReport,
  HeartbeatResult,
  IfMatchOptions,
  Introspection,
  IssueTokenRequest,
  IssuedToken,
  Jwks,
  ListNodesOptions,
  ListPoliciesOptions,
  NodeList,
  NodeRegistration,
  NodeView,
  PolicyHistory,
  PolicyKind,
  PolicyList,
  PolicySpec,
  PolicyView,
  PolicyWriteResult,
  ReadOptions,
  RemoveMemberResult,
  RevokeResult,
  RotateKeysResult,
  SigningKeys,
  TransferLeadershipResult,
} from "./types.ts";

export interface ControlPlaneClientOptions {
  /** Control-plane member URLs, e.g. `http://127.0.0.1:8080`; tried in order, the one that answered first. */
  readonly endpoints: readonly string[];
  /** Sent as `Authorization: Bearer <token>`: the admin token, a node token or an API key. */
  readonly token?: string;
  /** How long one member may take to answer one call before the next is tried. Default 5000. */
  readonly timeoutMs?: number;
  /** A fetch to use instead of the global one (tests, custom agents). */
  readonly fetch?: FetchFunction;
}

/**
 * Keys are `/`-separated segments; each is percent-encoded except the characters keys may hold
 * (`- . _ ~ : @`), so the server sees the key as written.
 */
function keyPath(key: string): string {
  return key
    .split("/")
    .map((segment) => encodeURIComponent(segment).replace(/%3A/gi, ":").replace(/%40/g, "@"))
    .join("/");
}

const id = encodeURIComponent;

function ifMatch(options: IfMatchOptions | undefined): Record<string, string> {
  return options?.ifMatch === undefined ? {} : { "if-match": String(options.ifMatch) };
}

function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, value);
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

function signalOf(options: CallOptions | undefined): { signal?: AbortSignal } {
  return options?.signal ? { signal: options.signal } : {};
}

/**
 * A client of the Nagent Mesh control plane. Every call goes to the member that answered last
 * and fails over to the next on a connection error, a timeout or a 503; when every member fails
 * it throws UnavailableError listing each one's failure. Error answers become typed errors
 * (NotFoundError, PreconditionFailedError, ...), all subclasses of NagentError.
 */
export class ControlPlaneClient {
  private readonly transport: Transport;
  private readonly fetch: FetchFunction;

  constructor(options: ControlPlaneClientOptions) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.transport = new Transport({
      endpoints: options.endpoints,
      timeoutMs: options.timeoutMs ?? 5_000,
      fetch: this.fetch,
      ...(options.token !== undefined ? { token: options.token } : {}),
    });
  }

  /** Every member, as given. */
  get endpoints(): readonly string[] {
    return this.transport.pool.endpoints;
  }

  /** The member the next call goes to first. */
  get currentEndpoint(): string | undefined {
    return this.transport.pool.preferred;
  }

  /**
   * Any API call by method and path (with its query), answering the parsed JSON body; what the
   * typed methods are built on, for routes this version does not know yet.
   */
  request<T>(method: string, path: string, options: CallOptions & { body?: unknown; headers?: Readonly<Record<string, string>> } = {}): Promise<T> {
    return this.transport.call<T>({
      method,
      path,
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...signalOf(options),
    });
  }

  // ---- configuration --------------------------------------------------------------------------

  /** One config key; NotFoundError when absent. */
  getConfig<T = unknown>(key: string, options?: ReadOptions): Promise<ConfigEntry<T>> {
    return this.request("GET", `/v1/config/${keyPath(key)}${query({ consistency: options?.consistency })}`, signalOf(options));
  }

  /** Stores a JSON value; with `ifMatch` only if the key's modRevision equals it (PreconditionFailedError otherwise). */
  putConfig(key: string, value: unknown, options?: IfMatchOptions): Promise<ConfigWriteResult> {
    return this.request("PUT", `/v1/config/${keyPath(key)}`, { body: value === undefined ? null : value, headers: ifMatch(options), ...signalOf(options) });
  }

  /** Deletes a key; NotFoundError when absent. */
  deleteConfig(key: string, options?: IfMatchOptions): Promise<ConfigWriteResult> {
    return this.request("DELETE", `/v1/config/${keyPath(key)}`, { headers: ifMatch(options), ...signalOf(options) });
  }

  /** Every key under a prefix, sorted, with the revision the list was read at. */
  listConfig<T = unknown>(prefix = "", options?: ReadOptions): Promise<ConfigList<T>> {
    return this.request("GET", `/v1/config${query({ prefix, consistency: options?.consistency })}`, signalOf(options));
  }

  /** Earlier values of a key back to the last compaction; roll back by putting an old value. */
  configHistory<T = unknown>(key: string, options?: CallOptions): Promise<ConfigHistory<T>> {
    return this.request("GET", `/v1/config/${keyPath(key)}/history`, signalOf(options));
  }

  /**
   * Every visible store key under a prefix (config, registry, policies, public keys,
   * revocations), read at one revision: list, then `watch(prefix, { fromRevision: revision + 1 })`.
   */
  listKeys<T = unknown>(prefix = "", options?: ReadOptions): Promise<StoreList<T>> {
    return this.request("GET", `/v1/keys${query({ prefix, consistency: options?.consistency })}`, signalOf(options));
  }

  // ---- cluster --------------------------------------------------------------------------------

  /** The leader, term, revision and each member's role and progress, as the answering member sees them. */
  clusterStatus(options?: CallOptions): Promise<ClusterStatus> {
    return this.request("GET", "/v1/cluster", signalOf(options));
  }

  /** Adds a member (started with --join); ConflictError when it already is one. */
  addMember(memberId: string, url: string, options?: CallOptions): Promise<AddMemberResult> {
    return this.request("POST", "/v1/cluster/members", { body: { id: memberId, url }, ...signalOf(options) });
  }

  /** Removes a member; NotFoundError when unknown, ConflictError for the last voter. */
  removeMember(memberId: string, options?: CallOptions): Promise<RemoveMemberResult> {
    return this.request("DELETE", `/v1/cluster/members/${id(memberId)}`, signalOf(options));
  }

  /** Hands leadership to `to` (or to the best-placed member) and answers the new leader. */
  transferLeadership(to?: string, options?: CallOptions): Promise<TransferLeadershipResult> {
    return this.request("POST", "/v1/cluster/leader", { body: to === undefined ? {} : { to }, ...signalOf(options) });
  }

  /**
   * Opens a backup of the integrated store (GET /v1/cluster/snapshot, admin only) on the first
   * member that answers, and hands over its body to be read as a stream; the timeout bounds the
   * wait for the answer to start, the caller's signal the whole download. A NagentError with
   * status 501 (code not_supported) when the control plane runs on etcd.
   */
  async openSnapshot(options?: CallOptions): Promise<{ endpoint: string; body: ReadableStream<Uint8Array>; size: number | undefined }> {
    const { endpoint, response } = await this.transport.stream({
      method: "GET",
      path: "/v1/cluster/snapshot",
      headers: { accept: "application/octet-stream, application/json" },
      ...signalOf(options),
    });
    if (response.body === null) throw new NagentError(`${endpoint} answered the snapshot request without a body`, { status: response.status, code: "empty_answer", endpoint });
    const length = Number(response.headers.get("content-length") ?? Number.NaN);
    return { endpoint, body: response.body, size: Number.isSafeInteger(length) ? length : undefined };
  }

  // ---- registry -------------------------------------------------------------------------------

  /** Registers (or re-registers) a node; it stays healthy while heartbeats arrive within its ttlSeconds. */
  registerNode(nodeId: string, registration: NodeRegistration, options?: CallOptions): Promise<NodeView> {
    return this.request("PUT", `/v1/nodes/${id(nodeId)}`, { body: registration, ...signalOf(options) });
  }

  /** One node; NotFoundError when it is not registered. */
  getNode(nodeId: string, options?: CallOptions): Promise<NodeView> {
    return this.request("GET", `/v1/nodes/${id(nodeId)}`, signalOf(options));
  }

  /** Every node (or those of one domain), sorted by id, with the latest revision sidecars can see. */
  listNodes(options?: ListNodesOptions): Promise<NodeList> {
    return this.request("GET", `/v1/nodes${query({ domain: options?.domain })}`, signalOf(options));
  }

  /** Removes a node from the registry. */
  deregisterNode(nodeId: string, options?: CallOptions): Promise<DeregisterResult> {
    return this.request("DELETE", `/v1/nodes/${id(nodeId)}`, signalOf(options));
  }

  /**
   * Renews a node's lease, reporting the configuration revision it applied. A NotFoundError with
   * code `not_registered` means the node was removed: register it again.
   */
  heartbeat(nodeId: string, report: HeartbeatReport = {}, options?: CallOptions): Promise<HeartbeatResult> {
    return this.request("POST", `/v1/nodes/${id(nodeId)}/heartbeat`, { body: report, ...signalOf(options) });
  }

  // ---- policies -------------------------------------------------------------------------------

  /** Creates or replaces a policy; InvalidRequestError (code `invalid_policy`, `path` set) when the spec is invalid. */
  putPolicy(kind: PolicyKind, name: string, spec: PolicySpec, options?: IfMatchOptions): Promise<PolicyWriteResult> {
    return this.request("PUT", `/v1/policies/${id(kind)}/${id(name)}`, { body: spec, headers: ifMatch(options), ...signalOf(options) });
  }

  /** One policy, its spec exactly as submitted; NotFoundError when absent. */
  getPolicy<S = PolicySpec>(kind: PolicyKind, name: string, options?: CallOptions): Promise<PolicyView<S>> {
    return this.request("GET", `/v1/policies/${id(kind)}/${id(name)}`, signalOf(options));
  }

  /** Every policy, or those of one kind. */
  listPolicies(options?: ListPoliciesOptions): Promise<PolicyList> {
    return this.request("GET", `/v1/policies${query({ kind: options?.kind })}`, signalOf(options));
  }

  /** Deletes a policy; NotFoundError when absent. */
  deletePolicy(kind: PolicyKind, name: string, options?: IfMatchOptions): Promise<PolicyWriteResult> {
    return this.request("DELETE", `/v1/policies/${id(kind)}/${id(name)}`, { headers: ifMatch(options), ...signalOf(options) });
  }

  /** Earlier versions of a policy. */
  policyHistory<S = PolicySpec>(kind: PolicyKind, name: string, options?: CallOptions): Promise<PolicyHistory<S>> {
    return this.request("GET", `/v1/policies/${id(kind)}/${id(name)}/history`, signalOf(options));
  }

  // ---- authentication authority ---------------------------------------------------------------

  /** Issues a signed JWT (default) or an opaque API key. */
  issueToken(request: IssueTokenRequest, options?: CallOptions): Promise<IssuedToken> {
    return this.request("POST", "/v1/auth/tokens", { body: request, ...signalOf(options) });
  }

  /** Whether a token is active, and for whom; an inactive token is an answer, not an error. */
  introspectToken(token: string, options?: CallOptions & { audience?: string }): Promise<Introspection> {
    const body = options?.audience === undefined ? { token } : { token, audience: options.audience };
    return this.request("POST", "/v1/auth/introspect", { body, ...signalOf(options) });
  }

  /** Revokes a token or API key; sidecars refuse it as soon as the revocation reaches them. */
  revokeToken(token: string, options?: CallOptions): Promise<RevokeResult> {
    return this.request("POST", "/v1/auth/revoke", { body: { token }, ...signalOf(options) });
  }

  /** The signing keys and their rotation clock. */
  signingKeys(options?: CallOptions): Promise<SigningKeys> {
    return this.request("GET", "/v1/auth/keys", signalOf(options));
  }

  /** Rotates the signing key now. */
  rotateSigningKeys(options?: CallOptions): Promise<RotateKeysResult> {
    return this.request("POST", "/v1/auth/keys/rotate", signalOf(options));
  }

  /** The public keys that verify issued JWTs (needs no credential). */
  jwks(options?: CallOptions): Promise<Jwks> {
    return this.request("GET", "/.well-known/jwks.json", signalOf(options));
  }

  // ---- watch ----------------------------------------------------------------------------------

  /**
   * Streams every change under a store prefix (`config/`, `registry/`, `policies/`, `auth/`, or
   * "" for all) to `onEvent`, in revision order, exactly once each: it resumes after a disconnect
   * or a member restart with Last-Event-ID, backing off from 100 ms to 5 s with jitter and
   * failing over between members. A compacted starting revision ends the watch with a
   * CompactedError passed to `onError` and to `done`: re-list, then watch from the list's
   * revision + 1.
   */
  watch<T = unknown>(prefix: string, options: WatchOptions<T>): WatchHandle {
    return new WatchLoop<T>(this.transport, prefix, options, this.fetch);
  }
}
