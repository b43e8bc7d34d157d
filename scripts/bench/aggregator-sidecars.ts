// The simulated sidecars of scripts/bench/aggregator.ts: ONE process that stands for a fleet, one
// Bun.serve listener per node on its own loopback port answering GET /metrics with what a busy
// sidecar's /metrics says (see aggregator-node.ts), its traffic growing every second. Not meant to
// be run by hand; aggregator-fleet.ts starts it and asks it things on its control port:
//
//   GET  /readyz           200 once every node listens
//   GET  /nodes            [{ id, url, served, called }] and, if the OS refused some listeners, why
//   GET  /stats            bodies, scrapes served, what the served bodies counted (aggregator-protocol.ts)
//   POST /config-revision  { revision }: every node holds this configuration revision from now on
//
// A real sidecar renders its /metrics when scraped, on its own machine, in parallel with the
// other 199. Rendering 200 bodies here on the scrape's path would queue the aggregator's 200
// concurrent GETs behind ~0.5 s of serial prom-client formatting, which no real fleet does. So a
// scrape is answered at once with the node's last rendered body, and the node renders its next
// one 1 to 3 s later (jittered, so the 200 renders neither land together nor on the aggregator's
// parsing): one render per scrape, as in a real fleet, never on the scrape's path. Every body has
// at least a second's more traffic than the one before.
import { parseArgs } from "node:util";
import { seededRandom } from "../../internal/testing/index.ts";
import { SharedDefaults, SimulatedNode } from "./aggregator-node.ts";
import type { FleetNode, FleetStats } from "./aggregator-protocol.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "200" },
    rate: { type: "string", default: "40" },
    seed: { type: "string", default: "1" },
    "control-port": { type: "string" },
    "prewarm-seconds": { type: "string", default: "300" },
  },
});
const nodeCount = Number(values.nodes);
const rate = Number(values.rate);
const seed = Number(values.seed);
const controlPort = Number(values["control-port"]);
const prewarmSeconds = Number(values["prewarm-seconds"]);
const HOST = "127.0.0.1";
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const TICK_MS = 1_000;
const RENDER_DELAY_MS = [1_000, 3_000] as const;

interface Served {
  readonly node: SimulatedNode;
  readonly url: string;
  scrapes: number;
  /** Inbound requests counted in the first and the last body this node answered a scrape with. */
  firstServedInbound: number | undefined;
  lastServedInbound: number | undefined;
  renderPending: boolean;
}

const random = seededRandom(seed);
const now = Date.now() / 1000;
const nodes = Array.from(
  { length: nodeCount },
  // Started between an hour and a day ago, each at its own time.
  (_, index) => new SimulatedNode({ index, seed, requestsPerSecond: rate, startTime: Math.floor(now - 3_600 - random() * 82_800) }),
);
// The fleet has been busy for a while: every series a busy sidecar has is there from the first scrape.
for (const node of nodes) node.run(prewarmSeconds);

const defaults = new SharedDefaults();
let shared = { text: await defaults.render(), at: performance.now() };
async function sharedText(): Promise<string> {
  if (performance.now() - shared.at >= TICK_MS) shared = { text: await defaults.render(), at: performance.now() };
  return shared.text;
}

const renders = { count: 0, seconds: 0, maxSeconds: 0 };
async function render(node: SimulatedNode): Promise<void> {
  const started = performance.now();
  await node.render(await sharedText());
  const seconds = (performance.now() - started) / 1000;
  renders.count++;
  renders.seconds += seconds;
  renders.maxSeconds = Math.max(renders.maxSeconds, seconds);
}
for (const node of nodes) await render(node);

let bytesServed = 0;
let scrapesServed = 0;
const served: Served[] = [];
const servers: ReturnType<typeof Bun.serve>[] = [];
let listenLimit: string | undefined;

function scheduleRender(entry: Served): void {
  if (entry.renderPending) return;
  entry.renderPending = true;
  const [low, high] = RENDER_DELAY_MS;
  setTimeout(() => {
    entry.renderPending = false;
    void render(entry.node);
  }, low + Math.random() * (high - low));
}

for (const node of nodes) {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: HOST,
      port: 0,
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") {
          const body = node.body;
          entry.scrapes++;
          entry.firstServedInbound ??= body.inbound;
          entry.lastServedInbound = body.inbound;
          scrapesServed++;
          bytesServed += body.bytes;
          scheduleRender(entry);
          return new Response(body.text, { headers: { "content-type": CONTENT_TYPE } });
        }
        if (path === "/healthz" || path === "/readyz") return Response.json({ status: "ok" });
        return Response.json({ error: { code: "not_found", message: `no route for ${path}` } }, { status: 404 });
      },
    });
  } catch (error) {
    // The OS refused another listener (open files, ports): the fleet is what could be opened.
    listenLimit = `listener ${served.length + 1} of ${nodeCount} refused: ${(error as Error).message}`;
    break;
  }
  servers.push(server);
  const entry: Served = { node, url: `http://${HOST}:${server.port}`, scrapes: 0, firstServedInbound: undefined, lastServedInbound: undefined, renderPending: false };
  served.push(entry);
}

let lastTick = performance.now();
setInterval(() => {
  const at = performance.now();
  const seconds = (at - lastTick) / 1000;
  lastTick = at;
  for (const { node } of served) node.run(seconds);
}, TICK_MS);

function stats(): FleetStats {
  const bytes = served.map((s) => s.node.body.bytes).sort((a, b) => a - b);
  const samples = served.map((s) => countSamples(s.node.body.text)).sort((a, b) => a - b);
  let servedInboundDelta = 0;
  let inbound = 0;
  for (const s of served) {
    inbound += s.node.inbound;
    if (s.firstServedInbound !== undefined && s.lastServedInbound !== undefined) servedInboundDelta += s.lastServedInbound - s.firstServedInbound;
  }
  return {
    nodes: served.length,
    bodyBytes: { min: bytes[0] ?? 0, median: bytes[Math.floor(bytes.length / 2)] ?? 0, max: bytes.at(-1) ?? 0 },
    bodySamples: { min: samples[0] ?? 0, median: samples[Math.floor(samples.length / 2)] ?? 0, max: samples.at(-1) ?? 0 },
    scrapesServed,
    bytesServed,
    neverScraped: served.filter((s) => s.scrapes === 0).length,
    inboundObserved: inbound,
    servedInboundDelta,
    renders: { ...renders },
  };
}

/** Sample lines (not # HELP / # TYPE, not blank). */
function countSamples(text: string): number {
  let count = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    if (end > start && text.charCodeAt(start) !== 35 /* # */) count++;
    start = end + 1;
  }
  return count;
}

Bun.serve({
  hostname: HOST,
  port: controlPort,
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/readyz") return Response.json({ status: "ready" });
    if (path === "/nodes") {
      const list: FleetNode[] = served.map((s) => ({ id: s.node.id, url: s.url, served: s.node.served, called: s.node.called }));
      return Response.json({ nodes: list, ...(listenLimit !== undefined ? { limit: listenLimit } : {}) });
    }
    if (path === "/stats") return Response.json(stats());
    if (path === "/config-revision" && request.method === "POST") {
      const { revision } = (await request.json()) as { revision: number };
      for (const s of served) s.node.setConfigRevision(revision);
      for (const s of served) await render(s.node);
      return Response.json({ revision });
    }
    return Response.json({ error: { code: "not_found", message: `no route for ${path}` } }, { status: 404 });
  },
});

process.on("SIGTERM", () => {
  for (const server of servers) server.stop(true);
  process.exit(0);
});
