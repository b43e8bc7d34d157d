// The sidecar: the data plane on every business node.
export { Sidecar, type SidecarOptions } from "./sidecar.ts";
export { MeshState, type NodeInfo } from "./mesh-state.ts";
