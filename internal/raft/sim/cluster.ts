// What the workload and the nemesis see of a running simulation.

import type { NodeId } from "../types.ts";
import type { SimNetwork } from "./network.ts";
import type { SimNode } from "./node.ts";
import type { Rng } from "./random.ts";

/** Simulated time units per tick (a tick is ~100 ms; a unit ~10 ms). */
export const TICK = 10;
export const ELECTION_TICK = 10;
export const HEARTBEAT_TICK = 1;

export interface SimCluster {
  readonly rng: Rng;
  readonly net: SimNetwork;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  now(): number;
  say(line: string): void;
  trace(...values: number[]): void;
  /** The live member that leads the newest term, if any. */
  currentLeader(): SimNode | undefined;
  /** Creates a member with an empty disk (not started). */
  addNode(id: NodeId): SimNode;
  dropNode(id: NodeId): void;
}
