// Member-to-member transport for Raft, on each member's own HTTP port (the same one the API
// uses, as --peers promises). Messages travel as binary batches in POST /raft/message; a
// snapshot travels in chunks through POST /raft/snapshot so that neither side holds one giant
// request in flight and a broken transfer can start over cleanly.
//
// Per peer there is at most one message request in flight: everything queued meanwhile goes in
// the next batch. That keeps appends in order (out-of-order appends only cause rejections and
// backtracking) while batching grows by itself under load.
import type { Server, ServerWebSocket } from "bun";
import type { Hono } from "hono";
import type { SocketHandlers } from "../server/index.ts";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../telemetry/index.ts";

export const MESSAGE_PATH = "/raft/message";
export const SNAPSHOT_PATH = "/raft/snapshot";
export const STREAM_PATH = "/raft/stream";
/** How long to wait before dialling a peer's stream again after it failed or closed. */
const REDIAL_MS = 500;
const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** Messages kept for an unreachable peer before the oldest are dropped; Raft resends what matters. */
const MAX_QUEUED_PER_PEER = 4096;
/** After a failed request, wait this long before trying the peer again. */
const RETRY_AFTER_FAILURE_MS = 100;
/** An incomplete snapshot transfer is forgotten after this long without a chunk. */
const STALE_TRANSFER_MS = 60_000;

/** How the transport sees a Raft message: opaque, except for snapshots, which it chunks. */
export interface MessageCodec<M> {
  encode(messages: readonly M[]): Uint8Array;
  /** Throws on malformed input; the transport answers 400. */
  decode(bytes: Uint8Array): M[];
  /** The snapshot payload of a message, when it carries one. */
  snapshotData(message: M): Uint8Array | undefined;
  /** The message with its snapshot payload replaced (empty for sending, the real bytes on receipt). */
  withSnapshotData(message: M, data: Uint8Array): M;
  to(message: M): string;
}

export interface TransportOptions<M> {
  readonly self: string;
  /** Requests from another cluster (a different id) are refused: members never cross-talk. */
  readonly clusterId: string;
  /**
   * Asked when a request names another cluster id: answers true to adopt that id from now on (a
   * member that joins with an empty log learns a restored cluster's id from its first message).
   */
  readonly adoptClusterId?: (offered: string) => boolean;
  /** Shared secret every member request must carry, when configured. */
  readonly peerToken?: string;
  /** The URL of a member, or undefined for an id that is not (or no longer) a member. */
  readonly memberUrl: (id: string) => string | undefined;
  readonly codec: MessageCodec<M>;
  readonly deliver: (from: string, messages: M[]) => void;
  readonly reportUnreachable: (peer: string) => void;
  readonly reportSnapshot: (peer: string, ok: boolean) => void;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly requestTimeoutMs?: number;
}

/** The error a refused member request is answered with, and counted by. */
type Refusal = { status: 400 | 401 | 403 | 409 | 412; reason: string };

interface Peer<M> {
  queue: M[];
  sending: boolean;
  failedAt: number;
  snapshots: M[];
  sendingSnapshot: boolean;
  /** The open stream to the peer, when there is one; messages then go as WebSocket frames. */
  stream: WebSocket | undefined;
  dialing: boolean;
  dialedAt: number;
  flushScheduled: boolean;
}

interface IncomingSnapshot {
  readonly chunks: Uint8Array[];
  received: number;
  lastChunkAt: number;
}

/** Sends and receives Raft messages between members over HTTP. */
export class Transport<M> {
  private readonly peers = new Map<string, Peer<M>>();
  private readonly incoming = new Map<string, IncomingSnapshot>();
  private readonly inbound = new Set<ServerWebSocket<SocketHandlers>>();
  private readonly timeoutMs: number;
  private closed = false;
  private readonly sent: Counter<"kind">;
  private readonly received: Counter<"kind">;
  private readonly failures: Counter<"reason">;
  private readonly refused: Counter<"reason">;
  private readonly dropped: Counter;
  private readonly streams: Gauge;

  private clusterId: string;

