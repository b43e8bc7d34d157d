// The sidecar's copy of what the control plane publishes: every visible store key (config/,
// registry/, policies/, auth/), kept by list-then-watch, and the typed views the request path
// reads (nodes and their health, validated policies, public keys, revocations). Views are rebuilt
// when their keys change, never per request; listeners hear of a change once per batch.
import type { JWK } from "jose";
import { z } from "zod";
import { validatePolicy, type AuthzPolicy, type ResiliencePolicy } from "../policy/index.ts";
import type { Logger } from "../telemetry/index.ts";

const CONFIG = "config/";
const NODES = "registry/nodes/";
const HEALTH = "registry/health/";
const POLICIES = "policies/";
const PUBLIC_KEYS = "auth/keys/";
const REVOCATIONS = "auth/revocations/";

/** A registered node as routing needs it. */
export interface NodeInfo {
  readonly id: string;
  readonly address: string;
  readonly domains: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

export interface NamedPolicy<P> {
  readonly name: string;
  readonly policy: P;
}

/** One stored key with its value (any JSON). */
export interface StateItem {
  readonly key: string;
  readonly value: unknown;
}

export type StateChange = "config" | "nodes" | "policies" | "keys" | "revocations";

const nodeRecord = z.looseObject({
  id: z.string(),
  address: z.string(),
  domains: z.array(z.string()),
  metadata: z.record(z.string(), z.string()).default({}),
});
const publicKeyRecord = z.looseObject({ kid: z.string(), jwk: z.looseObject({ kty: z.string() }) });
const revocationRecord = z.looseObject({ id: z.string(), expiresAt: z.number() });

export class MeshState {
  private readonly items = new Map<string, unknown>();
  private revisionValue = 0;
  private appliedAt: string | null = null;
  private readonly dirty = new Set<StateChange>();
  private flushScheduled = false;
  private readonly listeners = new Set<(changes: ReadonlySet<StateChange>) => void>();
  private readonly configListeners = new Set<(key: string, value: unknown, revision: number, type: "put" | "delete") => void>();

  private nodesView = new Map<string, NodeInfo>();
  private healthyView = new Set<string>();
  private resilienceView = new Map<string, NamedPolicy<ResiliencePolicy>>();
  private authzView: NamedPolicy<AuthzPolicy>[] = [];
  private keysView: JWK[] = [];
  private revokedView = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /** The revision of the last change applied: what the sidecar reports as applied. */
  get revision(): number {
    return this.revisionValue;
  }

  /** When the revision last moved (ISO), for heartbeats; null before anything was applied. */
  get revisionAppliedAt(): string | null {
    return this.appliedAt;
  }

  /** Replaces everything with a full list read at `revision`. */
  reset(items: readonly StateItem[], revision: number): void {
    const before = new Set(this.items.keys());
    this.items.clear();
    for (const item of items) this.items.set(item.key, item.value);
    for (const key of new Set([...before, ...this.items.keys()])) this.markKey(key);
    for (const key of before) if (!this.items.has(key) && key.startsWith(CONFIG)) this.notifyConfig(key, undefined, revision, "delete");
    for (const item of items) if (item.key.startsWith(CONFIG)) this.notifyConfig(item.key, item.value, revision, "put");
    this.setRevision(revision);
    this.rebuild();
  }

  /** Applies one change from the watch. */
  apply(type: "put" | "delete", key: string, value: unknown, revision: number): void {
    if (type === "put") this.items.set(key, value);
    else this.items.delete(key);
    if (revision > this.revisionValue) this.setRevision(revision);
    this.markKey(key);
    if (key.startsWith(CONFIG)) this.notifyConfig(key, value, revision, type);
    this.scheduleRebuild();
  }

  private setRevision(revision: number): void {
    if (revision !== this.revisionValue || this.appliedAt === null) this.appliedAt = new Date().toISOString();
    this.revisionValue = revision;
  }

  /** Every item, for the cache dir. */
  snapshot(): { revision: number; items: StateItem[] } {
    return { revision: this.revisionValue, items: [...this.items].map(([key, value]) => ({ key, value })) };
  }

