// GET /v1/watch: every change in the store as Server-Sent Events, which is how sidecars and
// nagentctl stay in sync. Resumable: the SSE id is the revision of the last event of each
// revision, so a client that reconnects with Last-Event-ID misses nothing (at worst it sees the
// rest of a revision it was cut off in the middle of).
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Counter, Gauge } from "prom-client";
import { BadRequestError, HttpError } from "../server/index.ts";
import { validatePrefix, type Store, type WatchEvent } from "../store/index.ts";
import type { ControlPlaneEnv } from "./authenticate.ts";
import { orHttp } from "./http-errors.ts";

/** Keys the watch never shows (the admin credential's hash, internal bookkeeping). */
const HIDDEN_PREFIX = "system/";
/** Comment lines keep idle streams open through proxies and detect dead clients. */
const KEEPALIVE_MS = 15_000;
/** A client this far behind is cut off; it resumes with Last-Event-ID, like etcd's slow watchers. */
const MAX_QUEUED_EVENTS = 10_000;

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

/** One SSE data line; the stored value is JSON text already, so it is embedded as is. */
function eventData(event: WatchEvent): string {
  const value = event.value === undefined ? "" : `,"value":${event.value}`;
  return `{"type":"${event.type}","key":${JSON.stringify(event.key)}${value},"revision":${event.revision}}`;
}

/** Mounts /v1/watch; `stopping` ends every stream when the daemon shuts down. */
export function mountWatchApi(app: Hono<ControlPlaneEnv>, store: Store, stopping: AbortSignal, metrics: WatchMetrics): void {
  app.get("/v1/watch", async (c) => {
    const prefix = c.req.query("prefix") ?? "";
    try {
      validatePrefix(prefix);
    } catch (error) {
      throw new HttpError(400, "invalid_key", (error as Error).message);
    }
    if (prefix.startsWith(HIDDEN_PREFIX)) throw new HttpError(403, "forbidden", `prefix ${prefix} is reserved`);
    const lastEventId = revisionParam("Last-Event-ID", c.req.header("last-event-id"));
    const fromRevision = lastEventId !== undefined ? lastEventId + 1 : revisionParam("fromRevision", c.req.query("fromRevision"));

    // Open the store watch before the response starts, so that a compacted or future revision
    // can still be answered with a status (410, 400) rather than inside an event stream.
    const queue: (readonly WatchEvent[])[] = [];
    let queued = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const watch = await orHttp(() =>
      store.watch(prefix, fromRevision, {
        onEvents(events) {
          // Every prefix, not only "": "s" or "sys" would otherwise reach the private keys under system/.
          const visible = events.filter((event) => !event.key.startsWith(HIDDEN_PREFIX));
          if (visible.length === 0) return;
          queue.push(visible);
          queued += visible.length;
          notify();
        },
        onError(error) {
          failure = error;
          notify();
        },
      }),
    );

    metrics.streams.inc();
    return streamSSE(c, async (stream) => {
      const ended = new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        if (stopping.aborted) resolve();
        else stopping.addEventListener("abort", () => resolve(), { once: true });
      });
      let open = true;
      void ended.then(() => {
        open = false;
        notify();
      });
      try {
        await stream.writeSSE({ event: "ready", data: JSON.stringify({ fromRevision: fromRevision ?? null }), retry: 1000 });
        while (open) {
          if (queued > MAX_QUEUED_EVENTS) {
            metrics.slowClientsCut.inc();
            await stream.writeSSE({ event: "error", data: JSON.stringify({ code: "too_slow", message: "client fell too far behind; resume with Last-Event-ID" }) });
            break;
          }
          const batch = queue.shift();
          if (batch) {
            queued -= batch.length;
            for (let i = 0; i < batch.length; i++) {
              const event = batch[i]!;
              const last = i === batch.length - 1;
              await stream.writeSSE({ event: event.type, data: eventData(event), ...(last ? { id: String(event.revision) } : {}) });
            }
            metrics.eventsSent.inc(batch.length);
            continue;
          }
          if (failure) {
            await stream.writeSSE({ event: "error", data: JSON.stringify({ code: "watch_failed", message: failure.message }) });
            break;
          }
          const woken = new Promise<boolean>((resolve) => {
            wake = () => resolve(true);
          });
          const idle = await Promise.race([woken, Bun.sleep(KEEPALIVE_MS).then(() => false)]);
          if (!idle && open) await stream.write(": keepalive\n\n");
        }
      } finally {
        metrics.streams.dec();
        await watch.cancel();
      }
    });
  });
}