  constructor(private readonly options: TransportOptions<M>) {
    this.clusterId = options.clusterId;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    const registers = [options.registry];
    this.sent = new Counter({ name: "nagent_raft_messages_sent_total", help: "Raft messages sent to other members.", labelNames: ["kind"], registers });
    this.received = new Counter({ name: "nagent_raft_messages_received_total", help: "Raft messages received from other members.", labelNames: ["kind"], registers });
    this.failures = new Counter({ name: "nagent_raft_send_failures_total", help: "Failed member-to-member requests.", labelNames: ["reason"], registers });
    this.refused = new Counter({ name: "nagent_raft_requests_refused_total", help: "Member requests refused (wrong cluster, unknown member, malformed, bad token).", labelNames: ["reason"], registers });
    this.dropped = new Counter({ name: "nagent_raft_messages_dropped_total", help: "Messages dropped because a peer's queue was full.", registers });
    this.streams = new Gauge({ name: "nagent_raft_streams", help: "Open outbound message streams to other members.", registers });
  }

  /** Queues messages for their destinations; returns at once. */
  send(messages: readonly M[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const to = this.options.codec.to(message);
      if (to === this.options.self) continue;
      const peer = this.peer(to);
      if (this.options.codec.snapshotData(message) !== undefined) {
        peer.snapshots.push(message);
        void this.pumpSnapshots(to, peer);
        continue;
      }
      peer.queue.push(message);
      if (peer.queue.length > MAX_QUEUED_PER_PEER) {
        peer.queue.splice(0, peer.queue.length - MAX_QUEUED_PER_PEER);
        this.dropped.inc();
      }
      this.schedule(to, peer);
    }
  }

  /**
   * Everything queued for a peer in this turn of the event loop goes out together: as one frame
   * on its stream when one is open (the fast path: no request per batch), otherwise as one POST,
   * while a stream is dialled in the background.
   */
  private schedule(to: string, peer: Peer<M>): void {
    if (peer.flushScheduled) return;
    peer.flushScheduled = true;
    queueMicrotask(() => {
      peer.flushScheduled = false;
      if (this.closed || peer.queue.length === 0) return;
      const stream = peer.stream;
      if (stream && stream.readyState === WebSocket.OPEN && !peer.sending) {
        const batch = peer.queue.splice(0, peer.queue.length);
        stream.send(this.options.codec.encode(batch));
        this.sent.inc({ kind: "message" }, batch.length);
        return;
      }
      this.dial(to, peer);
      void this.pump(to, peer);
    });
  }

