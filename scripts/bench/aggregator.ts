// Benchmark: one aggregator collecting from 200 sidecars every 5 s. A real one-member control
// plane, a real aggregator process (cmd/aggregator/main.ts, as deployed) and, standing for the
// fleet, ONE process (aggregator-sidecars.ts) listening on one loopback port per simulated node,
// each answering GET /metrics with a busy sidecar's exposition made by the sidecar's own metrics
// code (aggregator-node.ts), its counters growing every second. The nodes are registered in the
// control plane's registry, so the aggregator finds and scrapes them as it would a real fleet.
//
// After warm-up cycles (connections opened, JIT warm), N cycles are measured: each cycle's own
// duration (from the aggregator's cycle histogram, polled: _sum grows by the cycle's time), the
// p99 Prometheus would estimate from its buckets, per-target scrape durations, the aggregator's
// CPU (utime + stime from /proc over the window, as a share of one core) and its memory at the
// end (VmRSS, RssAnon, VmHWM), and, apart, the CPU of the simulated sidecars' process and of the
// control plane, so their work is not mistaken for the aggregator's. The cluster view is checked:
// every node up, and total_requests equal to exactly what the bodies served counted.
// The peer a cycle is measured against is its budget, the scrape interval: the verdict is that the
// cycle's p99 stays under half of it. Not a test: run it by hand.
//
//   bun scripts/bench/aggregator.ts [--nodes 200] [--cycles 12] [--interval 5] [--rate 40] [--seed 1]
//
// --interval is the aggregator's --scrape-interval in seconds; --rate the inbound requests per
// second of each simulated node (outbound calls are half as many). On 2 cores the three processes
// share the machine: the figures are an upper bound of what the aggregator needs alone. The
// aggregator runs with Bun's default fetch limits (256 requests in flight per process): with more
// than about 250 targets its scrapes would queue inside fetch.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { ControlPlaneClient } from "../../pkg/index.ts";
import { startControlPlane, type ControlPlaneProcess } from "../../internal/testing/control-plane-process.ts";
import { livePidsInGroup, livePidsMentioning } from "../../internal/testing/index.ts";
import { startAggregator, type AggregatorProcess } from "../../test/support/aggregator.ts";
import { SimulatedFleet } from "./aggregator-fleet.ts";
import {
  CycleWatch,
  histogram,
  histogramDelta,
  histogramMaxBound,
  histogramQuantile,
  memory,
  scrapeSamples,
  threadCpu,
  threadCpuDelta,
  total,
  type Cycle,
  type PromSample,
} from "./aggregator-probe.ts";
import type { FleetStats } from "./aggregator-protocol.ts";
import { cpuSeconds } from "./watch-proc.ts";
import { fmt, percentile, table } from "./watch-report.ts";

/** Cycles before the measured window: the first opens every connection and warms the JIT. */
const WARMUP_CYCLES = 2;
/** The verdict: the cycle's p99 must stay under this share of the interval. */
const ROOM = 0.5;
const POLL_MS = 1_000;
const REGISTER_CONCURRENCY = 16;
const ALL_UP_TIMEOUT_MS = 60_000;

class UsageError extends Error {
  override readonly name = "UsageError";
}

interface Options {
  readonly nodes: number;
  readonly cycles: number;
  readonly intervalSeconds: number;
  readonly rate: number;
  readonly seed: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      nodes: { type: "string", default: "200" },
      cycles: { type: "string", default: "12" },
      interval: { type: "string", default: "5" },
      rate: { type: "string", default: "40" },
      seed: { type: "string", default: "1" },
    },
  });
  const positive = (name: string, raw: string | undefined, integer = true) => {
    const n = Number(raw);
    if (!(n > 0) || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"}, got ${raw}`);
    return n;
  };
  return {
    nodes: positive("nodes", values.nodes),
    cycles: positive("cycles", values.cycles),
    intervalSeconds: positive("interval", values.interval, false),
    rate: positive("rate", values.rate, false),
    seed: positive("seed", values.seed),
  };
}

/** GET /v1/cluster/metrics, the parts this benchmark checks. */
interface ClusterView {
  readonly cluster_health: { status: string; nodesUp: number; nodesTotal: number; membersUp: number; membersTotal: number; leader: string | null };
  readonly total_requests: number;
  readonly requests_per_second: number | null;
  readonly error_rate: number | null;
  readonly nodes: readonly { id: string; up: boolean; sync: { state: string } }[];
  readonly critical: Readonly<Record<string, number | null>>;
}

