// What the simulated-sidecars process of scripts/bench/aggregator.ts answers on its control port
// (aggregator-sidecars.ts serves it, aggregator-fleet.ts reads it).

/** One simulated node: where its /metrics is, which domains it serves and calls. */
export interface FleetNode {
  readonly id: string;
  readonly url: string;
  readonly served: readonly string[];
  readonly called: readonly string[];
}

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export interface FleetStats {
  readonly nodes: number;
  /** Size of each node's current /metrics body. */
  readonly bodyBytes: Spread;
  /** Sample lines in each node's current body. */
  readonly bodySamples: Spread;
  /** GET /metrics answered so far, over every node, and their bytes. */
  readonly scrapesServed: number;
  readonly bytesServed: number;
  readonly neverScraped: number;
  /** Inbound requests observed so far, over every node. */
  readonly inboundObserved: number;
  /**
   * Over every node: inbound requests counted in the last body it answered a scrape with, minus
   * those in the first. The aggregator's total_requests must say exactly this (it counts a node
   * from its first scrape on), when no scrape is in flight.
   */
  readonly servedInboundDelta: number;
  /** Body renders (prom-client exposition) so far, and their time in seconds. */
  readonly renders: { readonly count: number; readonly seconds: number; readonly maxSeconds: number };
}
