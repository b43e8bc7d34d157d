// Pending ReadIndex requests of a leader in "safe" mode (Raft thesis §6.4): each is registered
// with the commit index at its arrival and answered once a quorum acknowledged a heartbeat sent
// after it, which proves this member was still the leader when the request arrived.

import type { Message } from "./message.ts";
import type { NodeId } from "./types.ts";

export interface ReadIndexStatus {
  readonly request: Message;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Registers a request; a context already pending is ignored (contexts must be unique). */
  addRequest(index: number, request: Message): boolean {
    if (this.pending.has(request.context)) return false;
    this.pending.set(request.context, { request, index, acks: new Set() });
    this.queue.push(request.context);
    return true;
  }

  /** Records `id`'s acknowledgement of the heartbeat carrying `context`; the acks so far, or undefined. */
  recvAck(id: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const rs = this.pending.get(context);
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * Removes and returns every request up to and including `context`: a heartbeat acknowledged for
   * a request also confirms leadership for every request registered before it.
   */
  advance(context: string): ReadIndexStatus[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const ctx of done) {
      const rs = this.pending.get(ctx);
      this.pending.delete(ctx);
      if (rs !== undefined) out.push(rs);
    }
    return out;
  }

  /** The newest pending context (carried by periodic heartbeats), or "". */
  lastPendingContext(): string {
    return this.queue[this.queue.length - 1] ?? "";
  }
}