/** The moment the window opens or closes: right after a cycle ended, before the next begins. */
interface Mark {
  readonly at: number;
  readonly cycle: number;
  readonly cpu: { readonly aggregator: number; readonly sidecars: number; readonly controlPlane: number };
  readonly aggregatorThreads: ReturnType<typeof threadCpu>;
  readonly metrics: readonly PromSample[];
  readonly view: ClusterView;
  readonly fleet: FleetStats;
}

interface Processes {
  controlPlane?: ControlPlaneProcess;
  controlPlanePid?: number;
  fleet?: SimulatedFleet;
  aggregator?: AggregatorProcess;
}

function describeLoad(): string {
  return `load average ${loadavg().map((n) => n.toFixed(2)).join(" ")} on ${navigator.hardwareConcurrency} cores`;
}

/** The control plane's own pid (startControlPlane keeps it to itself): the bun process, not its guardian shell. */
function controlPlanePid(cp: ControlPlaneProcess): number {
  const pids = livePidsMentioning(cp.dataDir).filter((pid) => {
    try {
      return !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("guardian:");
    } catch {
      return false;
    }
  });
  return pids[0] ?? Number.NaN;
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
async function eachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function mark(p: Required<Processes>, watch: CycleWatch): Promise<Mark> {
  const at = performance.now();
  const cpu = { aggregator: cpuSeconds(p.aggregator.process.pid), sidecars: cpuSeconds(p.fleet.pid), controlPlane: cpuSeconds(p.controlPlanePid) };
  const aggregatorThreads = threadCpu(p.aggregator.process.pid);
  const [metrics, view, fleet] = await Promise.all([scrapeSamples(p.aggregator.url), p.aggregator.json<ClusterView>("/v1/cluster/metrics"), p.fleet.stats()]);
  return { at, cycle: watch.cycles.length, cpu, aggregatorThreads, metrics, view, fleet };
}

interface Result {
  readonly options: Options;
  readonly nodes: number;
  readonly listenLimit: string | undefined;
  readonly registerSeconds: number;
  readonly warmup: readonly Cycle[];
  readonly measured: readonly Cycle[];
  readonly start: Mark;
  readonly end: Mark;
  readonly memory: ReturnType<typeof memory>;
  readonly lagMaxSeconds: number;
}

async function measure(options: Options, p: Processes): Promise<Result> {
  p.controlPlane = await startControlPlane();
  p.controlPlanePid = controlPlanePid(p.controlPlane);
  console.log(`control plane ${p.controlPlane.url} (pid ${p.controlPlanePid})`);

  const fleetStarted = performance.now();
  p.fleet = await SimulatedFleet.start({ nodes: options.nodes, rate: options.rate, seed: options.seed });
  const fleet = p.fleet;
  console.log(`simulated sidecars: ${fleet.nodes.length} nodes listening in one process (pid ${fleet.pid}), ready in ${fmt((performance.now() - fleetStarted) / 1000)} s`);
  if (fleet.limit !== undefined) console.log(`  !!! only ${fleet.nodes.length} of ${options.nodes} nodes: ${fleet.limit}`);

  // The registry, as the sidecars themselves would fill it: register, then report the
  // configuration held (so the aggregator sees every node synced, not behind).
  const client = new ControlPlaneClient({ endpoints: [p.controlPlane.url], token: p.controlPlane.token });
  const registerStarted = performance.now();
  await eachLimited(fleet.nodes, REGISTER_CONCURRENCY, async (node) => {
    await client.registerNode(node.id, { address: node.url, domains: node.served, ttlSeconds: 3600, metadata: { simulated: "true" } });
  });
  const { revision } = await client.listNodes();
  await fleet.setConfigRevision(revision);
  const appliedAt = new Date().toISOString();
  await eachLimited(fleet.nodes, REGISTER_CONCURRENCY, async (node) => {
    await client.heartbeat(node.id, { configRevision: revision, configAppliedAt: appliedAt });
  });
  const registerSeconds = (performance.now() - registerStarted) / 1000;
  console.log(`registered ${fleet.nodes.length} nodes (ttl 3600 s) and their configuration revision ${revision} in ${fmt(registerSeconds)} s`);

  p.aggregator = await startAggregator(p.controlPlane.url, p.controlPlane.token, ["--scrape-interval", `${options.intervalSeconds}s`]);
  const processes = p as Required<Processes>;
  console.log(`aggregator ${p.aggregator.url} (pid ${p.aggregator.process.pid}), scrape interval ${options.intervalSeconds} s; ${describeLoad()}`);
  const watch = new CycleWatch(p.aggregator.url, POLL_MS);
  const services = [p.aggregator.process, fleet.service];
  const broken = () => {
    const ended = services.find((s) => s.exitStatus() !== null);
    return ended === undefined ? undefined : `${ended.name} ended (${ended.exitStatus()}); its last output:\n${ended.output() || "(none)"}`;
  };
  try {
    const intervalMs = options.intervalSeconds * 1000;
    // Warm-up: every node seen up, and WARMUP_CYCLES cycles done.
    const upDeadline = performance.now() + ALL_UP_TIMEOUT_MS;
    for (;;) {
      await watch.until(Math.max(WARMUP_CYCLES, watch.cycles.length + 1), ALL_UP_TIMEOUT_MS, broken);
      const view = await p.aggregator.json<ClusterView>("/v1/cluster/metrics");
      if (view.cluster_health.nodesUp === fleet.nodes.length) break;
      if (performance.now() > upDeadline) throw new Error(`after ${ALL_UP_TIMEOUT_MS} ms the aggregator sees ${view.cluster_health.nodesUp} of ${fleet.nodes.length} nodes up`);
    }
    const warmup = [...watch.cycles];
    console.log(`warm-up: ${warmup.length} cycles (${warmup.map((c) => `${fmt(c.seconds * 1000)} ms`).join(", ")}); measuring ${options.cycles} cycles (~${fmt((options.cycles * intervalMs) / 1000)} s)...`);

    const start = await mark(processes, watch);
    await watch.until(start.cycle + options.cycles, options.cycles * intervalMs * 3 + 30_000, broken);
    const end = await mark(processes, watch);
    const finalMemory = memory(p.aggregator.process.pid);
    return {
      options,
      nodes: fleet.nodes.length,
      listenLimit: fleet.limit,
      registerSeconds,
      warmup,
      measured: watch.cycles.slice(start.cycle, end.cycle),
      start,
      end,
      memory: finalMemory,
      lagMaxSeconds: watch.lagMaxSince(start.at),
    };
  } finally {
    watch.stop();
  }
}

const SIDECAR = { job: "nagent-sidecar" };
const MEMBER = { job: "nagent-control-plane" };
const ms = (seconds: number) => fmt(seconds * 1000);
const pct = (share: number) => `${fmt(share * 100)}%`;

interface Verdict {
  readonly fits: boolean;
  readonly checks: readonly string[];
  readonly failed: readonly string[];
}

function report(r: Result): Verdict {
  const seconds = (r.end.at - r.start.at) / 1000;
  const interval = r.options.intervalSeconds;
  const cycles = r.measured.map((c) => c.seconds).sort((a, b) => a - b);
  const p50 = percentile(cycles, 50);
  const p99 = percentile(cycles, 99);
  const max = cycles.at(-1) ?? Number.NaN;
  const cycleHist = histogramDelta(histogram(r.end.metrics, "nagent_aggregator_cycle_duration_seconds"), histogram(r.start.metrics, "nagent_aggregator_cycle_duration_seconds"));
  const scrapes = histogramDelta(histogram(r.end.metrics, "nagent_aggregator_scrape_duration_seconds", SIDECAR), histogram(r.start.metrics, "nagent_aggregator_scrape_duration_seconds", SIDECAR));
  const memberScrapes = histogramDelta(histogram(r.end.metrics, "nagent_aggregator_scrape_duration_seconds", MEMBER), histogram(r.start.metrics, "nagent_aggregator_scrape_duration_seconds", MEMBER));
  const failures = total(r.end.metrics, "nagent_aggregator_scrape_failures_total") - total(r.start.metrics, "nagent_aggregator_scrape_failures_total");
  const cpu = (which: keyof Mark["cpu"]) => (r.end.cpu[which] - r.start.cpu[which]) / seconds;
  const fleetScrapes = r.end.fleet.scrapesServed - r.start.fleet.scrapesServed;
  const bytesPerScrape = (r.end.fleet.bytesServed - r.start.fleet.bytesServed) / fleetScrapes;
  const renders = r.end.fleet.renders.count - r.start.fleet.renders.count;
  const renderSeconds = r.end.fleet.renders.seconds - r.start.fleet.renders.seconds;
  const b = r.end.fleet.bodyBytes;
  const s = r.end.fleet.bodySamples;
  const inexact = r.measured.filter((c) => !c.exact).length;
  const threads = threadCpuDelta(r.end.aggregatorThreads, r.start.aggregatorThreads)
    .slice(0, 4)
    .map(([name, cpuSeconds]) => `${name} ${ms(cpuSeconds / r.measured.length)}`)
    .join(", ");
  const served = (r.end.fleet.inboundObserved - r.start.fleet.inboundObserved) / seconds;

  console.log(`\nwindow: cycles ${r.start.cycle + 1}..${r.end.cycle} of the aggregator, ${fmt(seconds)} s; ${describeLoad()}`);
  console.log(
    `every cycle, ms: ${r.measured.map((c) => ms(c.seconds) + (c.exact ? "" : "~")).join(", ")}` +
      (inexact > 0 ? ` (~: ${inexact} cycles ended between two polls and share their mean)` : ""),
  );
  const rows: string[][] = [
    ["nodes (simulated sidecars, one process)", `${r.nodes}`, r.listenLimit ?? `of ${r.options.nodes} asked`],
    ["/metrics body per scrape, bytes", fmt(bytesPerScrape), `mean over ${fleetScrapes} scrapes; bodies now ${fmt(b.min)}..${fmt(b.max)}, median ${fmt(b.median)}`],
    ["/metrics samples per body", fmt(s.median), `median; ${fmt(s.min)}..${fmt(s.max)}`],
    ["bytes read per cycle (all nodes), MiB", fmt((bytesPerScrape * r.nodes) / 1048576), ""],
    ["cycles measured", `${r.measured.length}`, `after ${r.warmup.length} warm-up (${r.warmup.map((c) => ms(c.seconds)).join(", ")} ms)`],
    ["cycle p50, ms", ms(p50), "each cycle's own time (histogram _sum per cycle)"],
    ["cycle p99, ms", ms(p99), `${cycles.length < 100 ? `of ${cycles.length} cycles: the slowest; ` : ""}from the buckets, as Prometheus would say: ${ms(histogramQuantile(0.99, cycleHist))}`],
    ["cycle max, ms", ms(max), `bucket: <= ${ms(histogramMaxBound(cycleHist))}`],
    ["cycle mean, ms", ms(cycleHist.sum / cycleHist.count), "histogram _sum / _count over the window"],
    [`share of the ${interval} s interval: p50 / p99 / max`, `${pct(p50 / interval)} / ${pct(p99 / interval)} / ${pct(max / interval)}`, ""],
    ["scrape of one sidecar: mean, ms", ms(scrapes.sum / scrapes.count), `${scrapes.count} scrapes; includes waiting behind the other ${r.nodes - 1} in flight with it`],
    ["scrape of one sidecar: p50 / p99, ms", `${ms(histogramQuantile(0.5, scrapes))} / ${ms(histogramQuantile(0.99, scrapes))}`, `bucket-interpolated; slowest <= ${ms(histogramMaxBound(scrapes))}`],
    ["scrape of the control-plane member: mean, ms", ms(memberScrapes.sum / memberScrapes.count), `${memberScrapes.count} scrapes`],
    ["scrape failures", fmt(failures), ""],
    ["inbound requests/s: served by the nodes / counted by the aggregator", `${fmt(served)} / ${fmt((r.end.view.total_requests - r.start.view.total_requests) / seconds)}`, "over the window (total_requests at both ends)"],
    ["aggregator CPU, % of one core", pct(cpu("aggregator")), `utime+stime ${fmt(r.end.cpu.aggregator - r.start.cpu.aggregator)} s over ${fmt(seconds)} s`],
    ["aggregator CPU per cycle, ms", ms((r.end.cpu.aggregator - r.start.cpu.aggregator) / r.measured.length), `by thread: ${threads}`],
    ["aggregator RSS (VmRSS) at the end, MiB", fmt(r.memory.rss), `RssAnon ${fmt(r.memory.rssAnon)} MiB; peak (VmHWM) ${fmt(r.memory.peak)} MiB`],
    ["aggregator event-loop lag max, ms", ms(r.lagMaxSeconds), "nodejs_eventloop_lag_max_seconds, polled every second"],
    ["simulated sidecars' process CPU, % of one core", pct(cpu("sidecars")), `not the aggregator's: traffic every second, ${renders} body renders (${ms(renderSeconds)} ms), serving`],
    ["control plane CPU, % of one core", pct(cpu("controlPlane")), "registry listing and status every cycle, the watch"],
  ];
  console.log("\n" + table(["figure", "value", "note"], rows));

  const view = r.end.view;
  const counted = r.end.fleet.servedInboundDelta;
  const grew = view.total_requests - r.start.view.total_requests;
  const checks: string[] = [];
  const failed: string[] = [];
  const check = (ok: boolean, what: string) => (ok ? checks : failed).push(what);
  check(view.cluster_health.nodesUp === r.nodes && view.cluster_health.nodesTotal === r.nodes, `${view.cluster_health.nodesUp}/${view.cluster_health.nodesTotal} nodes up (of ${r.nodes})`);
  check(view.cluster_health.membersUp === view.cluster_health.membersTotal && view.cluster_health.leader !== null, `${view.cluster_health.membersUp}/${view.cluster_health.membersTotal} control-plane members up, leader ${view.cluster_health.leader}`);
  check(failures === 0, `${failures} scrape failures`);
  check(grew > 0, `total_requests grew by ${grew} over the window (${r.start.view.total_requests} -> ${view.total_requests})`);
  check(view.total_requests === counted, `total_requests ${view.total_requests} = the inbound requests the served bodies counted since each node's first scrape (${counted})`);
  check(r.end.fleet.neverScraped === 0, `${r.end.fleet.neverScraped} nodes never scraped`);
  const synced = view.nodes.filter((n) => n.sync.state === "synced").length;
  console.log(
    `\ncluster view: ${view.cluster_health.status}; requests_per_second ${fmt(view.requests_per_second ?? Number.NaN)} (over the aggregator's uptime; ` +
      `the bodies are rendered 1 to 3 s after each scrape, not at it), ` +
      `error_rate ${fmt(view.error_rate ?? Number.NaN)}; ${synced}/${view.nodes.length} nodes synced`,
  );
  console.log(`critical metrics: ${Object.entries(view.critical).map(([name, value]) => `${name} ${value === null ? "null" : fmt(value)}`).join(", ")}`);
  console.log(`checks: ${checks.join("; ")}`);
  for (const f of failed) console.error(`  !!! check failed: ${f}`);

  const fits = p99 < ROOM * interval;
  console.log(
    `\nverdict: one aggregator collecting from ${r.nodes} sidecars every ${interval} s ${fits ? "FITS in the interval with room" : "DOES NOT fit in the interval with room"}: ` +
      `cycle p99 ${ms(p99)} ms = ${pct(p99 / interval)} of the interval (needs < ${pct(ROOM)}); max ${ms(max)} ms; ` +
      `aggregator CPU ${pct(cpu("aggregator"))} of one core, RSS ${fmt(r.memory.rss)} MiB`,
  );
  return { fits, checks, failed };
}

/** Stops everything started here, in reverse order; answers what is still left (nothing, normally). */
async function stopAll(p: Processes): Promise<string[]> {
  const pids = [p.aggregator?.process.pid, p.fleet?.pid, p.controlPlane === undefined ? undefined : p.controlPlanePid].filter((pid): pid is number => pid !== undefined && Number.isFinite(pid));
  const results = await Promise.allSettled([p.aggregator?.stop(), p.fleet?.stop()]);
  results.push(...(await Promise.allSettled([p.controlPlane?.destroy()])));
  const left: string[] = [];
  for (const result of results) if (result.status === "rejected") left.push(`stop failed: ${(result.reason as Error).message}`);
  for (const pid of pids) if (livePidsInGroup(pid).length > 0) left.push(`process group ${pid} still running`);
  if (p.controlPlane !== undefined && existsSync(p.controlPlane.dataDir)) left.push(`${p.controlPlane.dataDir} still there`);
  return left;
}

async function main(): Promise<number> {
  const options = parseOptions();
  console.log(`aggregator benchmark: ${options.nodes} simulated sidecars at ${options.rate} inbound req/s each, scrape interval ${options.intervalSeconds} s, ${options.cycles} cycles; Bun ${Bun.version}; ${describeLoad()}`);
  const processes: Processes = {};
  // A signal ends this process from spawnService's hooks (which kill every service); the control
  // plane's data directory is not a service-owned one, so it is removed here on the way out.
  const removeDataDir = () => {
    if (processes.controlPlane !== undefined) rmSync(processes.controlPlane.dataDir, { recursive: true, force: true });
  };
  process.on("exit", removeDataDir);
  try {
    const verdict = report(await measure(options, processes));
    return verdict.fits && verdict.failed.length === 0 ? 0 : 1;
  } finally {
    const left = await stopAll(processes);
    process.off("exit", removeDataDir);
    if (left.length === 0) console.log("\ncleanup: every process stopped, temporary directories removed");
    else for (const line of left) console.error(`cleanup: !!! ${line}`);
  }
}

try {
  process.exit(await main());
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`scripts/bench/aggregator.ts: ${error.message}`);
  process.exit(2);
}
