// The service registry on the replicated store. Each node holds two leases, so that both stages
// of its departure are decided by the store and seen by every member and watcher alike:
//   - the health lease (TTL = ttlSeconds) carries registry/health/{id}: while the key exists the
//     node is healthy and takes traffic; when heartbeats stop, the key expires and it leaves routing;
//   - the registration lease (TTL = ttlSeconds + removeAfterSeconds) carries registry/nodes/{id}
//     and the node's sync status: when it expires too, the node is gone from the registry.
// A heartbeat renews both; one that finds the health lease expired grants a new one, so a node
// that comes back is healthy again without re-registering.
import { z } from "zod";
import { LeaseNotFoundError, PreconditionFailedError, type Consistency, type KeyValue, type Store } from "../store/index.ts";
import type { HeartbeatReport, Registration } from "./schema.ts";

export const NODES_PREFIX = "registry/nodes/";
export const HEALTH_PREFIX = "registry/health/";
/** Heartbeat reports change on every heartbeat; kept out of the watched prefixes so sidecars are not woken by them. */
export const STATUS_PREFIX = "system/registry/status/";

const nodeRecord = z.object({
  id: z.string(),
  address: z.string(),
  domains: z.array(z.string()),
  metadata: z.record(z.string(), z.string()),
  ttlSeconds: z.number(),
  removeAfterSeconds: z.number(),
  registeredAt: z.string(),
  leases: z.object({ health: z.string(), registration: z.string() }),
});
type NodeRecord = z.infer<typeof nodeRecord>;

const statusRecord = z.object({
  lastHeartbeat: z.string(),
  configRevision: z.number().optional(),
  configAppliedAt: z.string().optional(),
});
type StatusRecord = z.infer<typeof statusRecord>;

/** A node as the registry knows it. */
export interface NodeState extends Registration {
  readonly id: string;
  readonly healthy: boolean;
  readonly registeredAt: string;
  readonly lastHeartbeat: string | null;
  /** The store revision the node's sidecar last reported having applied, and when it applied it. */
  readonly configRevision: number | null;
  readonly configAppliedAt: string | null;
  /** The registration's modRevision. */
  readonly revision: number;
}

/** A heartbeat for a node that is not (or no longer) registered: it must register again. */
export class NodeNotRegisteredError extends Error {
  override readonly name = "NodeNotRegisteredError";
  constructor(readonly id: string) {
    super(`node ${id} is not registered (it may have been removed after missing its heartbeats); register it again`);
  }
}

/** Too many concurrent changes to one node's registration; the caller may retry. */
export class RegistrationConflictError extends Error {
  override readonly name = "RegistrationConflictError";
  constructor(readonly id: string) {
    super(`node ${id} was changed concurrently by another request; retry`);
  }
}

const ATTEMPTS = 5;

export class NodeRegistry {
  constructor(private readonly store: Store) {}

