// A stand-in for the aggregator's HTTP surface, for browser tests of the dashboard: `/` answers
// the page, `/v1/cluster/metrics` and `/v1/alerts` answer whatever the test scripted last. It
// counts requests and the most API requests it has had in flight at once.
import type { Server } from "bun";
import { DASHBOARD_HTML } from "../../internal/aggregator/dashboard.ts";

export type ApiPath = "/v1/cluster/metrics" | "/v1/alerts";

/** A body, or a function of the request's number (1, 2, …) on that path that makes one. */
export type ScriptedBody = unknown | ((call: number) => unknown);

interface Script {
  status: number;
  body: ScriptedBody;
}

export interface FakeAggregatorOptions {
  readonly metrics: ScriptedBody;
  readonly alerts: ScriptedBody;
  /** The page served at `/`; DASHBOARD_HTML unless given. */
  readonly html?: string;
  /** How long every API answer is held back, so that overlapping requests would overlap. */
  readonly delayMs?: number;
}

export interface FakeAggregator {
  readonly url: string;
  /** Answers `path` with `body` and status 200 from the next request on. */
  answer(path: ApiPath, body: ScriptedBody): void;
  /** Answers `path` with `status` and the aggregator's error shape until `answer` or `restore`. */
  fail(path: ApiPath, status?: number): void;
  /** Answers `path` with its last scripted body again after `fail`. */
  restore(path: ApiPath): void;
  /** Requests seen on `path`. */
  requests(path: ApiPath | "/"): number;
  /** The most API requests that were in flight at the same moment. */
  readonly maxInFlight: number;
  stop(): Promise<void>;
}

export function startFakeAggregator(options: FakeAggregatorOptions): FakeAggregator {
  const html = options.html ?? DASHBOARD_HTML;
  const delayMs = options.delayMs ?? 0;
  const scripts = new Map<ApiPath, Script>([
    ["/v1/cluster/metrics", { status: 200, body: options.metrics }],
    ["/v1/alerts", { status: 200, body: options.alerts }],
  ]);
  const counts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      const call = (counts.get(path) ?? 0) + 1;
      counts.set(path, call);
      if (path === "/") return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
      const script = scripts.get(path as ApiPath);
      if (!script) return Response.json({ error: { code: "not_found", message: `no route ${path}` } }, { status: 404 });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (delayMs > 0) await Bun.sleep(delayMs);
        if (script.status !== 200) {
          return Response.json({ error: { code: "unavailable", message: "scripted failure" } }, { status: script.status });
        }
        const body = typeof script.body === "function" ? (script.body as (call: number) => unknown)(call) : script.body;
        return Response.json(body, { headers: { "cache-control": "no-store" } });
      } finally {
        inFlight--;
      }
    },
  });

  return {
    url: server.url.origin,
    answer(path, body) {
      scripts.set(path, { status: 200, body });
    },
    fail(path, status = 503) {
      const current = scripts.get(path);
      scripts.set(path, { status, body: current?.body });
    },
    restore(path) {
      const current = scripts.get(path);
      scripts.set(path, { status: 200, body: current?.body });
    },
    requests(path) {
      return counts.get(path) ?? 0;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    async stop() {
      await server.stop(true);
    },
  };
}
