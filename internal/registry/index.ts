export { NodeRegistry, NodeNotRegisteredError, RegistrationConflictError, NODES_PREFIX, HEALTH_PREFIX, STATUS_PREFIX, type NodeState } from "./registry.ts";
export { NODE_ID, registrationSchema, heartbeatSchema, normalizeRegistration, type Registration, type HeartbeatReport } from "./schema.ts";
export { SyncTracker, type SyncState } from "./sync.ts";