  private dial(to: string, peer: Peer<M>): void {
    if (peer.dialing || peer.stream || Date.now() - peer.dialedAt < REDIAL_MS) return;
    const url = this.options.memberUrl(to);
    if (!url) return;
    peer.dialing = true;
    peer.dialedAt = Date.now();
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}${STREAM_PATH}`, { headers: this.headers(to) } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => {
      peer.dialing = false;
      if (this.closed) return ws.close();
      peer.stream = ws;
      this.streams.inc();
      this.schedule(to, peer);
    });
    const lost = () => {
      peer.dialing = false;
      if (peer.stream === ws) {
        peer.stream = undefined;
        this.streams.dec();
      }
    };
    ws.addEventListener("close", lost);
    ws.addEventListener("error", lost);
  }

  private peer(id: string): Peer<M> {
    let peer = this.peers.get(id);
    if (!peer) {
      peer = {
        queue: [],
        sending: false,
        failedAt: 0,
        snapshots: [],
        sendingSnapshot: false,
        stream: undefined,
        dialing: false,
        dialedAt: 0,
        flushScheduled: false,
      };
      this.peers.set(id, peer);
    }
    return peer;
  }

  private headers(to: string): Record<string, string> {
    return {
      "content-type": "application/octet-stream",
      "x-nagent-cluster": this.clusterId,
      "x-nagent-from": this.options.self,
      "x-nagent-to": to,
      ...(this.options.peerToken ? { authorization: `Bearer ${this.options.peerToken}` } : {}),
    };
  }

  private async pump(to: string, peer: Peer<M>): Promise<void> {
    if (peer.sending) return;
    peer.sending = true;
    try {
      while (!this.closed && peer.queue.length > 0) {
        const wait = peer.failedAt + RETRY_AFTER_FAILURE_MS - Date.now();
        if (wait > 0) await Bun.sleep(wait);
        const url = this.options.memberUrl(to);
        const batch = peer.queue.splice(0, peer.queue.length);
        if (!url) continue;
        try {
          const response = await fetch(`${url}${MESSAGE_PATH}`, {
            method: "POST",
            headers: this.headers(to),
            body: this.options.codec.encode(batch),
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          if (!response.ok) {
            this.failures.inc({ reason: `http_${response.status}` });
            this.options.logger.warn({ peer: to, status: response.status, body: await response.text() }, "member refused messages");
            peer.failedAt = Date.now();
          } else {
            this.sent.inc({ kind: "message" }, batch.length);
            peer.failedAt = 0;
          }
          await response.body?.cancel().catch(() => {});
        } catch (error) {
          this.failures.inc({ reason: "unreachable" });
          if (peer.failedAt === 0) this.options.logger.warn({ peer: to, err: (error as Error).message }, "member unreachable");
          peer.failedAt = Date.now();
          this.options.reportUnreachable(to);
        }
      }
    } finally {
      peer.sending = false;
    }
  }

  private async pumpSnapshots(to: string, peer: Peer<M>): Promise<void> {
    if (peer.sendingSnapshot) return;
    peer.sendingSnapshot = true;
    try {
      for (let message = peer.snapshots.shift(); message && !this.closed; message = peer.snapshots.shift()) {
        const ok = await this.sendSnapshot(to, message);
        this.options.reportSnapshot(to, ok);
      }
    } finally {
      peer.sendingSnapshot = false;
    }
  }

  /** Streams one snapshot as chunks; the final chunk carries the message itself. */
  private async sendSnapshot(to: string, message: M): Promise<boolean> {
    const url = this.options.memberUrl(to);
    const data = this.options.codec.snapshotData(message);
    if (!url || !data) return false;
    const id = `${this.options.self}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      for (let offset = 0; ; offset += SNAPSHOT_CHUNK_BYTES) {
        const chunk = data.subarray(offset, offset + SNAPSHOT_CHUNK_BYTES);
        const final = offset + SNAPSHOT_CHUNK_BYTES >= data.length;
        const body = final
          ? concat(chunk, this.options.codec.encode([this.options.codec.withSnapshotData(message, new Uint8Array(0))]))
          : chunk;
        const response = await fetch(`${url}${SNAPSHOT_PATH}`, {
          method: "POST",
          headers: {
            ...this.headers(to),
            "x-nagent-snapshot": id,
            "x-nagent-offset": String(offset),
            ...(final ? { "x-nagent-final-data-bytes": String(chunk.length), "x-nagent-total-bytes": String(data.length) } : {}),
          },
          body,
          signal: AbortSignal.timeout(this.timeoutMs * 4),
        });
        await response.body?.cancel().catch(() => {});
        if (!response.ok) {
          this.failures.inc({ reason: `snapshot_http_${response.status}` });
          return false;
        }
        if (final) break;
      }
      this.sent.inc({ kind: "snapshot" });
      this.options.logger.info({ peer: to, bytes: data.length }, "snapshot sent");
      return true;
    } catch (error) {
      this.failures.inc({ reason: "snapshot_unreachable" });
      this.options.logger.warn({ peer: to, err: (error as Error).message }, "snapshot transfer failed");
      this.options.reportUnreachable(to);
      return false;
    }
  }

  /** Checks who is talking: same cluster, a member, addressed to us, with the shared token if any. */
  private admit(headers: Headers): Refusal | { from: string } {
    const cluster = headers.get("x-nagent-cluster") ?? "";
    if (cluster !== this.clusterId) {
      if (!this.options.adoptClusterId?.(cluster)) return { status: 412, reason: "cluster_mismatch" };
      this.clusterId = cluster;
    }
    if (this.options.peerToken && headers.get("authorization") !== `Bearer ${this.options.peerToken}`) {
      return { status: 401, reason: "bad_peer_token" };
    }
    const from = headers.get("x-nagent-from") ?? "";
    if (headers.get("x-nagent-to") !== this.options.self) return { status: 400, reason: "wrong_recipient" };
    if (from === this.options.self || this.options.memberUrl(from) === undefined) return { status: 403, reason: "unknown_member" };
    return { from };
  }

  private refuse(refusal: Refusal): Response {
    this.refused.inc({ reason: refusal.reason });
    return Response.json({ error: { code: refusal.reason, message: `member request refused: ${refusal.reason}` } }, { status: refusal.status });
  }

  /** Decodes a batch and checks every message claims the sender and is addressed to us. */
  private decodeFrom(from: string, bytes: Uint8Array): M[] | Refusal {
    let messages: M[];
    try {
      messages = this.options.codec.decode(bytes);
    } catch {
      return { status: 400, reason: "malformed" };
    }
    for (const message of messages) {
      if (this.options.codec.to(message) !== this.options.self) return { status: 400, reason: "wrong_recipient" };
      if ((message as { from?: unknown }).from !== undefined && (message as { from?: unknown }).from !== from) {
        return { status: 403, reason: "forged_sender" };
      }
    }
    return messages;
  }

  /** Mounts the member endpoints; they sit outside the API's credential check and do their own. */
  mount(app: Hono<any>): void {
    app.post(MESSAGE_PATH, async (c) => {
      const admitted = this.admit(c.req.raw.headers);
      if ("status" in admitted) return this.refuse(admitted);
      const decoded = this.decodeFrom(admitted.from, new Uint8Array(await c.req.arrayBuffer()));
      if ("status" in decoded) return this.refuse(decoded);
      this.received.inc({ kind: "message" }, decoded.length);
      this.options.deliver(admitted.from, decoded);
      return c.body(null, 204);
    });

    app.get(STREAM_PATH, (c) => {
      const admitted = this.admit(c.req.raw.headers);
      if ("status" in admitted) return this.refuse(admitted);
      const server = c.env as Server<SocketHandlers> | undefined;
      const from = admitted.from;
      const upgraded = server?.upgrade(c.req.raw, {
        data: {
          message: (ws, data) => {
            const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
            const decoded = this.decodeFrom(from, bytes);
            if ("status" in decoded) {
              this.refused.inc({ reason: decoded.reason });
              ws.close(1008, decoded.reason);
              return;
            }
            this.received.inc({ kind: "message" }, decoded.length);
            this.options.deliver(from, decoded);
          },
          open: (ws) => {
            this.inbound.add(ws);
          },
          close: (ws) => {
            this.inbound.delete(ws);
          },
        },
      });
      if (!upgraded) return this.refuse({ status: 400, reason: "not_a_websocket" });
      return new Response(null);
    });

    app.post(SNAPSHOT_PATH, async (c) => {
      const admitted = this.admit(c.req.raw.headers);
      if ("status" in admitted) return this.refuse(admitted);
      const id = `${admitted.from}/${c.req.header("x-nagent-snapshot") ?? ""}`;
      const offset = Number(c.req.header("x-nagent-offset"));
      const body = new Uint8Array(await c.req.arrayBuffer());
      this.forgetStaleTransfers();
      let transfer = this.incoming.get(id);
      if (offset === 0) {
        transfer = { chunks: [], received: 0, lastChunkAt: Date.now() };
        this.incoming.set(id, transfer);
      }
      if (!transfer || transfer.received !== offset) {
        this.incoming.delete(id);
        return this.refuse({ status: 409, reason: "snapshot_out_of_order" });
      }
      transfer.lastChunkAt = Date.now();
      const finalDataBytes = c.req.header("x-nagent-final-data-bytes");
      if (finalDataBytes === undefined) {
        transfer.chunks.push(body);
        transfer.received += body.length;
        return c.body(null, 204);
      }
      this.incoming.delete(id);
      const dataBytes = Number(finalDataBytes);
      const total = Number(c.req.header("x-nagent-total-bytes"));
      if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > body.length || transfer.received + dataBytes !== total) {
        return this.refuse({ status: 400, reason: "snapshot_size_mismatch" });
      }
      transfer.chunks.push(body.subarray(0, dataBytes));
      const decoded = this.decodeFrom(admitted.from, body.subarray(dataBytes));
      if ("status" in decoded) return this.refuse(decoded);
      const [message] = decoded;
      if (!message || decoded.length !== 1) return this.refuse({ status: 400, reason: "malformed" });
      this.received.inc({ kind: "snapshot" });
      this.options.deliver(admitted.from, [this.options.codec.withSnapshotData(message, concat(...transfer.chunks))]);
      return c.body(null, 204);
    });
  }

  private forgetStaleTransfers(): void {
    const now = Date.now();
    for (const [id, transfer] of this.incoming) {
      if (now - transfer.lastChunkAt > STALE_TRANSFER_MS) this.incoming.delete(id);
    }
  }

  /** Closes every stream (both directions); messages fall back to requests until streams are dialled again. */
  closeStreams(): void {
    for (const peer of this.peers.values()) {
      peer.stream?.close();
      peer.dialedAt = Date.now() + 60_000;
    }
    for (const ws of this.inbound) ws.close(1001, "member shutting down");
    this.inbound.clear();
  }

  close(): void {
    this.closed = true;
    for (const peer of this.peers.values()) peer.stream?.close();
    for (const ws of this.inbound) ws.close(1001, "member shutting down");
    this.inbound.clear();
    this.peers.clear();
    this.incoming.clear();
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
