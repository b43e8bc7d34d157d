// This node in the registry: registered at start, a heartbeat every third of its TTL carrying the
// revision the sidecar has applied (the control plane's proxy-status and config-sync figures
// come from it), registered again if the registry has dropped it, and deregistered on a graceful
// stop so callers stop routing here before the port closes.
import { NagentError, type ControlPlaneClient, type HeartbeatResult } from "../../pkg/index.ts";
import type { Logger } from "../telemetry/index.ts";
import type { MeshState } from "./mesh-state.ts";

export interface RegistrationOptions {
  readonly client: ControlPlaneClient;
  readonly state: MeshState;
  readonly logger: Logger;
  readonly nodeId: string;
  /** The inbound URL other sidecars call. */
  readonly address: string;
  readonly domains: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly ttlSeconds: number;
}

export class NodeRegistration {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private registered = false;
  private failures = 0;
  private running: Promise<void> | undefined;
  private last: { at: string; answer: HeartbeatResult } | undefined;

  constructor(private readonly options: RegistrationOptions) {}

  get isRegistered(): boolean {
    return this.registered;
  }

  /** The last heartbeat's answer: the control plane's latest revision and this node's sync state. */
  get lastHeartbeat(): { at: string; answer: HeartbeatResult } | undefined {
    return this.last;
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.beat().finally(() => {
        this.running = undefined;
      });
    }, ms);
    this.timer.unref?.();
  }

  private async beat(): Promise<void> {
    const { client, state, logger, nodeId } = this.options;
    const interval = (this.options.ttlSeconds * 1000) / 3;
    try {
      if (!this.registered) {
        await client.registerNode(nodeId, {
          address: this.options.address,
          domains: [...this.options.domains],
          metadata: { ...this.options.metadata },
          ttlSeconds: this.options.ttlSeconds,
        });
        this.registered = true;
        logger.info({ address: this.options.address, domains: this.options.domains }, "registered with the control plane");
      }
      const answer = await client.heartbeat(nodeId, {
        configRevision: state.revision,
        ...(state.revisionAppliedAt ? { configAppliedAt: state.revisionAppliedAt } : {}),
      });
      this.last = { at: new Date().toISOString(), answer };
      if (this.failures > 0) logger.info({ failures: this.failures }, "heartbeats reach the control plane again");
      this.failures = 0;
      this.schedule(interval);
    } catch (error) {
      if (error instanceof NagentError && error.code === "not_registered") {
        logger.warn("the registry dropped this node; registering again");
        this.registered = false;
        this.schedule(0);
        return;
      }
      if (this.failures === 0 || this.failures % 30 === 0) logger.warn({ err: (error as Error).message, failures: this.failures }, "heartbeat failed; retrying");
      this.failures++;
      this.schedule(Math.min(interval, 1_000));
    }
  }

  /** Stops heartbeating and, unless told otherwise, removes the node from the registry at once. */
  async stop(deregister = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (!deregister || !this.registered) return;
    try {
      await this.options.client.deregisterNode(this.options.nodeId);
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, "could not deregister; the registry will drop this node when its lease expires");
    }
  }
}
