// The open-loop load generator of scripts/bench/proxy.ts, in its own process: GET requests at a
// fixed rate, spread over N keep-alive HTTP/1.1 connections (raw sockets, no fetch pool in
// between). Each request has a scheduled send time; its latency is measured from that time, so a
// server that stalls is charged for every request that waited behind the stall (no coordinated
// omission). A request whose connection is busy waits for the next free one, and is late.
// Prints one JSON line (OpenLoopResult) and exits.
//
//   bun scripts/bench/proxy-open-loop.ts --url http://127.0.0.1:8080/x --rate 1000 --seconds 10 \
//     --warmup 2 --connections 32 --start-at <epoch ms> [--header 'name: value']...
import type { Socket } from "bun";
import { parseArgs } from "node:util";
import type { TickerStart } from "./proxy-open-loop-ticker.ts";

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface OpenLoopResult {
  /** Requests scheduled inside the measured window. */
  readonly scheduled: number;
  /** Of those, answered (any status). */
  readonly completed: number;
  readonly achievedRate: number;
  /** Milliseconds from the scheduled send time to the last byte of the response. */
  readonly fromSchedule: LatencySummary;
  /**
   * Milliseconds from when the generator got to the request (its clock thread's tick handled) to
   * the last byte: the generator's own stalls left out, waiting for a free connection (the
   * server's slowness) kept in.
   */
  readonly fromReady: LatencySummary;
  /** Milliseconds from the actual send to the last byte: the server's share alone. */
  readonly fromSend: LatencySummary;
  /** Requests the generator itself got to more than 1 ms after their scheduled time, and the worst lag. */
  readonly generatorLateOver1ms: number;
  readonly maxGeneratorLagMs: number;
  /** Requests sent more than 1 ms after their scheduled time (generator or connection busy). */
  readonly lateOver1ms: number;
  readonly maxSendLagMs: number;
  readonly statuses: Record<string, number>;
  /** Connections lost with a request on them, and requests never answered. */
  readonly errors: number;
  readonly unanswered: number;
  /** The slowest measured requests: when they were due (seconds into the measured window) and their latency. */
  readonly slowest: readonly { readonly atS: number; readonly ms: number; readonly sendLagMs: number }[];
  /** Measured requests over 2 ms from schedule, per second of the window: are slow ones clustered? */
  readonly over2msPerSecond: readonly number[];
}

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "32" },
    "start-at": { type: "string" },
    header: { type: "string", multiple: true, default: [] },
  },
});
const url = new URL(values.url ?? "http://127.0.0.1:8080/");
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
const DRAIN_MS = 3_000;

const requestBytes = Buffer.from(
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nuser-agent: nagent-open-loop\r\naccept: */*\r\n` +
    (values.header ?? []).map((h) => `${h}\r\n`).join("") +
    "\r\n",
  "latin1",
);

interface Pending {
  readonly index: number;
  readonly due: number;
  /** When the generator handled the request's tick. */
  readonly ready: number;
  sent: number;
}

interface Connection {
  socket: Socket<Connection> | undefined;
  buffer: Buffer;
  current: Pending | undefined;
}

const intervalMs = 1000 / rate;
const warmupCount = Math.round(warmup * rate);
const measuredCount = Math.round(seconds * rate);
const total = warmupCount + measuredCount;
const startAt = Number(values["start-at"] ?? Date.now() + 1000);
// The same instant on this thread's monotonic clock.
const startPerf = performance.now() + (startAt - Date.now());

const fromSchedule: number[] = [];
const slow: { atS: number; ms: number; sendLagMs: number }[] = [];
const SLOWEST = 15;
const fromSend: number[] = [];
const fromReady: number[] = [];
let generatorLateOver1ms = 0;
let maxGeneratorLagMs = 0;
const statuses: Record<string, number> = {};
const over2ms = new Array<number>(Math.max(1, Math.ceil(seconds))).fill(0);
let lateOver1ms = 0;
let maxSendLagMs = 0;
let errors = 0;
let answered = 0;
let finishedScheduling = false;

const idle: Connection[] = [];
const waiting: Pending[] = [];
const conns: Connection[] = [];

function measured(p: Pending): boolean {
  return p.index >= warmupCount;
}

/** Bytes of the first complete response in `buf` and its status, or undefined if incomplete. */
function completeResponse(buf: Buffer): { length: number; status: number } | undefined {
  const headerEnd = buf.indexOf("\r\n\r\n");
  if (headerEnd < 0) return undefined;
  const head = buf.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const bodyStart = headerEnd + 4;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const end = bodyStart + Number(length[1]);
    return buf.length >= end ? { length: end, status } : undefined;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let pos = bodyStart;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", pos);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.toString("latin1", pos, lineEnd), 16);
      if (size === 0) {
        const end = buf.indexOf("\r\n", lineEnd + 2); // no trailers expected: the empty line
        return end < 0 ? undefined : { length: end + 2, status };
      }
      pos = lineEnd + 2 + size + 2;
      if (pos > buf.length) return undefined;
    }
  }
  return { length: bodyStart, status };
}

