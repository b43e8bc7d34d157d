// /v1/nodes: the service registry. Sidecars register their node with its advertised address and
// domains, heartbeat with the config revision they have applied, and the whole mesh (other
// sidecars, the aggregator, nagentctl) reads who is there and healthy.
import type { Hono } from "hono";
import { Counter, type Registry } from "prom-client";
import { HttpError, readJson } from "../server/index.ts";
import {
  NODE_ID,
  NodeNotRegisteredError,
  RegistrationConflictError,
  heartbeatSchema,
  normalizeRegistration,
  registrationSchema,
  type NodeRegistry,
  type NodeState,
  type SyncTracker,
} from "../registry/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { consistencyOf } from "./consistency.ts";
import { orHttp } from "./http-errors.ts";

function nodeId(raw: string): string {
  if (!NODE_ID.test(raw)) {
    throw new HttpError(400, "invalid_node_id", `invalid node id ${JSON.stringify(raw)}: expected letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)`);
  }
  return raw;
}

function registryError(error: unknown): unknown {
  if (error instanceof NodeNotRegisteredError) return new HttpError(404, "not_registered", error.message);
  if (error instanceof RegistrationConflictError) return new HttpError(409, "conflict", error.message);
  return error;
}

async function run<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await orHttp(work);
  } catch (error) {
    throw registryError(error);
  }
}

function registryMetrics(registry: Registry) {
  const registers = [registry];
  return {
    registrations: new Counter({ name: "nagent_registry_registrations_total", help: "Node registrations (new or replaced) accepted by this member.", registers }),
    deregistrations: new Counter({ name: "nagent_registry_deregistrations_total", help: "Nodes deregistered through this member.", registers }),
    heartbeats: new Counter({
      name: "nagent_registry_heartbeats_total",
      help: "Heartbeats answered by this member, by result (ok, not_registered, failed).",
      labelNames: ["result"],
      registers,
    }),
  };
}

/** Mounts the registry routes on an authenticated app. */
export function mountRegistryApi(app: Hono<ControlPlaneEnv>, registry: NodeRegistry, tracker: SyncTracker, metricsRegistry: Registry): void {
  const metrics = registryMetrics(metricsRegistry);
  const view = (node: NodeState) => ({ ...node, sync: tracker.stateOf(node.configRevision, node.lastHeartbeat) });

  app.get("/v1/nodes", async (c) => {
    const domain = c.req.query("domain");
    const nodes = await run(() => registry.list({ consistency: consistencyOf(c), ...(domain ? { domain } : {}) }));
    return c.json({ revision: tracker.latestRevision, nodes: nodes.map(view) });
  });

  app.get("/v1/nodes/:id", async (c) => {
    const id = nodeId(c.req.param("id"));
    const node = await run(() => registry.get(id, consistencyOf(c)));
    if (!node) throw new HttpError(404, "not_found", `no node ${id}`);
    return c.json(view(node));
  });

  app.put("/v1/nodes/:id", async (c) => {
    const id = nodeId(c.req.param("id"));
    const registration = normalizeRegistration(await readJson(c, registrationSchema));
    const node = await run(() => registry.register(id, registration));
    metrics.registrations.inc();
    return c.json(view(node));
  });

  app.post("/v1/nodes/:id/heartbeat", async (c) => {
    const id = nodeId(c.req.param("id"));
    const report = await readJson(c, heartbeatSchema, { allowEmpty: true });
    try {
      const answer = await run(() => registry.heartbeat(id, report));
      metrics.heartbeats.inc({ result: "ok" });
      // The sidecar learns where it stands: the latest revision it should hold, and its sync state.
      const sync = tracker.stateOf(report.configRevision ?? null, new Date().toISOString());
      return c.json({ ...answer, revision: tracker.latestRevision, sync });
    } catch (error) {
      metrics.heartbeats.inc({ result: error instanceof HttpError && error.code === "not_registered" ? "not_registered" : "failed" });
      throw error;
    }
  });

  app.delete("/v1/nodes/:id", async (c) => {
    const id = nodeId(c.req.param("id"));
    const removed = await run(() => registry.deregister(id));
    if (!removed) throw new HttpError(404, "not_found", `no node ${id}`);
    metrics.deregistrations.inc();
    return c.json({ id, revision: removed.revision });
  });
}
