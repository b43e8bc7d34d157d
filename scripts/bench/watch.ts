// Benchmark: configuration push at scale. A 3-member Nagent control plane (integrated Raft store)
// and, as the peer measured in the same run on the same machine, a 3-member etcd, both on
// loopback. For each: N watchers (they stand for sidecars) spread evenly over the three members,
// all on the prefix config/bench/; once every stream is open, W writes at a steady rate to distinct
// keys (256-byte JSON values) through the leader. Measured: from each write's acknowledgement to
// its arrival at every watcher (p50/p99/max over all deliveries, and p50/p99 of the arrival at the
// last watcher per write), missing and duplicate deliveries (must be 0), and each member's RSS
// (before clients connect, with the streams idle, peak during the writes) and CPU during the writes.
// Then one table with both systems and the ratio nagent / etcd. Not a test: run it by hand.
// To explain a tail, each member's /metrics is read before and after the writes (log fsyncs slower
// than 0.1 s, leader changes, slow watchers, Nagent's event-loop lag) and the Raft term compared.
//
//   bun scripts/bench/watch.ts [--clients 1000] [--writes 200] [--rate 20] [--only nagent|etcd]
//                              [--client-processes 2] [--watchers-per-etcd-client 50] [--tmpdir DIR]
//
// --tmpdir puts both clusters' data directories elsewhere, e.g. /dev/shm to take a slow or shared
// disk's fsync stalls out of the figures and leave the fan-out itself.
//
// The watchers run in --client-processes Bun child processes (watch-clients.ts), not in this one,
// so the writer and its acknowledgement timestamps do not queue behind 1000 streams' parsing.
// Every process timestamps with performance.timeOrigin + performance.now() (the machine's clock);
// the run checks that over IPC and prints the disagreement. Nagent watchers are fetch streams read
// with internal/controlplane/sse-reader.ts; Bun's fetch allows only 256 requests in flight per
// process by default, so the client processes get BUN_CONFIG_MAX_HTTP_REQUESTS=65535. etcd
// watchers use the etcd3 client, one Etcd3 instance (one gRPC connection, its watchers multiplexed
// on one stream) per --watchers-per-etcd-client watchers of a member.
//
// Open files: every member holds about N/3 sockets and each client process N/processes. Bun raises
// its soft limit to the hard one at start (children inherit it); the script refuses to start if
// that is too low: raise the hard limit (`ulimit -Hn`, /etc/security/limits.conf) and retry.
import { loadavg, tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { MissingExecutableError, requireExecutable } from "../../internal/testing/index.ts";
import { ClientFleet } from "./watch-fleet.ts";
import { activity, scrape, type MemberActivity } from "./watch-metrics.ts";
import { cpuSeconds, openFilesLimit, rssMiB, sampleRssPeaks } from "./watch-proc.ts";
import { clock, type WatchedKind } from "./watch-protocol.ts";
import { analyseDeliveries, fmt, percentile, ratio, table, type AckedWrite, type Deliveries, type WriteFate } from "./watch-report.ts";
import { startEtcd, startNagent, WATCH_PREFIX, WRITE_PREFIX, type WatchedSystem } from "./watch-systems.ts";

const TARGET_P99_TO_ALL_MS = 100;
const VALUE_BYTES = 256;
/** With every stream open, how long to hold them idle before measuring the idle RSS. */
const IDLE_HOLD_MS = 3_000;
/** After the deliveries, how long to wait before the RSS that shows what the writes left behind. */
const SETTLE_MS = 3_000;
/** How long to wait for every stream to open. */
const OPEN_TIMEOUT_MS = 180_000;
/** After the last acknowledgement, give up waiting for deliveries after this long without one. */
const DRAIN_QUIET_MS = 5_000;
const RSS_SAMPLE_MS = 250;
/** Sockets and files a process needs besides the watch streams. */
const FD_HEADROOM = 256;

/** A bad command line or machine set-up: reported as one line, without a stack. */
class UsageError extends Error {
  override readonly name = "UsageError";
}

interface Options {
  readonly clients: number;
  readonly writes: number;
  readonly rate: number;
  readonly only: WatchedKind | undefined;
  readonly clientProcesses: number;
  readonly watchersPerEtcdClient: number;
  /** Where both clusters keep their data (default: the OS temporary directory, as store.ts). */
  readonly tmpdir: string | undefined;
}

interface SystemResult {
  readonly label: string;
  readonly kind: WatchedKind;
  readonly clients: number;
  readonly leader: string;
  readonly termBefore: number;
  readonly termAfter: number;
  readonly howClients: string;
  readonly deliveries: Deliveries;
  readonly putLatencies: readonly number[];
  readonly writeErrors: readonly string[];
  readonly achievedRate: number;
  readonly problems: readonly string[];
  readonly rssBefore: readonly number[];
  readonly rssIdle: readonly number[];
  readonly rssWrites: readonly number[];
  readonly rssAfter: readonly number[];
  readonly cpuSeconds: readonly number[];
  readonly phaseSeconds: number;
  readonly clientCpuSeconds: number;
  readonly clientLagMaxMs: number;
  /** Per member, from its /metrics over the write phase. */
  readonly activity: readonly MemberActivity[];
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "1000" },
      writes: { type: "string", default: "200" },
      rate: { type: "string", default: "20" },
      only: { type: "string" },
      "client-processes": { type: "string", default: "2" },
      "watchers-per-etcd-client": { type: "string", default: "50" },
      tmpdir: { type: "string" },
    },
  });
  const positive = (name: string, raw: string | undefined) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${raw}`);
    return n;
  };
  if (values.only !== undefined && values.only !== "nagent" && values.only !== "etcd") {
    throw new UsageError(`--only must be nagent or etcd, got ${values.only}`);
  }
  const rate = Number(values.rate);
  if (!(rate > 0)) throw new UsageError(`--rate must be a positive number, got ${values.rate}`);
  return {
    clients: positive("clients", values.clients),
    writes: positive("writes", values.writes),
    rate,
    only: values.only,
    clientProcesses: positive("client-processes", values["client-processes"]),
    watchersPerEtcdClient: positive("watchers-per-etcd-client", values["watchers-per-etcd-client"]),
    tmpdir: values.tmpdir,
  };
}

function checkOpenFiles(options: Options): void {
  const limit = openFilesLimit();
  const needed = Math.ceil(options.clients / Math.min(options.clientProcesses, 3)) + FD_HEADROOM;
  if (limit < needed) {
    throw new UsageError(
      `the open-files limit is ${limit}, and ${options.clients} watchers need about ${needed} per process: ` +
        `raise the hard limit (ulimit -Hn ${needed * 2}) or use more --client-processes`,
    );
  }
}

/** A JSON object of exactly VALUE_BYTES bytes, different for every write. */
function valueFor(write: number): string {
  const bare = JSON.stringify({ write, pad: "" });
  return JSON.stringify({ write, pad: "x".repeat(Math.max(0, VALUE_BYTES - bare.length)) });
}

/** Asks the fleet to open every watcher and waits until each one's stream is ready. */
async function openWatchers(system: WatchedSystem, fleet: ClientFleet, options: Options): Promise<number> {
  const started = performance.now();
  const opened = fleet.open(
    {
      kind: system.kind,
      endpoints: system.members.map((m) => m.url),
      token: system.token,
      prefix: WATCH_PREFIX,
      watchersPerEtcdClient: options.watchersPerEtcdClient,
    },
    options.clients,
  );
  let lastPrinted = 0;
  for (;;) {
    const done = await Promise.race([opened.then(() => true), Bun.sleep(500).then(() => false)]);
    const progress = await fleet.progress();
    if (done || progress.ready === options.clients) {
      if (progress.ready < options.clients) {
        throw new Error(`only ${progress.ready} of ${options.clients} watchers opened (${progress.problems} problems reported)`);
      }
      return (performance.now() - started) / 1000;
    }
    if (performance.now() - started > OPEN_TIMEOUT_MS) throw new Error(`only ${progress.ready} of ${options.clients} watchers open after ${OPEN_TIMEOUT_MS} ms`);
    if (performance.now() - lastPrinted > 5_000) {
      console.log(`  ${progress.ready}/${options.clients} watchers open...`);
      lastPrinted = performance.now();
    }
  }
}

/** `writes` writes at `rate` per second, open loop: each starts on schedule, whatever the others do. */
async function writeSteadily(system: WatchedSystem, leader: number, options: Options): Promise<{ acked: AckedWrite[]; errors: string[]; rate: number }> {
  const acked: AckedWrite[] = [];
  const errors: string[] = [];
  const interval = 1000 / options.rate;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  let lastSentAt = 0;
  for (let i = 0; i < options.writes; i++) {
    const wait = started + i * interval - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const sentAt = clock();
    lastSentAt = performance.now();
    inFlight.push(
      system.put(leader, `${WRITE_PREFIX}k${i}`, valueFor(i)).then(
        (revision) => void acked.push({ revision, sentAt, ackedAt: clock() }),
        (error: unknown) => void errors.push(`write ${i}: ${(error as Error).message}`),
      ),
    );
  }
  await Promise.all(inFlight);
  // The rate the writes were sent at: W writes span W - 1 intervals.
  return { acked, errors, rate: (options.writes - 1) / ((lastSentAt - started) / 1000) };
}

/** Waits until every watcher has every acknowledged write, or deliveries stop coming. */
async function waitForDeliveries(fleet: ClientFleet, expected: number): Promise<void> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const { delivered } = await fleet.progress();
    if (delivered >= expected) return;
    if (delivered !== last) {
      last = delivered;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > DRAIN_QUIET_MS) {
      console.error(`  !!! deliveries stopped at ${delivered} of ${expected}`);
      return;
    }
    await Bun.sleep(50);
  }
}

function describeClients(system: WatchedSystem, options: Options, etcdClients: number): string {
  const perMember = system.members.map((_, m) => Array.from({ length: options.clients }, (_, g) => g).filter((g) => g % system.members.length === m).length);
  const shares = ClientFleet.shares(options.clients, options.clientProcesses).join("+");
  const where = `${options.clientProcesses} Bun child process(es) (${shares} watchers)`;
  const spread = `members ${system.members.map((m) => m.name).join("/")} get ${perMember.join("/")}`;
  if (system.kind === "nagent") return `${options.clients} SSE streams (fetch + SseReader) in ${where}; ${spread}`;
  return `${options.clients} etcd3 watchers in ${where} over ${etcdClients} Etcd3 instances (<= ${options.watchersPerEtcdClient} watchers each, one gRPC connection each); ${spread}`;
}

async function measure(system: WatchedSystem, options: Options): Promise<SystemResult> {
  const pids = system.members.map((m) => m.pid);
  const { leader, term: termBefore } = await system.leadership();
  // Warm up the writer's connection and both sides' JIT, outside the watched prefix.
  for (let i = 0; i < 20; i++) await system.put(leader, `warmup/k${i % 5}`, valueFor(i));
  const rssBefore = pids.map(rssMiB);

  const fleet = new ClientFleet(options.clientProcesses);
  try {
    const clockCheck = await fleet.clockDisagreementMs();
    const openSeconds = await openWatchers(system, fleet, options);
    console.log(
      `  ${options.clients} watchers open in ${fmt(openSeconds)} s; clocks of the client processes agree within ` +
        `${fmt(clockCheck.disagreementMs)} ms (IPC round trip <= ${fmt(clockCheck.roundTripMs)} ms)`,
    );
    await Bun.sleep(IDLE_HOLD_MS);
    const rssIdle = pids.map(rssMiB);

    const metricsBefore = await Promise.all(system.members.map((m) => scrape(m.url)));
    const cpuStart = pids.map(cpuSeconds);
    const clientCpuStart = fleet.pids.map(cpuSeconds);
    await fleet.eventLoopLagMaxMs();
    const phaseStart = performance.now();
    const rss = sampleRssPeaks(pids, RSS_SAMPLE_MS);
    console.log(`  writing ${options.writes} values at ${options.rate}/s through the leader ${system.members[leader]!.name}... (${describeLoad()})`);
    const writes = await writeSteadily(system, leader, options);
    await waitForDeliveries(fleet, writes.acked.length * options.clients);
    const rssWrites = rss.stop();
    console.log(`  write phase over (${describeLoad()})`);
    const phaseSeconds = (performance.now() - phaseStart) / 1000;
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuStart[i]!);
    const clientCpu = fleet.pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - clientCpuStart[i]!, 0);
    const clientLagMaxMs = await fleet.eventLoopLagMaxMs();
    const metricsAfter = await Promise.all(system.members.map((m) => scrape(m.url)));

    const after = await system.leadership();
    if (after.term !== termBefore) {
      console.error(`  !!! leadership changed during the run: term ${termBefore} -> ${after.term}, leader now ${system.members[after.leader]!.name}`);
    }
    const report = await fleet.report();
    await Bun.sleep(SETTLE_MS);
    const rssAfter = pids.map(rssMiB);
    return {
      label: system.label,
      kind: system.kind,
      clients: options.clients,
      leader: system.members[leader]!.name,
      termBefore,
      termAfter: after.term,
      howClients: describeClients(system, options, report.etcdClients),
      deliveries: analyseDeliveries(writes.acked, report.clients),
      putLatencies: writes.acked.map((w) => w.ackedAt - w.sentAt).sort((a, b) => a - b),
      writeErrors: writes.errors,
      achievedRate: writes.rate,
      problems: report.problems,
      rssBefore,
      rssIdle,
      rssWrites,
      rssAfter,
      cpuSeconds: cpu,
      phaseSeconds,
      clientCpuSeconds: clientCpu,
      clientLagMaxMs,
      activity: metricsAfter.map((after, i) => activity(metricsBefore[i]!, after, system.metricNames)),
    };
  } finally {
    await fleet.stop();
  }
}

/** Other work on the machine skews every figure; the load average makes it visible. */
function describeLoad(): string {
  return `load average ${loadavg().map((n) => n.toFixed(2)).join(" ")} on ${navigator.hardwareConcurrency} cores`;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

function printDetails(result: SystemResult, memberNames: readonly string[]): void {
  const d = result.deliveries;
  console.log(`  clients: ${result.howClients}`);
  console.log(
    `  deliveries ${d.received} of ${d.expected}: missing ${d.missing}, duplicate ${d.duplicates}, unexpected ${d.unexpected}; ` +
      `${d.writesReachingAll}/${result.putLatencies.length + result.writeErrors.length} writes reached every watcher; ` +
      `write rate achieved ${fmt(result.achievedRate)}/s; raft term ${result.termBefore} -> ${result.termAfter}`,
  );
  console.log(
    `  ack -> arrival ms: p50 ${fmt(percentile(d.latencies, 50))}  p99 ${fmt(percentile(d.latencies, 99))}  max ${fmt(d.latencies.at(-1) ?? NaN)}; ` +
      `ack -> last watcher ms: p50 ${fmt(percentile(d.toLastClient, 50))}  p99 ${fmt(percentile(d.toLastClient, 99))}  max ${fmt(d.toLastClient.at(-1) ?? NaN)}; ` +
      `PUT latency ms: p50 ${fmt(percentile(result.putLatencies, 50))}  p99 ${fmt(percentile(result.putLatencies, 99))}`,
  );
  console.log(`  slowest writes (ms after the first write sent: PUT latency, ack -> last watcher): ${slowestWrites(d, 5)}`);
  for (const [i, name] of memberNames.entries()) {
    const cpu = result.cpuSeconds[i]!;
    console.log(
      `  ${name}${name === result.leader ? " (leader)" : ""}: RSS MiB before ${fmt(result.rssBefore[i]!)}, idle with streams ${fmt(result.rssIdle[i]!)}, ` +
        `peak during writes ${fmt(result.rssWrites[i]!)}, ${SETTLE_MS / 1000} s after ${fmt(result.rssAfter[i]!)}; CPU ${fmt(cpu)} s in ${fmt(result.phaseSeconds)} s (${fmt((100 * cpu) / result.phaseSeconds)}% of a core)`,
    );
    console.log(`    ${describeActivity(result.activity[i]!)}`);
  }
  console.log(
    `  client processes: CPU ${fmt(result.clientCpuSeconds)} s (${fmt((100 * result.clientCpuSeconds) / result.phaseSeconds)}% of a core) ` +
      `during the write phase, event-loop lag max ${fmt(result.clientLagMaxMs)} ms`,
  );
  const wrong = d.missing + d.duplicates + d.unexpected + result.problems.length + result.writeErrors.length;
  if (wrong > 0) {
    console.error(`\n  !!!!!!!! ${result.label}: ${d.missing} missing, ${d.duplicates} duplicate, ${d.unexpected} unexpected deliveries, ` +
      `${result.problems.length} stream problems, ${result.writeErrors.length} failed writes !!!!!!!!`);
    for (const line of [...result.writeErrors, ...result.problems].slice(0, 20)) console.error(`  !!! ${line}`);
  }
}

function describeActivity(a: MemberActivity): string {
  const lag = a.eventLoopLagMaxMs === undefined ? "" : `event-loop lag max ${fmt(a.eventLoopLagMaxMs)} ms; `;
  return (
    `/metrics over the write phase: ${lag}log fsyncs ${a.syncs}, ${a.slowSyncs} slower than ${a.slowBound} s, slowest <= ${a.slowestSyncAtMost} s; ` +
    `leader changes ${a.leaderChanges}; slow watchers ${a.slowWatchers}`
  );
}

function slowestWrites(d: Deliveries, count: number): string {
  const first = d.writes[0]?.sentAt ?? 0;
  const total = (w: WriteFate) => w.lastArrival - w.sentAt;
  return [...d.writes]
    .sort((a, b) => total(b) - total(a))
    .slice(0, count)
    .map((w) => `@${fmt(w.sentAt - first)}: ${fmt(w.ackedAt - w.sentAt)}, ${fmt(w.lastArrival - w.ackedAt)}`)
    .join("; ");
}

async function run(start: () => Promise<WatchedSystem>, options: Options): Promise<SystemResult> {
  const system = await start();
  try {
    console.log(`\n${system.label}: ${system.members.map((m) => `${m.name} pid ${m.pid}`).join(", ")}`);
    const result = await measure(system, options);
    printDetails(result, system.members.map((m) => m.name));
    return result;
  } finally {
    await system.stop();
  }
}

/** From sending the write to its arrival at the last watcher: the push as a writer sees it. */
function sentToLast(r: SystemResult): number[] {
  return r.deliveries.writes.filter((w) => w.reached === r.clients).map((w) => w.lastArrival - w.sentAt).sort((a, b) => a - b);
}

interface Figure {
  readonly label: string;
  readonly value: (r: SystemResult) => number;
}

const FIGURES: readonly Figure[] = [
  { label: "ack -> arrival p50 (all deliveries), ms", value: (r) => percentile(r.deliveries.latencies, 50) },
  { label: "ack -> arrival p99 (all deliveries), ms", value: (r) => percentile(r.deliveries.latencies, 99) },
  { label: "ack -> arrival max (all deliveries), ms", value: (r) => r.deliveries.latencies.at(-1) ?? NaN },
  { label: "ack -> last watcher p50 (per write), ms", value: (r) => percentile(r.deliveries.toLastClient, 50) },
  { label: "ack -> last watcher p99 (per write), ms", value: (r) => percentile(r.deliveries.toLastClient, 99) },
  { label: "write sent -> last watcher p50, ms", value: (r) => percentile(sentToLast(r), 50) },
  { label: "write sent -> last watcher p99, ms", value: (r) => percentile(sentToLast(r), 99) },
  { label: "PUT latency p50, ms", value: (r) => percentile(r.putLatencies, 50) },
  { label: "PUT latency p99, ms", value: (r) => percentile(r.putLatencies, 99) },
  { label: "missing deliveries", value: (r) => r.deliveries.missing },
  { label: "duplicate deliveries", value: (r) => r.deliveries.duplicates },
  { label: "stream problems + failed writes", value: (r) => r.problems.length + r.writeErrors.length },
  { label: "elections during the run (term change)", value: (r) => r.termAfter - r.termBefore },
  { label: "event-loop lag max during writes, ms (worst member)", value: (r) => Math.max(...r.activity.map((a) => a.eventLoopLagMaxMs ?? NaN)) },
  { label: "log fsyncs slower than ~0.1 s (3 members)", value: (r) => sum(r.activity.map((a) => a.slowSyncs)) },
  { label: "RSS before clients, MiB (3 members)", value: (r) => sum(r.rssBefore) },
  { label: "RSS streams idle, MiB (3 members)", value: (r) => sum(r.rssIdle) },
  { label: "RSS peak during writes, MiB (3 members)", value: (r) => sum(r.rssWrites) },
  { label: `RSS ${SETTLE_MS / 1000} s after the writes, MiB (3 members)`, value: (r) => sum(r.rssAfter) },
  { label: "RSS per stream idle, KiB", value: (r) => ((sum(r.rssIdle) - sum(r.rssBefore)) * 1024) / r.clients },
  { label: "CPU during writes, s (3 members)", value: (r) => sum(r.cpuSeconds) },
  { label: "CPU during writes, % of a core (3 members)", value: (r) => (100 * sum(r.cpuSeconds)) / r.phaseSeconds },
  { label: "CPU during writes, % of a core (busiest)", value: (r) => (100 * Math.max(...r.cpuSeconds)) / r.phaseSeconds },
  { label: "client processes CPU, % of a core", value: (r) => (100 * r.clientCpuSeconds) / r.phaseSeconds },
  { label: "client processes event-loop lag max, ms", value: (r) => r.clientLagMaxMs },
];

function printTable(results: ReadonlyMap<WatchedKind, SystemResult>, options: Options): void {
  const nagent = results.get("nagent");
  const etcd = results.get("etcd");
  const rows = FIGURES.map((f) => {
    const n = nagent ? f.value(nagent) : undefined;
    const e = etcd ? f.value(etcd) : undefined;
    return [f.label, n === undefined ? "-" : fmt(n), e === undefined ? "-" : fmt(e), ratio(n, e)];
  });
  console.log(`\n${options.clients} watchers, ${options.writes} writes at ${options.rate}/s through the leader, ${VALUE_BYTES}-byte values, same machine, same run`);
  console.log(table(["figure", "nagent", "etcd", "nagent/etcd"], rows));
  console.log("(arrival - ack can be below 0: a watcher on the leader may get the event before the writer has read the PUT's answer)");
  if (nagent) {
    const p99 = percentile(nagent.deliveries.toLastClient, 99);
    const complete = nagent.deliveries.writesReachingAll === nagent.putLatencies.length + nagent.writeErrors.length;
    const met = complete && p99 < TARGET_P99_TO_ALL_MS;
    console.log(
      `\ntarget (nagent): p99 from acknowledgement to arrival at all ${options.clients} watchers < ${TARGET_P99_TO_ALL_MS} ms: ` +
        `${met ? "MET" : "NOT MET"} (${fmt(p99)} ms${complete ? "" : "; some writes failed or did not reach every watcher"})`,
    );
  }
}

function hasWrongDeliveries(result: SystemResult): boolean {
  const d = result.deliveries;
  return d.missing + d.duplicates + d.unexpected + result.problems.length + result.writeErrors.length > 0;
}

async function main(): Promise<number> {
  const options = parseOptions();
  checkOpenFiles(options);
  if (options.only !== "nagent") requireExecutable("etcd", "etcd-server");
  // Both clusters create their data directories with os.tmpdir(), which follows TMPDIR.
  if (options.tmpdir !== undefined) process.env.TMPDIR = options.tmpdir;
  console.log(`data directories under ${tmpdir()} (both systems fsync every write there); ${describeLoad()}`);
  const systems: [WatchedKind, () => Promise<WatchedSystem>][] = [
    ["nagent", startNagent],
    ["etcd", startEtcd],
  ];
  const results = new Map<WatchedKind, SystemResult>();
  for (const [kind, start] of systems) {
    if (options.only && options.only !== kind) continue;
    results.set(kind, await run(start, options));
  }
  printTable(results, options);
  return [...results.values()].some(hasWrongDeliveries) ? 1 : 0;
}

try {
  process.exit(await main());
} catch (error) {
  if (!(error instanceof UsageError || error instanceof MissingExecutableError)) throw error;
  console.error(`scripts/bench/watch.ts: ${error.message}`);
  process.exit(2);
}
