import { afterEach, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { Registry } from "prom-client";
import { captureLogger } from "../telemetry/index.ts";
import type { SocketHandlers } from "../server/index.ts";
import { MESSAGE_PATH, SNAPSHOT_PATH, STREAM_PATH, Transport, type MessageCodec } from "./transport.ts";

/** A stand-in message: the transport treats messages as opaque apart from `to` and snapshots. */
interface Msg {
  from: string;
  to: string;
  n: number;
  snapshot?: string;
}

const codec: MessageCodec<Msg> = {
  encode: (messages) => new TextEncoder().encode(JSON.stringify(messages)),
  decode(bytes) {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (!Array.isArray(parsed)) throw new Error("not a batch");
    return parsed as Msg[];
  },
  snapshotData: (m) => (m.snapshot === undefined ? undefined : new TextEncoder().encode(m.snapshot)),
  withSnapshotData: (m, data) => ({ ...m, snapshot: new TextDecoder().decode(data) }),
  to: (m) => m.to,
};

interface Member {
  registry: Registry;
  id: string;
  url: string;
  transport: Transport<Msg>;
  inbox: Msg[];
  unreachable: string[];
  snapshots: [string, boolean][];
  stop(): void;
}

const running: Member[] = [];
afterEach(() => {
  for (const member of running.splice(0)) member.stop();
});

function member(id: string, urls: Map<string, string>, clusterId = "c1", peerToken?: string): Member {
  const inbox: Msg[] = [];
  const unreachable: string[] = [];
  const snapshots: [string, boolean][] = [];
  const { logger } = captureLogger("silent");
  const registry = new Registry();
  const transport = new Transport<Msg>({
    self: id,
    clusterId,
    ...(peerToken ? { peerToken } : {}),
    memberUrl: (peer) => urls.get(peer),
    codec,
    deliver: (_from, messages) => inbox.push(...messages),
    reportUnreachable: (peer) => unreachable.push(peer),
    reportSnapshot: (peer, ok) => snapshots.push([peer, ok]),
    logger,
    registry,
    requestTimeoutMs: 2_000,
  });
  const app = new Hono();
  transport.mount(app);
  // The same WebSocket dispatch as every daemon's port (internal/server).
  const server = Bun.serve<SocketHandlers>({
    hostname: "127.0.0.1",
    port: 0,
    fetch: app.fetch,
    websocket: {
      open: (ws) => ws.data.open?.(ws),
      message: (ws, message) => ws.data.message(ws, message),
      close: (ws, code, reason) => ws.data.close?.(ws, code, reason),
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  urls.set(id, url);
  const m = { id, url, transport, inbox, unreachable, snapshots, registry, stop: () => (transport.close(), void server.stop(true)) };
  running.push(m);
  return m;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await Bun.sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("member transport", () => {
  test("delivers messages in order, batched, then over a stream once it is open", async () => {
    const urls = new Map<string, string>();
    const a = member("a", urls);
    const b = member("b", urls);
    const messages = Array.from({ length: 500 }, (_, n) => ({ from: "a", to: "b", n }));
    for (const message of messages) a.transport.send([message]);
    await until(() => b.inbox.length === 500, "500 messages");
    expect(b.inbox.map((m) => m.n)).toEqual(messages.map((m) => m.n));
    const streams = async () => (await a.registry.getSingleMetricAsString("nagent_raft_streams")).trim().split("\n").at(-1);
    for (let i = 0; i < 100 && (await streams()) !== "nagent_raft_streams 1"; i++) await Bun.sleep(10);
    expect(await streams()).toBe("nagent_raft_streams 1");
    const more = Array.from({ length: 300 }, (_, n) => ({ from: "a", to: "b", n: 500 + n }));
    for (const message of more) a.transport.send([message]);
    await until(() => b.inbox.length === 800, "300 more messages over the stream");
    expect(b.inbox.map((m) => m.n)).toEqual([...messages, ...more].map((m) => m.n));
  });

  test("a stream from a stranger is refused before the upgrade", async () => {
    const urls = new Map<string, string>();
    const b = member("b", urls);
    const response = await fetch(`${b.url}${STREAM_PATH}`, {
      headers: { "x-nagent-cluster": "c1", "x-nagent-from": "mallory", "x-nagent-to": "b", upgrade: "websocket", connection: "upgrade" },
    });
    expect(response.status).toBe(403);
  });

  test("a snapshot larger than one chunk arrives whole", async () => {
    const urls = new Map<string, string>();
    const a = member("a", urls);
    const b = member("b", urls);
    const big = "s".repeat(3.5 * 1024 * 1024) + "end";
    a.transport.send([{ from: "a", to: "b", n: 1, snapshot: big }]);
    await until(() => b.inbox.length === 1, "the snapshot");
    expect(b.inbox[0]!.snapshot).toBe(big);
    await until(() => a.snapshots.length === 1, "the snapshot report");
    expect(a.snapshots).toEqual([["b", true]]);
  });

  test("an unreachable peer is reported, and messages flow once it is back", async () => {
    const urls = new Map<string, string>([["b", "http://127.0.0.1:1"]]);
    const a = member("a", urls);
    a.transport.send([{ from: "a", to: "b", n: 1 }]);
    await until(() => a.unreachable.includes("b"), "an unreachable report");
    const b = member("b", urls);
    a.transport.send([{ from: "a", to: "b", n: 2 }]);
    await until(() => b.inbox.some((m) => m.n === 2), "delivery after recovery");
  });

  describe("forged and malformed member requests are refused and change nothing", () => {
    async function post(target: Member, headers: Record<string, string>, body: string, path = MESSAGE_PATH) {
      const response = await fetch(`${target.url}${path}`, { method: "POST", headers, body });
      return { status: response.status, code: ((await response.json()) as { error: { code: string } }).error.code };
    }
    const headers = (over: Record<string, string> = {}) => ({
      "x-nagent-cluster": "c1",
      "x-nagent-from": "a",
      "x-nagent-to": "b",
      ...over,
    });

    test("another cluster, an unknown member, the wrong recipient, a forged sender, garbage", async () => {
      const urls = new Map<string, string>();
      member("a", urls);
      const b = member("b", urls);
      const ok = JSON.stringify([{ from: "a", to: "b", n: 1 }]);
      expect(await post(b, headers({ "x-nagent-cluster": "other" }), ok)).toEqual({ status: 412, code: "cluster_mismatch" });
      expect(await post(b, headers({ "x-nagent-from": "mallory" }), ok)).toEqual({ status: 403, code: "unknown_member" });
      expect(await post(b, headers({ "x-nagent-to": "c" }), ok)).toEqual({ status: 400, code: "wrong_recipient" });
      expect(await post(b, headers(), JSON.stringify([{ from: "c", to: "b", n: 1 }]))).toEqual({ status: 403, code: "forged_sender" });
      expect(await post(b, headers(), "\u0000garbage")).toEqual({ status: 400, code: "malformed" });
      expect(await post(b, headers({ "x-nagent-snapshot": "s", "x-nagent-offset": "5" }), "xx", SNAPSHOT_PATH)).toEqual({
        status: 409,
        code: "snapshot_out_of_order",
      });
      expect(b.inbox).toEqual([]);
    });

    test("with a peer token, a request without it is refused", async () => {
      const urls = new Map<string, string>();
      member("a", urls, "c1", "secret-token");
      const b = member("b", urls, "c1", "secret-token");
      const ok = JSON.stringify([{ from: "a", to: "b", n: 1 }]);
      expect(await post(b, headers(), ok)).toEqual({ status: 401, code: "bad_peer_token" });
      expect(b.inbox).toEqual([]);
    });
  });
});