function send(conn: Connection, p: Pending): void {
  conn.current = p;
  conn.socket!.write(requestBytes);
  p.sent = performance.now();
  const lag = p.sent - p.due;
  if (measured(p)) {
    if (lag > 1) lateOver1ms++;
    if (lag > maxSendLagMs) maxSendLagMs = lag;
  }
}

function release(conn: Connection): void {
  conn.current = undefined;
  const next = waiting.shift();
  if (next) send(conn, next);
  else idle.push(conn);
}

function onData(conn: Connection, data: Buffer): void {
  const now = performance.now();
  conn.buffer = conn.buffer.length === 0 ? Buffer.from(data) : Buffer.concat([conn.buffer, data]);
  const done = completeResponse(conn.buffer);
  if (!done || !conn.current) return;
  conn.buffer = conn.buffer.subarray(done.length);
  const p = conn.current;
  answered++;
  if (measured(p)) {
    const ms = now - p.due;
    fromSchedule.push(ms);
    const atS = (p.index - warmupCount) * intervalMs / 1000;
    if (slow.length < SLOWEST || ms > slow[slow.length - 1]!.ms) {
      slow.push({ atS, ms, sendLagMs: p.sent - p.due });
      slow.sort((a, b) => b.ms - a.ms);
      if (slow.length > SLOWEST) slow.pop();
    }
    if (ms > 2) over2ms[Math.min(over2ms.length - 1, Math.floor(atS))]!++;
    fromSend.push(now - p.sent);
    fromReady.push(now - p.ready);
    statuses[done.status] = (statuses[done.status] ?? 0) + 1;
  }
  release(conn);
  maybeFinish();
}

async function open(conn: Connection): Promise<void> {
  conn.buffer = Buffer.alloc(0);
  conn.socket = await Bun.connect<Connection>({
    hostname: url.hostname,
    port: Number(url.port),
    data: conn,
    socket: {
      data: (socket, data) => onData(socket.data, data),
      close: (socket) => void lost(socket.data),
      error: (socket) => void lost(socket.data),
    },
  });
  conn.socket.setNoDelay?.(true);
}

/** A connection that closed: its request (if any) counts as an error; it is opened again. */
async function lost(conn: Connection): Promise<void> {
  if (conn.socket === undefined) return;
  conn.socket = undefined;
  const index = idle.indexOf(conn);
  if (index >= 0) idle.splice(index, 1);
  if (conn.current) {
    if (measured(conn.current)) errors++;
    answered++;
    conn.current = undefined;
    maybeFinish();
  }
  try {
    await open(conn);
    release(conn);
  } catch {
    errors++;
  }
}

let finish: () => void = () => {};
const finished = new Promise<void>((resolve) => (finish = resolve));
function maybeFinish(): void {
  if (finishedScheduling && answered >= total) finish();
}

function summarize(samples: number[]): LatencySummary {
  samples.sort((a, b) => a - b);
  const at = (p: number) => (samples.length === 0 ? Number.NaN : samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: samples.length ? samples[samples.length - 1]! : Number.NaN };
}

for (let i = 0; i < connections; i++) conns.push({ socket: undefined, buffer: Buffer.alloc(0), current: undefined });
await Promise.all(conns.map(open));
idle.push(...conns);

const ticker = new Worker(new URL("./proxy-open-loop-ticker.ts", import.meta.url).href);
ticker.onmessage = (event: MessageEvent<number>) => {
  const index = event.data;
  const p: Pending = { index, due: startPerf + index * intervalMs, ready: performance.now(), sent: 0 };
  if (measured(p)) {
    const lag = p.ready - p.due;
    if (lag > 1) generatorLateOver1ms++;
    if (lag > maxGeneratorLagMs) maxGeneratorLagMs = lag;
  }
  const conn = idle.pop();
  if (conn) send(conn, p);
  else waiting.push(p);
  if (index === total - 1) {
    finishedScheduling = true;
    maybeFinish();
  }
};
const start: TickerStart = { startAbs: performance.timeOrigin + startPerf, intervalMs, count: total };
ticker.postMessage(start);

const endPerf = startPerf + total * intervalMs;
await Promise.race([finished, Bun.sleep(Math.max(0, endPerf - performance.now()) + DRAIN_MS)]);
ticker.terminate();
const completed = fromSchedule.length;
const result: OpenLoopResult = {
  scheduled: measuredCount,
  completed,
  achievedRate: completed / seconds,
  fromSchedule: summarize(fromSchedule),
  fromReady: summarize(fromReady),
  fromSend: summarize(fromSend),
  generatorLateOver1ms,
  maxGeneratorLagMs,
  lateOver1ms,
  maxSendLagMs,
  statuses,
  errors,
  unanswered: Math.max(0, measuredCount - completed - errors),
  slowest: slow,
  over2msPerSecond: over2ms,
};
console.log(JSON.stringify({ openLoopResult: result }));
for (const conn of conns) conn.socket?.end();
process.exit(0);
