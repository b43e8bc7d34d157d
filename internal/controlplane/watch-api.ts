// GET /v1/watch: every change in the store as Server-Sent Events, which is how sidecars and
// nagentctl stay in sync. Resumable: the SSE id is the revision of the last event of each
// revision, so a client that reconnects with Last-Event-ID misses nothing (at worst it sees the
// rest of a revision it was cut off in the middle of).
//
// Written by hand on a ReadableStream rather than with Hono's streamSSE: one change fans out to
// every open stream (a thousand sidecars), so each event is encoded once and the same bytes are
// queued on every stream synchronously, with no per-stream async loop or per-stream formatting.
import type { Hono } from "hono";
import type { Counter, Gauge } from "prom-client";
import { BadRequestError, HttpError } from "../server/index.ts";
import type { Store, Watch, WatchEvent } from "../store/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { orHttp } from "./http-errors.ts";
import { isVisible, visiblePrefix } from "./visibility.ts";

/** Comment lines keep idle streams open through proxies and detect dead clients. */
const KEEPALIVE_MS = 15_000;
/** A client this many batches behind is cut off; it resumes with Last-Event-ID, like etcd's slow watchers. */
const MAX_QUEUED_BATCHES = 10_000;

export interface WatchMetrics {
  readonly streams: Gauge;
  readonly eventsSent: Counter;
  readonly slowClientsCut: Counter;
}

function revisionParam(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new BadRequestError("invalid_revision", `${name} must be a revision number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

const encoder = new TextEncoder();

/**
 * The SSE frame of one event, encoded once and shared by every stream that sends it (the raft
 * store hands every watcher the same event objects). The stored value is JSON text already, so
 * it is embedded as is. `withId` frames end a revision and carry its id.
 */
const frames = new WeakMap<WatchEvent, { plain?: Uint8Array; withId?: Uint8Array }>();

function frameOf(event: WatchEvent, withId: boolean): Uint8Array {
  let cached = frames.get(event);
  if (!cached) {
    cached = {};
    frames.set(event, cached);
  }
  const hit = withId ? cached.withId : cached.plain;
  if (hit) return hit;
  const value = event.value === undefined ? "" : `,"value":${event.value}`;
  const data = `{"type":"${event.type}","key":${JSON.stringify(event.key)}${value},"revision":${event.revision}}`;
  const bytes = encoder.encode(`event: ${event.type}\ndata: ${data}\n${withId ? `id: ${event.revision}\n` : ""}\n`);
  if (withId) cached.withId = bytes;
  else cached.plain = bytes;
  return bytes;
}

function controlFrame(event: string, data: unknown, retryMs?: number): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n${retryMs !== undefined ? `retry: ${retryMs}\n` : ""}\n`);
}

const KEEPALIVE_FRAME = encoder.encode(": keepalive\n\n");

/** One open stream, as the shared keep-alive timer and the drain see it. */
interface OpenStream {
  keepalive(): void;
  end(): void;
}

/** Mounts /v1/watch; `stopping` ends every stream when the daemon shuts down. */
export function mountWatchApi(app: Hono<ControlPlaneEnv>, store: Store, stopping: AbortSignal, metrics: WatchMetrics): void {
  const open = new Set<OpenStream>();
  let keepalives: ReturnType<typeof setInterval> | undefined;
  stopping.addEventListener("abort", () => {
    for (const stream of [...open]) stream.end();
  }, { once: true });

  app.get("/v1/watch", async (c) => {
    const prefix = visiblePrefix(c.req.query("prefix"));
    if (stopping.aborted) throw new HttpError(503, "shutting_down", "this member is shutting down; watch another");
    const lastEventId = revisionParam("Last-Event-ID", c.req.header("last-event-id"));
    // "From now" is made explicit, so the ready event can say where the stream starts and a
    // client that reconnects before any event arrives resumes from there without a gap.
    const fromRevision =
      (lastEventId !== undefined ? lastEventId + 1 : revisionParam("fromRevision", c.req.query("fromRevision"))) ??
      (await orHttp(() => store.status())).revision + 1;

    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let ended = false;
    let watch: Watch | undefined;
    const stream: OpenStream = {
      keepalive: () => send(KEEPALIVE_FRAME),
      end: () => {
        if (ended) return;
        ended = true;
        open.delete(stream);
        metrics.streams.dec();
        if (open.size === 0 && keepalives) {
          clearInterval(keepalives);
          keepalives = undefined;
        }
        void watch?.cancel();
        try {
          controller.close();
        } catch {
          // already closed or errored by the client going away
        }
      },
    };
    const send = (bytes: Uint8Array) => {
      if (ended) return;
      if ((controller.desiredSize ?? 0) < -MAX_QUEUED_BATCHES) {
        metrics.slowClientsCut.inc();
        controller.enqueue(controlFrame("error", { code: "too_slow", message: "client fell too far behind; resume with Last-Event-ID" }));
        stream.end();
        return;
      }
      controller.enqueue(bytes);
    };
    const body = new ReadableStream<Uint8Array>(
      {
        start(c) {
          controller = c;
        },
        cancel: () => stream.end(),
      },
      new CountQueuingStrategy({ highWaterMark: 1 }),
    );
    open.add(stream);
    metrics.streams.inc();
    keepalives ??= setInterval(() => {
      for (const each of open) each.keepalive();
    }, KEEPALIVE_MS);
    send(controlFrame("ready", { fromRevision }, 1000));

    // Opened before the response is returned, so that a compacted or future revision is still
    // answered with a status (410, 400) rather than inside an event stream.
    try {
      watch = await orHttp(() =>
        store.watch(prefix, fromRevision, {
          onEvents(events) {
            // Every prefix, not only "": "s" or "sys" would otherwise reach the private keys under system/.
            const visible = events.every((event) => isVisible(event.key)) ? events : events.filter((event) => isVisible(event.key));
            const last = visible.length - 1;
            for (let i = 0; i <= last; i++) send(frameOf(visible[i]!, i === last));
            if (last >= 0) metrics.eventsSent.inc(visible.length);
          },
          onError(error) {
            send(controlFrame("error", { code: "watch_failed", message: error.message }));
            stream.end();
          },
        }),
      );
    } catch (error) {
      stream.end();
      throw error;
    }
    if (ended) await watch.cancel();
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  });
}