  /** Registers a node, or replaces its registration; it is healthy at once. */
  async register(id: string, registration: Registration): Promise<NodeState> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const existing = await this.store.get(NODES_PREFIX + id);
      const previous = existing ? parseNode(existing) : undefined;
      const [health, removal] = await Promise.all([
        this.store.grantLease(registration.ttlSeconds),
        this.store.grantLease(registration.ttlSeconds + registration.removeAfterSeconds),
      ]);
      const now = new Date().toISOString();
      const record: NodeRecord = {
        id,
        ...registration,
        domains: [...registration.domains],
        metadata: { ...registration.metadata },
        registeredAt: now,
        leases: { health, registration: removal },
      };
      let revision: number;
      try {
        ({ revision } = await this.store.put(NODES_PREFIX + id, JSON.stringify(record), {
          ifModRevision: existing?.modRevision ?? 0,
          lease: removal,
        }));
      } catch (error) {
        await this.revokeQuietly(health, removal);
        if (error instanceof PreconditionFailedError) continue;
        throw error;
      }
      // The registration first, then its health: a watcher never sees a healthy node it does not know.
      await this.store.put(HEALTH_PREFIX + id, JSON.stringify({ since: now }), { lease: health });
      const status: StatusRecord = { lastHeartbeat: now };
      await this.store.put(STATUS_PREFIX + id, JSON.stringify(status), { lease: removal });
      if (previous) await this.revokeQuietly(previous.leases.health, previous.leases.registration);
      return present(record, revision, true, status);
    }
    throw new RegistrationConflictError(id);
  }

  /**
   * Renews the node's leases and records what its sidecar reports. Throws NodeNotRegisteredError
   * when the registration is gone.
   */
  async heartbeat(id: string, report: HeartbeatReport): Promise<{ id: string; healthy: true; ttlSeconds: number }> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const kv = await this.store.get(NODES_PREFIX + id);
      if (!kv) throw new NodeNotRegisteredError(id);
      const record = parseNode(kv);
      const [removal, health] = await Promise.allSettled([
        this.store.keepAlive(record.leases.registration),
        this.store.keepAlive(record.leases.health),
      ]);
      if (removal.status === "rejected") {
        if (removal.reason instanceof LeaseNotFoundError) throw new NodeNotRegisteredError(id);
        throw removal.reason;
      }
      if (health.status === "rejected") {
        if (!(health.reason instanceof LeaseNotFoundError)) throw health.reason;
        // Back after its health expired: a new health lease, claimed on the registration first so
        // that of two heartbeats racing here exactly one lease ends up in use.
        const lease = await this.store.grantLease(record.ttlSeconds);
        const renewed: NodeRecord = { ...record, leases: { ...record.leases, health: lease } };
        try {
          await this.store.put(NODES_PREFIX + id, JSON.stringify(renewed), { ifModRevision: kv.modRevision, lease: record.leases.registration });
        } catch (error) {
          await this.revokeQuietly(lease);
          if (error instanceof PreconditionFailedError) continue;
          if (error instanceof LeaseNotFoundError) throw new NodeNotRegisteredError(id);
          throw error;
        }
        await this.store.put(HEALTH_PREFIX + id, JSON.stringify({ since: new Date().toISOString() }), { lease });
      }
      const status: StatusRecord = {
        lastHeartbeat: new Date().toISOString(),
        ...(report.configRevision !== undefined ? { configRevision: report.configRevision } : {}),
        ...(report.configAppliedAt !== undefined ? { configAppliedAt: report.configAppliedAt } : {}),
      };
      if (status.configRevision === undefined) {
        // Keep the last report when this heartbeat carries none.
        const previous = await this.store.get(STATUS_PREFIX + id);
        const parsed = previous ? statusRecord.safeParse(JSON.parse(previous.value)) : undefined;
        if (parsed?.success && parsed.data.configRevision !== undefined) {
          status.configRevision = parsed.data.configRevision;
          if (parsed.data.configAppliedAt !== undefined) status.configAppliedAt = parsed.data.configAppliedAt;
        }
      }
      try {
        await this.store.put(STATUS_PREFIX + id, JSON.stringify(status), { lease: record.leases.registration });
      } catch (error) {
        if (error instanceof LeaseNotFoundError) throw new NodeNotRegisteredError(id);
        throw error;
      }
      return { id, healthy: true, ttlSeconds: record.ttlSeconds };
    }
    throw new RegistrationConflictError(id);
  }

  /** Removes a node at once; answers undefined when it was not registered. */
  async deregister(id: string): Promise<{ revision: number } | undefined> {
    const kv = await this.store.get(NODES_PREFIX + id);
    if (!kv) return undefined;
    const record = parseNode(kv);
    // Out of routing first, then out of the registry; the leases go last, with nothing left on them.
    await this.store.delete(HEALTH_PREFIX + id);
    const deleted = await this.store.delete(NODES_PREFIX + id);
    await this.store.delete(STATUS_PREFIX + id);
    await this.revokeQuietly(record.leases.health, record.leases.registration);
    return { revision: deleted.revision };
  }

  async get(id: string, consistency: Consistency = "linearizable"): Promise<NodeState | undefined> {
    const [node, health, status] = await Promise.all([
      this.store.get(NODES_PREFIX + id, consistency),
      this.store.get(HEALTH_PREFIX + id, consistency),
      this.store.get(STATUS_PREFIX + id, consistency),
    ]);
    if (!node) return undefined;
    return present(parseNode(node), node.modRevision, health !== undefined, parseStatus(status));
  }

  /** Every node (of a domain, when given), sorted by id. */
  async list(options: { domain?: string; consistency?: Consistency } = {}): Promise<NodeState[]> {
    const consistency = options.consistency ?? "linearizable";
    const [nodes, health, statuses] = await Promise.all([
      this.store.list(NODES_PREFIX, consistency),
      this.store.list(HEALTH_PREFIX, consistency),
      this.store.list(STATUS_PREFIX, consistency),
    ]);
    const healthy = new Set(health.items.map((item) => item.key.slice(HEALTH_PREFIX.length)));
    const statusById = new Map(statuses.items.map((item) => [item.key.slice(STATUS_PREFIX.length), item]));
    return nodes.items
      .map((item) => {
        const record = parseNode(item);
        return present(record, item.modRevision, healthy.has(record.id), parseStatus(statusById.get(record.id)));
      })
      .filter((node) => options.domain === undefined || node.domains.includes(options.domain));
  }

  private async revokeQuietly(...leases: string[]): Promise<void> {
    await Promise.all(
      leases.map((lease) =>
        this.store.revokeLease(lease).catch((error: unknown) => {
          if (!(error instanceof LeaseNotFoundError)) throw error;
        }),
      ),
    );
  }
}

function parseNode(kv: KeyValue): NodeRecord {
  return nodeRecord.parse(JSON.parse(kv.value));
}

function parseStatus(kv: KeyValue | undefined): StatusRecord | undefined {
  if (!kv) return undefined;
  const parsed = statusRecord.safeParse(JSON.parse(kv.value));
  return parsed.success ? parsed.data : undefined;
}

function present(record: NodeRecord, revision: number, healthy: boolean, status: StatusRecord | undefined): NodeState {
  return {
    id: record.id,
    address: record.address,
    domains: record.domains,
    metadata: record.metadata,
    ttlSeconds: record.ttlSeconds,
    removeAfterSeconds: record.removeAfterSeconds,
    healthy,
    registeredAt: record.registeredAt,
    lastHeartbeat: status?.lastHeartbeat ?? null,
    configRevision: status?.configRevision ?? null,
    configAppliedAt: status?.configAppliedAt ?? null,
    revision,
  };
}