  /** Called after each batch of changes with the kinds that changed. */
  onChange(listener: (changes: ReadonlySet<StateChange>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called for every config key change (keys without the config/ prefix). */
  onConfig(listener: (key: string, value: unknown, revision: number, type: "put" | "delete") => void): () => void {
    this.configListeners.add(listener);
    return () => this.configListeners.delete(listener);
  }

  /** A config value by its key (without the config/ prefix). */
  config(key: string): unknown {
    return this.items.get(CONFIG + key);
  }

  /** Config keys under a prefix (without config/), sorted. */
  configUnder(prefix: string): { key: string; value: unknown }[] {
    const out: { key: string; value: unknown }[] = [];
    for (const [key, value] of this.items) if (key.startsWith(CONFIG + prefix)) out.push({ key: key.slice(CONFIG.length), value });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get nodes(): ReadonlyMap<string, NodeInfo> {
    return this.nodesView;
  }

  isHealthy(id: string): boolean {
    return this.healthyView.has(id);
  }

  /** Healthy nodes serving a domain. */
  instancesOf(domain: string): NodeInfo[] {
    const out: NodeInfo[] = [];
    for (const node of this.nodesView.values()) if (node.domains.includes(domain) && this.healthyView.has(node.id)) out.push(node);
    return out;
  }

  /** The resilience policy for a target domain (the first by name when several target it). */
  resilienceFor(domain: string): NamedPolicy<ResiliencePolicy> | undefined {
    return this.resilienceView.get(domain);
  }

  get resiliencePolicies(): ReadonlyMap<string, NamedPolicy<ResiliencePolicy>> {
    return this.resilienceView;
  }

  get authzPolicies(): readonly NamedPolicy<AuthzPolicy>[] {
    return this.authzView;
  }

  get publicKeys(): readonly JWK[] {
    return this.keysView;
  }

  isRevoked(id: string): boolean {
    return this.revokedView.has(id);
  }

  get revokedIds(): ReadonlySet<string> {
    return this.revokedView;
  }

  get size(): number {
    return this.items.size;
  }

  private markKey(key: string): void {
    if (key.startsWith(CONFIG)) this.dirty.add("config");
    else if (key.startsWith(NODES) || key.startsWith(HEALTH)) this.dirty.add("nodes");
    else if (key.startsWith(POLICIES)) this.dirty.add("policies");
    else if (key.startsWith(PUBLIC_KEYS)) this.dirty.add("keys");
    else if (key.startsWith(REVOCATIONS)) this.dirty.add("revocations");
  }

  private notifyConfig(fullKey: string, value: unknown, revision: number, type: "put" | "delete"): void {
    for (const listener of this.configListeners) listener(fullKey.slice(CONFIG.length), value, revision, type);
  }

  /** Changes of one revision arrive one by one; rebuild once, after the batch. */
  private scheduleRebuild(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.rebuild();
    });
  }

  /** Rebuilds now what changed (also called by tests that need the views at once). */
  rebuild(): void {
    if (this.dirty.size === 0) return;
    const changes = new Set(this.dirty);
    this.dirty.clear();
    if (changes.has("nodes")) this.rebuildNodes();
    if (changes.has("policies")) this.rebuildPolicies();
    if (changes.has("keys")) this.rebuildKeys();
    if (changes.has("revocations")) this.rebuildRevocations();
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (error) {
        this.logger.error({ err: error }, "a state listener failed");
      }
    }
  }

  private rebuildNodes(): void {
    const nodes = new Map<string, NodeInfo>();
    const healthy = new Set<string>();
    for (const [key, value] of this.items) {
      if (key.startsWith(HEALTH)) healthy.add(key.slice(HEALTH.length));
      else if (key.startsWith(NODES)) {
        const parsed = nodeRecord.safeParse(value);
        if (!parsed.success) {
          this.logger.warn({ key }, "ignoring a registry record that does not parse");
          continue;
        }
        const { id, address, domains, metadata } = parsed.data;
        nodes.set(id, { id, address: address.replace(/\/+$/, ""), domains, metadata });
      }
    }
    this.nodesView = nodes;
    this.healthyView = healthy;
  }

  private rebuildPolicies(): void {
    const resilience = new Map<string, NamedPolicy<ResiliencePolicy>>();
    const authz: NamedPolicy<AuthzPolicy>[] = [];
    const keys = [...this.items.keys()].filter((key) => key.startsWith(POLICIES)).sort();
    for (const key of keys) {
      const [kind, name] = key.slice(POLICIES.length).split("/");
      if (kind === undefined || name === undefined) continue;
      const validation = validatePolicy(kind, this.items.get(key));
      if (!validation.ok) {
        // The control plane validates before storing; a policy of a newer version may still not parse here.
        this.logger.warn({ key, error: validation.error.message }, "ignoring a policy this sidecar cannot apply");
        continue;
      }
      if (validation.kind === "resilience") {
        const domain = validation.policy.target.domain;
        if (!resilience.has(domain)) resilience.set(domain, { name, policy: validation.policy });
        else this.logger.warn({ key, domain, applied: resilience.get(domain)?.name }, "two resilience policies target one domain; the first by name applies");
      } else {
        authz.push({ name, policy: validation.policy });
      }
    }
    this.resilienceView = resilience;
    this.authzView = authz;
  }

  private rebuildKeys(): void {
    const keys: JWK[] = [];
    for (const [key, value] of this.items) {
      if (!key.startsWith(PUBLIC_KEYS)) continue;
      const parsed = publicKeyRecord.safeParse(value);
      if (parsed.success) keys.push({ ...(parsed.data.jwk as JWK), kid: parsed.data.kid });
    }
    this.keysView = keys;
  }

  private rebuildRevocations(): void {
    const revoked = new Set<string>();
    for (const [key, value] of this.items) {
      if (!key.startsWith(REVOCATIONS)) continue;
      const parsed = revocationRecord.safeParse(value);
      revoked.add(parsed.success ? parsed.data.id : key.slice(REVOCATIONS.length));
    }
    this.revokedView = revoked;
  }
}
