// Following the control plane: list every visible key at one revision, then watch from the next
// one. The client fails over between members and resumes a broken stream from the last revision
// it delivered; only when that revision has been compacted away is everything listed again.
// While no member answers, the state stays what it was (loaded from the cache dir, or the last
// seen), and the sidecar keeps serving from it.
import { CompactedError, type ControlPlaneClient, type WatchHandle } from "../../pkg/index.ts";
import type { Logger } from "../telemetry/index.ts";
import type { MeshState } from "./mesh-state.ts";

export interface SyncStatus {
  /** A watch stream is open on some member. */
  readonly connected: boolean;
  /** Whether the state came from the control plane since start (false: cache dir only, or nothing yet). */
  readonly synced: boolean;
  /** Last time a member was heard from (ISO), or null. */
  readonly lastContact: string | null;
  readonly endpoint: string | null;
}

export interface SyncOptions {
  readonly client: ControlPlaneClient;
  readonly state: MeshState;
  readonly logger: Logger;
  /** After every change of `connected` or `synced`. */
  readonly onStatus?: (status: SyncStatus) => void;
  readonly retry?: { initialMs?: number; maxMs?: number };
}

export class ControlPlaneSync {
  private stopped = false;
  private watch: WatchHandle | undefined;
  private wake: (() => void) | undefined;
  private statusValue: SyncStatus = { connected: false, synced: false, lastContact: null, endpoint: null };
  private markSynced: () => void = () => {};
  /** Resolves once a first full list from the control plane has been applied. */
  readonly synced: Promise<void>;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: SyncOptions) {
    this.synced = new Promise((resolve) => {
      this.markSynced = resolve;
    });
  }

  get status(): SyncStatus {
    return this.statusValue;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.wake?.();
    await this.loop;
  }

  private update(change: Partial<SyncStatus>): void {
    const next = { ...this.statusValue, ...change };
    const changed = next.connected !== this.statusValue.connected || next.synced !== this.statusValue.synced;
    this.statusValue = next;
    if (changed) this.options.onStatus?.(next);
  }

  private async pause(failures: number): Promise<void> {
    const initial = this.options.retry?.initialMs ?? 100;
    const max = this.options.retry?.maxMs ?? 5_000;
    const ms = Math.min(max, initial * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const { client, state, logger } = this.options;
    let failures = 0;
    while (!this.stopped) {
      let revision: number;
      try {
        const listed = await client.listKeys("");
        if (this.stopped) return;
        state.reset(listed.items, listed.revision);
        revision = listed.revision;
        failures = 0;
        this.update({ synced: true, lastContact: new Date().toISOString(), endpoint: client.currentEndpoint ?? null });
        this.markSynced();
      } catch (error) {
        if (failures === 0 || failures % 20 === 0) logger.warn({ err: error, failures }, "cannot read the control plane's state; serving what this sidecar holds");
        this.update({ connected: false });
        await this.pause(failures++);
        continue;
      }
      const watch = client.watch("", {
        fromRevision: revision + 1,
        onEvent: (event) => {
          state.apply(event.type, event.key, event.value, event.revision);
          this.statusValue = { ...this.statusValue, lastContact: new Date().toISOString() };
        },
        onConnect: ({ endpoint }) => this.update({ connected: true, endpoint, lastContact: new Date().toISOString() }),
        onError: (error, { retrying }) => {
          if (retrying) {
            if (this.statusValue.connected) logger.warn({ err: error.message }, "lost the control plane's watch; resuming");
            this.update({ connected: false });
          }
        },
      });
      this.watch = watch;
      const ended = await watch.done;
      this.watch = undefined;
      if (this.stopped) return;
      this.update({ connected: false });
      if (ended instanceof CompactedError) {
        logger.info({ revision: watch.revision }, "the control plane no longer has the revisions this sidecar missed; listing again");
        continue;
      }
      logger.warn({ err: ended?.message }, "the control plane's watch ended; listing again");
      await this.pause(failures++);
    }
  }
}
