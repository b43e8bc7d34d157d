// The wire types of the control-plane API, as the server sends and accepts them.

/** Per-call options every method accepts. */
export interface CallOptions {
  /** Aborts the call; an aborted call is not failed over. */
  readonly signal?: AbortSignal;
}

/** Compare-and-set on a modRevision: the write happens only if the current one equals it (0 = only if absent). */
export interface IfMatchOptions extends CallOptions {
  readonly ifMatch?: number;
}

// ---- configuration ----------------------------------------------------------------------------

/** `linearizable` (default) reflects every acknowledged write; `serializable` is the member's own copy. */
export type Consistency = "linearizable" | "serializable";

export interface ReadOptions extends CallOptions {
  readonly consistency?: Consistency;
}

export interface ConfigEntry<T = unknown> {
  readonly key: string;
  readonly value: T;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

/** The answer to a config write or delete. */
export interface ConfigWriteResult {
  readonly key: string;
  readonly revision: number;
}

export interface ConfigList<T = unknown> {
  readonly prefix: string;
  /** The revision the list was read at: watch from `revision + 1` to miss nothing after it. */
  readonly revision: number;
  readonly items: readonly ConfigEntry<T>[];
}

/** One store key as GET /v1/keys shows it (`config/...`, `registry/...`, `policies/...`, `auth/...`). */
export interface StoreItem<T = unknown> {
  readonly key: string;
  readonly value: T;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

export interface StoreList<T = unknown> {
  readonly prefix: string;
  /** The revision the list was read at: watch from `revision + 1` to miss nothing after it. */
  readonly revision: number;
  readonly items: readonly StoreItem<T>[];
}

export interface ConfigHistoryEntry<T = unknown> {
  readonly type: "put" | "delete";
  readonly revision: number;
  readonly value?: T;
}

export interface ConfigHistory<T = unknown> {
  readonly key: string;
  readonly history: readonly ConfigHistoryEntry<T>[];
}

// ---- cluster ----------------------------------------------------------------------------------

export type MemberRole = "leader" | "follower" | "candidate" | "learner" | "unknown";

export interface ClusterMember {
  readonly id: string;
  readonly url: string;
  readonly role: MemberRole;
  /** Reported for the member that answered (its own indexes). */
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Reported by a leader for the other members: how far their log matches its own. */
  readonly matchIndex?: number;
}

export interface ClusterStatus {
  readonly store: "raft" | "etcd";
  readonly leader: string | null;
  readonly term: number;
  readonly revision: number;
  readonly members: readonly ClusterMember[];
}

export interface AddMemberResult {
  readonly added: string;
}

export interface RemoveMemberResult {
  readonly removed: string;
}

export interface TransferLeadershipResult {
  readonly leader: string;
}

// ---- registry ---------------------------------------------------------------------------------

export interface NodeRegistration {
  /** Where other sidecars reach this node's inbound port. */
  readonly address: string;
  /** Business domains served: communication, execution, coordination, state, core, ... */
  readonly domains: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  /** Lease length, 1..3600 (default 10): a node without a heartbeat for this long turns unhealthy. */
  readonly ttlSeconds?: number;
  /** How long an unhealthy node stays listed before it is removed. */
  readonly removeAfterSeconds?: number;
}

export type SyncState = "synced" | "stale" | "unknown";

export interface NodeView {
  readonly id: string;
  readonly address: string;
  readonly domains: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly ttlSeconds: number;
  readonly removeAfterSeconds: number;
  readonly healthy: boolean;
  /** ISO-8601. */
  readonly registeredAt: string;
  readonly lastHeartbeat: string | null;
  /** The configuration revision the node last reported it applied. */
  readonly configRevision: number | null;
  readonly configAppliedAt: string | null;
  readonly sync: { readonly state: SyncState; readonly behind?: number };
  /** modRevision of the registration. */
  readonly revision: number;
}

export interface NodeList {
  /** The latest revision of a change sidecars can see. */
  readonly revision: number;
  readonly nodes: readonly NodeView[];
}

export interface ListNodesOptions extends CallOptions {
  /** Only nodes serving this domain. */
  readonly domain?: string;
}

export interface DeregisterResult {
  readonly id: string;
  readonly revision: number;
}

export interface HeartbeatReport {
  readonly configRevision?: number;
  /** ISO-8601. */
  readonly configAppliedAt?: string;
}

export interface HeartbeatResult {
  readonly id: string;
  readonly healthy: true;
  readonly ttlSeconds: number;
  /** The latest revision of a change sidecars can see, as the answering member knows it. */
  readonly revision: number;
  /** Whether the reported configRevision is that latest revision (see NodeView.sync). */
  readonly sync: { readonly state: SyncState; readonly behind?: number };
}

// ---- policies ---------------------------------------------------------------------------------

export const POLICY_KINDS = ["resilience", "authz"] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

/** A policy as submitted; the control plane validates it and stores it exactly as given. */
export type PolicySpec = Readonly<Record<string, unknown>>;

export interface PolicyWriteResult {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly revision: number;
}

export interface PolicyView<S = PolicySpec> {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly spec: S;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

export interface PolicyList {
  readonly revision: number;
  readonly policies: readonly PolicyView[];
}

export interface ListPoliciesOptions extends CallOptions {
  readonly kind?: PolicyKind;
}

export interface PolicyHistory<S = PolicySpec> {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly history: readonly { readonly type: "put" | "delete"; readonly revision: number; readonly spec?: S }[];
}

// ---- authentication authority ------------------------------------------------------------------

export type TokenKind = "jwt" | "api-key";

export interface IssueTokenRequest {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly audience?: string | readonly string[];
  readonly ttlSeconds?: number;
  /** `jwt` (default): a signed token verified offline; `api-key`: an opaque key checked by introspection. */
  readonly kind?: TokenKind;
}

export interface IssuedToken {
  readonly token: string;
  readonly kind: TokenKind;
  readonly id: string;
  /** ISO-8601. */
  readonly expiresAt: string;
}

export type Introspection =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly kind: TokenKind;
      readonly id: string;
      readonly subject: string;
      readonly roles: readonly string[];
      readonly aud: readonly string[];
      /** Unix seconds. */
      readonly exp: number;
      readonly iat: number;
    };

export interface RevokeResult {
  readonly revoked: true;
  readonly id: string;
  readonly kind: TokenKind;
  /** Set when the token had expired already (the revocation is recorded all the same). */
  readonly alreadyExpired?: true;
}

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  /** ISO-8601. */
  readonly createdAt: string;
  readonly state: "current" | "previous";
  readonly retiresAt?: string;
}

export interface SigningKeys {
  readonly current: string;
  /** When the current key became current (ISO-8601), when the server says. */
  readonly rotatedAt?: string;
  readonly rotationIntervalSeconds: number;
  readonly nextRotationAt: string;
  readonly maxTokenTtlSeconds: number;
  readonly keys: readonly SigningKey[];
}

export interface RotateKeysResult {
  readonly current: string;
  readonly previous: string;
}

/** A public JSON Web Key. */
export interface Jwk {
  readonly kty: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly [field: string]: unknown;
}

export interface Jwks {
  readonly keys: readonly Jwk[];
}

// ---- watch ------------------------------------------------------------------------------------

/**
 * One change in the store. Keys are the store's: `config/<key>`, `registry/nodes/<id>`,
 * `registry/health/<id>`, `policies/<kind>/<name>`, `auth/keys/<kid>`, `auth/revocations/<id>`.
 */
export interface WatchEvent<T = unknown> {
  readonly type: "put" | "delete";
  readonly key: string;
  /** The new value of a put. */
  readonly value?: T;
  readonly revision: number;
}
