// Whether each sidecar holds the latest configuration, in the manner of `istioctl proxy-status`.
// A sidecar watches every visible key (config, registry, policies, public keys, revocations) and
// reports the revision of the last change it applied. This member follows the same changes and
// remembers when it saw each revision, so it can tell a sidecar that is merely a few
// milliseconds behind (the change is still on its way) from one that missed it.
import { followPrefix, type Follower, type Store } from "../store/index.ts";
import type { Logger } from "../telemetry/index.ts";

/** The prefix no watcher sees; changes under it do not count. */
const HIDDEN_PREFIX = "system/";
const MAX_REMEMBERED = 10_000;

export interface SyncState {
  /** synced: has every change older than the grace period; stale: misses one; unknown: has not reported. */
  readonly state: "synced" | "stale" | "unknown";
  /** Visible revisions newer than the sidecar's (a lower bound when older ones are forgotten). */
  readonly behind?: number;
}

export interface SyncTrackerOptions {
  readonly logger: Logger;
  /** How long a change may take to reach a sidecar before the sidecar counts as stale. */
  readonly graceMs?: number;
}

export class SyncTracker {
  private latest = 0;
  /** Changes up to this revision happened at times this member does not know (before it started following). */
  private baseline = 0;
  /** Visible revisions in increasing order, with when this member saw them. */
  private readonly seen: { revision: number; at: number }[] = [];
  private readonly follower: Follower;
  private readonly graceMs: number;

  constructor(store: Store, options: SyncTrackerOptions) {
    this.graceMs = options.graceMs ?? 2_000;
    this.follower = followPrefix(
      store,
      "",
      {
        onReset: (items) => {
          let latest = this.latest;
          for (const item of items) if (!item.key.startsWith(HIDDEN_PREFIX) && item.modRevision > latest) latest = item.modRevision;
          // Changes found by a list happened at unknown times: a sidecar missing them is stale.
          if (latest > this.latest) this.baseline = latest;
          this.latest = latest;
        },
        onEvents: (events) => {
          const visible = events.find((event) => !event.key.startsWith(HIDDEN_PREFIX));
          if (!visible || visible.revision <= this.latest) return;
          this.latest = visible.revision;
          this.seen.push({ revision: visible.revision, at: Date.now() });
          if (this.seen.length > MAX_REMEMBERED) {
            const forgotten = this.seen.splice(0, this.seen.length - MAX_REMEMBERED);
            this.baseline = forgotten[forgotten.length - 1]!.revision;
          }
        },
      },
      { logger: options.logger },
    );
  }

  /** The revision of the latest change a sidecar can see. */
  get latestRevision(): number {
    return this.latest;
  }

  get synced(): Promise<void> {
    return this.follower.synced;
  }

  /** Judges a sidecar that reported `revision` in a heartbeat at `reportedAt` (ISO). */
  stateOf(revision: number | null, reportedAt: string | null): SyncState {
    if (revision === null || reportedAt === null) return { state: "unknown" };
    if (revision >= this.latest) return { state: "synced", behind: 0 };
    const cutoff = Date.parse(reportedAt) - this.graceMs;
    const newer = this.seen.filter((entry) => entry.revision > revision);
    // Revisions older than what this member remembers (it restarted, or forgot) count as long missed.
    const forgotten = revision < this.baseline;
    const behind = newer.length + (forgotten ? 1 : 0);
    const missed = forgotten || newer.some((entry) => entry.at <= cutoff);
    return { state: missed ? "stale" : "synced", behind };
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }
}
