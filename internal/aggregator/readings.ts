// What one scrape of a sidecar or a control-plane member says, reduced to what the cluster view
// keeps: request counts, errors, time and latency buckets per domain (inbound), the cross-node
// latency buckets (outbound), the breakers' states and the config revision held. Summing over the
// labels the view does not keep (method, status class) happens here, once per scrape.
import { LATENCY_BUCKETS_SECONDS } from "../telemetry/index.ts";
import type { Sample } from "./prom-text.ts";

/** The upper bounds the sidecars' latency histograms use; a bucket with another bound is ignored (its requests still count in +Inf). */
export const BUCKET_BOUNDS: readonly number[] = LATENCY_BUCKETS_SECONDS;
/** Buckets per histogram: one per bound, and +Inf. */
export const BUCKETS = BUCKET_BOUNDS.length + 1;

const BOUND_INDEX = new Map<string, number>(BUCKET_BOUNDS.map((bound, i) => [String(bound), i]));

function boundIndex(le: string | undefined): number {
  if (le === undefined) return -1;
  if (le === "+Inf") return BUCKET_BOUNDS.length;
  const known = BOUND_INDEX.get(le);
  if (known !== undefined) return known;
  // prom-client writes 0.0005 as "0.0005"; another exporter might write "5e-4".
  const value = Number(le);
  const at = BUCKET_BOUNDS.indexOf(value);
  return at;
}

/** Counts of one histogram (cumulative per bucket, as exported) with its total time. */
export class Tally {
  count = 0;
  errors = 0;
  sum = 0;
  readonly buckets = new Float64Array(BUCKETS);
}

export type BreakerState = "closed" | "open" | "half_open";

/** One sidecar's figures at one scrape. */
export interface SidecarReading {
  /** Inbound requests by domain. */
  readonly domains: Map<string, Tally>;
  /** Outbound calls answered by another node's sidecar, all domains together. */
  readonly crossNode: Tally;
  readonly breakers: { readonly domain: string; readonly state: BreakerState }[];
  readonly configRevision: number | undefined;
  /** process_start_time_seconds: a change means the counters started again. */
  readonly startTime: number | undefined;
}

const REQUEST = "nagent_sidecar_request_duration_seconds";
const CROSS = "nagent_sidecar_cross_node_request_duration_seconds";
const BREAKER = "nagent_sidecar_circuit_breaker_state";
const REVISION = "nagent_sidecar_config_revision";
const START = "process_start_time_seconds";
const ERROR_CLASSES = new Set(["5xx", "error"]);

/** Reduces a sidecar's scraped samples to a SidecarReading. */
export function readSidecar(samples: readonly Sample[]): SidecarReading {
  const domains = new Map<string, Tally>();
  const crossNode = new Tally();
  const breakers: { domain: string; state: BreakerState }[] = [];
  let configRevision: number | undefined;
  let startTime: number | undefined;
  const tally = (domain: string) => {
    let t = domains.get(domain);
    if (t === undefined) {
      t = new Tally();
      domains.set(domain, t);
    }
    return t;
  };
  for (const sample of samples) {
    const name = sample.name;
    const value = sample.value;
    if (!Number.isFinite(value)) continue;
    if (name.startsWith(REQUEST)) {
      const labels = sample.labels;
      if (labels.direction !== "inbound") continue;
      const domain = labels.domain ?? "other";
      const suffix = name.slice(REQUEST.length);
      if (suffix === "_count") {
        const t = tally(domain);
        t.count += value;
        if (ERROR_CLASSES.has(labels.status_class ?? "")) t.errors += value;
      } else if (suffix === "_sum") {
        tally(domain).sum += value;
      } else if (suffix === "_bucket") {
        const i = boundIndex(labels.le);
        if (i >= 0) tally(domain).buckets[i]! += value;
      }
    } else if (name.startsWith(CROSS)) {
      const suffix = name.slice(CROSS.length);
      if (suffix === "_count") crossNode.count += value;
      else if (suffix === "_sum") crossNode.sum += value;
      else if (suffix === "_bucket") {
        const i = boundIndex(sample.labels.le);
        if (i >= 0) crossNode.buckets[i]! += value;
      }
    } else if (name === BREAKER) {
      const state = sample.labels.state;
      const domain = sample.labels.domain;
      if (value === 1 && domain !== undefined && (state === "closed" || state === "open" || state === "half_open")) breakers.push({ domain, state });
    } else if (name === REVISION) {
      configRevision = value;
    } else if (name === START) {
      startTime = value;
    }
  }
  return { domains, crossNode, breakers, configRevision, startTime };
}

/** A control-plane member's figures at one scrape. */
export interface MemberReading {
  readonly isLeader: boolean | undefined;
  readonly term: number | undefined;
}

/** Reduces a member's scraped samples (the integrated store's raft metrics, when it has them). */
export function readMember(samples: readonly Sample[]): MemberReading {
  let isLeader: boolean | undefined;
  let term: number | undefined;
  for (const sample of samples) {
    if (sample.name === "nagent_raft_is_leader") isLeader = sample.value === 1;
    else if (sample.name === "nagent_raft_term") term = sample.value;
  }
  return { isLeader, term };
}

/**
 * The value at quantile q (0..1) of a histogram given as cumulative bucket counts, interpolated
 * linearly within its bucket as Prometheus's histogram_quantile does; undefined without
 * observations. A quantile in the +Inf bucket is the highest finite bound.
 */
export function quantile(q: number, cumulative: ArrayLike<number>, bounds: readonly number[] = BUCKET_BOUNDS): number | undefined {
  const total = cumulative[bounds.length] ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let previousCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const count = cumulative[i] ?? 0;
    if (count >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      const inBucket = count - previousCount;
      if (inBucket <= 0) return upper;
      return lower + ((upper - lower) * (rank - previousCount)) / inBucket;
    }
    previousCount = count;
  }
  return bounds[bounds.length - 1];
}
