// Benchmark: the sidecar's request path against nginx and HAProxy, all started here on loopback in
// the same run, in front of the same upstream (nginx answering a fixed small JSON body itself).
//   A  closed loop (wrk -t1 -cN --latency): requests/s and p50/p99 for the upstream directly,
//      nginx (1 worker, upstream keepalive), HAProxy (1 thread, http-reuse), a bare Bun.serve +
//      fetch proxy (the runtime's floor), the http1 floor (the sidecar's own HTTP/1.1 server and
//      client, internal/http1, with nothing between: the transport's floor), one sidecar's inbound
//      port with the full pipeline (JWT auth from the cache, an authz policy, metrics, tracing at
//      1% to an OTLP sink), two nginx hops (nginx → nginx → upstream, the shape of the two-sidecar
//      path done by a C proxy) and the two-sidecar path (app → A's outbound, with a retry +
//      breaker policy → B's inbound → upstream)
//   B  open loop at a fixed rate (proxy-open-loop.ts, latency from the scheduled send time):
//      direct, nginx, the bare Bun proxy, the http1 floor, one sidecar, two nginx hops and the
//      two-sidecar path, and the latency each adds over direct
//   C  each sidecar's resident memory idle (VmRSS, and its anonymous and file-backed parts) and
//      under the open-loop load, and CPU per 1,000 req/s
//   D  the targets, and whether each is met; beside the two-sidecar latency target, what two nginx
//      hops add in the same run, as the reference for what this machine allows
// Not a test: run it by hand. Needs nginx (nginx-light), haproxy and wrk; exits 2 without them.
//
//   bun scripts/bench/proxy.ts [--seconds 10] [--connections 32] [--rate 1000] [--warmup 2]
//                              [--pin none|split] [--rounds 1] [--pairs 8] [--pair-seconds 3]
//                              [--only direct,nginx,haproxy,bun,http1,sidecar,two-nginx,two-sidecar]
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { livePidsInGroup, type ServiceProcess } from "../../internal/testing/index.ts";
import { VERSION } from "../../internal/version/index.ts";
import { readFileSync } from "node:fs";
import { cpuSeconds, rssMiB } from "./watch-proc.ts";
import { runWrk, startOpenLoop, type LoadTarget, type OpenLoopResult, type WrkResult } from "./proxy-load.ts";
import { BENCH_DOMAIN, TRACE_SAMPLE_RATIO, startBenchMesh, type BenchMesh, type BenchSidecar } from "./proxy-mesh.ts";
import {
  PEER_EXECUTABLES,
  UPSTREAM_BODY,
  startBareBunProxy,
  startHaproxy,
  startHttp1Floor,
  startNginxProxy,
  startTwoNginxHops,
  startUpstream,
  type Peer,
} from "./proxy-peers.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    rate: { type: "string", default: "1000" },
    warmup: { type: "string", default: "2" },
    pin: { type: "string", default: "none" },
    only: { type: "string" },
    rounds: { type: "string", default: "1" },
    pairs: { type: "string", default: "8" },
    "pair-seconds": { type: "string", default: "3" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rate = Number(values.rate);
const warmup = Number(values.warmup);
const pin = values.pin === "split" ? "split" : "none";
const roundCount = Math.max(1, Math.floor(Number(values.rounds)));
const pairCount = Math.max(0, Math.floor(Number(values.pairs)));
const pairSeconds = Math.max(1, Number(values["pair-seconds"]));

// Two nginx hops run just before the two-sidecar path (in both loops), so the reference and the
// path it is the reference for are measured as close together in time as the run allows.
const CASES = ["direct", "nginx", "haproxy", "bun", "http1", "sidecar", "two-nginx", "two-sidecar"] as const;
type Case = (typeof CASES)[number];
const LABELS: Record<Case, string> = {
  direct: "upstream directly",
  nginx: "nginx (1 worker)",
  haproxy: "HAProxy (1 thread)",
  bun: "bare Bun proxy",
  http1: "http1 floor (sidecar transport, no pipeline)",
  sidecar: "one sidecar, inbound, full pipeline",
  "two-nginx": "two nginx hops (1 worker each)",
  "two-sidecar": "two sidecars (A outbound → B inbound)",
};
/** The progress lines' label column. */
const LABEL_WIDTH = Math.max(...Object.values(LABELS).map((label) => label.length));
const only = new Set<string>(values.only ? values.only.split(",").map((s) => s.trim()) : CASES);
for (const name of only) {
  if (!(CASES as readonly string[]).includes(name)) {
    console.error(`proxy bench: --only takes ${CASES.join(",")}; got ${name}`);
    process.exit(2);
  }
}
const wanted = (name: Case) => only.has(name);
const OPEN_LOOP_CASES = ["direct", "nginx", "bun", "http1", "sidecar", "two-nginx", "two-sidecar"] as const;

const IDLE_CPU_WINDOW_MS = 3_000;
/** The targets of the issue this benchmark checks. */
const TARGETS = { ratioToNginx: 0.8, addedP99Ms: 0.5, idleMB: 40, vcpuPer1k: 0.1 } as const;
/** VmRSS is in KiB; the target is in MB (10^6 bytes), the stricter reading. */
const MIB_PER_MB = 1e6 / 1048576;
/** Figures measured on this machine earlier (closed loop, requests/s), for the reader. */
const EARLIER = [
  ["nginx", "~78,000"],
  ["HAProxy", "~81,000"],
  ["bare Bun proxy", "~48,000"],
  ["Hono on Bun", "~45,000"],
  ["node:http proxy", "~13,000"],
] as const;

// --- executables -----------------------------------------------------------------------------
const executables: Record<string, string> = {};
const required = [...PEER_EXECUTABLES, ...(pin === "split" ? [{ executable: "taskset", debianPackage: "util-linux" }] : [])];
const missing = required.filter(({ executable }) => {
  const path = Bun.which(executable) ?? Bun.which(executable, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
  if (path) executables[executable] = path;
  return path === null;
});
if (missing.length > 0) {
  for (const { executable, debianPackage } of missing) {
    console.error(`proxy bench: ${executable} is not on PATH, and this benchmark runs a real ${executable}. Install it: apt-get install ${debianPackage}`);
  }
  process.exit(2);
}

/** How processes are placed on the CPUs: the proxy under test on CPU 1, the rest on CPU 0, or not at all. */
const onProxyCpu = (argv: string[]) => (pin === "split" ? [executables.taskset!, "-c", "1", ...argv] : argv);
const onLoadCpu = (argv: string[]) => (pin === "split" ? [executables.taskset!, "-c", "0", ...argv] : argv);

// --- helpers ---------------------------------------------------------------------------------
function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
const fmtRate = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const signed = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? "+" : ""}${n.toFixed(3)}` : "-");

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** CPU seconds of every live process in a service's group (nginx's master and worker, say). */
function groupCpuSeconds(service: ServiceProcess): number {
  return livePidsInGroup(service.pid).reduce((sum, pid) => sum + (cpuSeconds(pid) || 0), 0);
}

/** utime and stime of a process (every thread), in seconds; CLK_TCK is 100 on Linux. */
function cpuTimes(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/**
 * The parts of a process's resident memory from /proc/PID/status, in MiB: VmRSS = RssAnon (heap,
 * stacks, the JS heap: what the process allocated) + RssFile (file-backed pages mapped in: for a
 * Bun process, the runtime binary's own pages, shared with every other process running it) +
 * RssShmem. NaN for each when the process is gone.
 */
function rssParts(pid: number): { vmRss: number; anon: number; file: number } {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {}
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  };
  return { vmRss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}

/** Jiffies of every CPU from /proc/stat: all of them, and those stolen by the hypervisor. */
function cpuJiffies(): { total: number; steal: number } {
  const fields = (/^cpu\s+(.*)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1] ?? "").trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is inside user.
  return { total: fields.slice(0, 8).reduce((sum, n) => sum + n, 0), steal: fields[7] ?? 0 };
}

/** The share of CPU time the hypervisor took for other guests since `from`: a noisy host shows here. */
function stealSince(from: { total: number; steal: number }): number {
  const now = cpuJiffies();
  return now.total > from.total ? (now.steal - from.steal) / (now.total - from.total) : Number.NaN;
}

async function checkAnswer(name: string, target: LoadTarget): Promise<string | undefined> {
  const headers = new Headers();
  for (const line of target.headers) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const response = await fetch(target.url, { headers, signal: AbortSignal.timeout(5_000) });
  const body = await response.text();
  if (response.status === 200 && body === UPSTREAM_BODY) return undefined;
  return `${name}: expected 200 ${UPSTREAM_BODY}, got ${response.status} ${body.slice(0, 500)}`;
}

/** Warning and error lines (pino levels 40+) of a service's captured output. */
function complaints(service: ServiceProcess): string[] {
  return service
    .output()
    .split("\n")
    .filter((line) => /"level":\s*(4|5|6)\d/.test(line));
}

// --- the run ---------------------------------------------------------------------------------
const stops: (() => Promise<void>)[] = [];
const problems: string[] = [];
type ClosedResult = WrkResult & { cpuPer1k: number; cpuNote: string; steal: number };
const closed = new Map<Case, ClosedResult & { rounds: number[] }>();
/** Adjacent nginx / one-sidecar runs (section A2). */
const pairs: { nginx: number; sidecar: number }[] = [];
const open = new Map<Case, OpenLoopResult & { steal: number; cpuPer1k: number }>();
const cpuNote = (name: Case) => (name === "direct" ? "upstream" : name === "two-sidecar" || name === "two-nginx" ? "A+B" : "proxy");
interface SidecarUse {
  /** VmRSS idle: what the memory target is judged on. */
  idleMiB: number;
  /** RssAnon idle: the sidecar's own allocations, without the binary's mapped pages. */
  idleAnonMiB: number;
  /** RssFile idle: file-backed pages (the bun binary, shared libraries). */
  idleFileMiB: number;
  /** vCPU used with no load at all (heartbeats, sync, metrics, timers). */
  idleVcpu: number;
  userSeconds: number;
  systemSeconds: number;
  loadPeakMiB: number;
  loadEndMiB: number;
  afterClosedLoopMiB: number;
  cpuSeconds: number;
  vcpuPer1k: number;
}
const sidecarUse = new Map<string, SidecarUse>();
let mesh: BenchMesh | undefined;
let exitCode = 0;

const cpuModel = cpus()[0]?.model ?? "unknown CPU";
console.log(`proxy bench, nagent ${VERSION}, bun ${Bun.version}, ${cpus().length} cores (${cpuModel}), load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log(
  pin === "split"
    ? "placement: every proxy under test (nginx, both nginx hops, HAProxy, bare Bun, the http1 floor, both sidecars) pinned to CPU 1 with taskset; wrk, the open-loop generator and the upstream pinned to CPU 0"
    : "placement: nothing pinned; the load generator, the proxy under test and the upstream share both cores as the scheduler sees fit",
);
console.log("steal: the share of all CPU time the hypervisor gave to other guests during each measurement (from /proc/stat); more than a few % means a noisy host and figures to distrust");
console.log(`closed loop: wrk -t1 -c${connections} -d${seconds}s --latency, after a ${warmup}s wrk warm-up per case${roundCount > 1 ? `, ${roundCount} rounds` : ""}; open loop: ${rate} req/s over ${connections} keep-alive connections for ${seconds}s after a ${warmup}s warm-up`);
console.log(`upstream: nginx (1 worker) answering \`return 200 '${UPSTREAM_BODY}'\` itself, the same for every path; GET /v1/echo`);
console.log("");

try {
  const upstream = await startUpstream(executables.nginx!, onLoadCpu);
  stops.push(() => upstream.process.stop());
  const peers = new Map<Case, Peer>();
  peers.set("direct", upstream);
  if (wanted("nginx")) peers.set("nginx", await startNginxProxy(executables.nginx!, upstream.url, onProxyCpu));
  if (wanted("haproxy")) peers.set("haproxy", await startHaproxy(executables.haproxy!, upstream.url, onProxyCpu));
  if (wanted("bun")) peers.set("bun", await startBareBunProxy(upstream.url, onProxyCpu));
  if (wanted("http1")) peers.set("http1", await startHttp1Floor(upstream.url, onProxyCpu));
  for (const [name, peer] of peers) if (name !== "direct") stops.push(() => peer.process.stop());
  // Both hops on the proxy's side of the placement, like both sidecars.
  const nginxHops = wanted("two-nginx") ? await startTwoNginxHops(executables.nginx!, upstream.url, onProxyCpu) : undefined;
  if (nginxHops) {
    peers.set("two-nginx", nginxHops.first);
    stops.push(() => nginxHops.first.process.stop(), () => nginxHops.second.process.stop());
  }

  if (wanted("sidecar") || wanted("two-sidecar")) {
    mesh = await startBenchMesh({ upstream: upstream.url, command: onProxyCpu });
    const started = mesh;
    stops.push(() => started.stop());
  }

  const targets = new Map<Case, LoadTarget>();
  for (const [name, peer] of peers) targets.set(name, { url: `${peer.url}/v1/echo`, headers: [] });
  if (mesh) {
    const auth = `authorization: Bearer ${mesh.callerToken}`;
    // What sidecar A sends to B: the domain, the calling node, the caller's credential.
    if (wanted("sidecar")) targets.set("sidecar", { url: `${mesh.b.inbound}/v1/echo`, headers: [`x-nagent-domain: ${BENCH_DOMAIN}`, `x-nagent-from: ${mesh.a.id}`, auth] });
    if (wanted("two-sidecar")) targets.set("two-sidecar", { url: `${mesh.a.outbound}/v1/invoke/${BENCH_DOMAIN}/v1/echo`, headers: [auth] });
  }
  /** Whose CPU serves a case's requests: the proxy (both hops on the two-hop paths), or the upstream when direct. */
  const charged = (name: Case): ServiceProcess[] =>
    name === "direct"
      ? [upstream.process]
      : name === "sidecar"
        ? [mesh!.b.process]
        : name === "two-sidecar"
          ? [mesh!.a.process, mesh!.b.process]
          : name === "two-nginx"
            ? [nginxHops!.first.process, nginxHops!.second.process]
            : [peers.get(name)!.process];
  for (const [name, target] of targets) {
    const problem = await checkAnswer(name, target);
    if (problem) problems.push(problem);
  }

  // C: idle memory, after start and a moment to settle, before any load (the checks above aside).
  const sidecars: BenchSidecar[] = mesh ? [mesh.a, mesh.b] : [];
  if (sidecars.length > 0) {
    await Bun.sleep(2_000);
    const before = sidecars.map((s) => cpuSeconds(s.pid));
    await Bun.sleep(IDLE_CPU_WINDOW_MS);
    sidecars.forEach((s, i) => {
      const rss = rssParts(s.pid);
      sidecarUse.set(s.id, {
        idleMiB: rss.vmRss,
        idleAnonMiB: rss.anon,
        idleFileMiB: rss.file,
        idleVcpu: (cpuSeconds(s.pid) - before[i]!) / (IDLE_CPU_WINDOW_MS / 1000),
        userSeconds: Number.NaN,
        systemSeconds: Number.NaN,
        loadPeakMiB: Number.NaN,
        loadEndMiB: Number.NaN,
        afterClosedLoopMiB: Number.NaN,
        cpuSeconds: Number.NaN,
        vcpuPer1k: Number.NaN,
      });
    });
  }

  // B: open loop: direct, nginx and the bare Bun proxy (what a C proxy and the runtime itself add),
  // the http1 floor (what the sidecar's transport adds without its pipeline), one sidecar (to tell
  // B's share from A's), two nginx hops (the reference for the two-sidecar path), then the
  // two-sidecar path, during which the sidecars' CPU and memory are taken.
  for (const name of OPEN_LOOP_CASES) {
    const target = targets.get(name);
    if (!target) continue;
    const run = startOpenLoop(target, { rate, seconds, warmupSeconds: warmup, connections, command: onLoadCpu });
    const measuring = name === "two-sidecar" ? sidecars : [];
    await Bun.sleep(Math.max(0, run.measureFrom - Date.now()));
    const cpuBefore = measuring.map((s) => cpuTimes(s.pid));
    const servers = charged(name);
    const serversBefore = servers.reduce((sum, s) => sum + groupCpuSeconds(s), 0);
    const jiffies = cpuJiffies();
    const peaks = measuring.map((s) => rssMiB(s.pid));
    while (Date.now() < run.measureUntil) {
      await Bun.sleep(Math.min(250, Math.max(1, run.measureUntil - Date.now())));
      measuring.forEach((s, i) => (peaks[i] = Math.max(peaks[i]!, rssMiB(s.pid))));
    }
    const cpuAfter = measuring.map((s) => cpuTimes(s.pid));
    const serversUsed = servers.reduce((sum, s) => sum + groupCpuSeconds(s), 0) - serversBefore;
    const steal = stealSince(jiffies);
    const result = await run.result;
    open.set(name, { ...result, steal, cpuPer1k: serversUsed / seconds / (result.achievedRate / 1000) });
    measuring.forEach((s, i) => {
      const use = sidecarUse.get(s.id)!;
      use.loadPeakMiB = peaks[i]!;
      use.loadEndMiB = rssMiB(s.pid);
      use.userSeconds = cpuAfter[i]!.user - cpuBefore[i]!.user;
      use.systemSeconds = cpuAfter[i]!.system - cpuBefore[i]!.system;
      use.cpuSeconds = use.userSeconds + use.systemSeconds;
      use.vcpuPer1k = use.cpuSeconds / seconds / (result.achievedRate / 1000);
    });
    if (result.generatorLateOver1ms > result.scheduled / 100) {
      problems.push(`open loop ${name}: the generator itself was over 1 ms late for ${result.generatorLateOver1ms} requests (worst ${fmt(result.maxGeneratorLagMs, 1)} ms); its from-schedule figures overstate the server's latency, the corrected ones do not`);
    }
    const bad = Object.entries(result.statuses).filter(([status]) => status !== "200");
    if (bad.length > 0 || result.errors > 0 || result.unanswered > 0) {
      problems.push(`open loop ${name}: statuses ${JSON.stringify(result.statuses)}, ${result.errors} connection errors, ${result.unanswered} unanswered`);
    }
    console.log(
      `open loop  ${LABELS[name].padEnd(LABEL_WIDTH)} ${fmt(result.achievedRate, 0)} req/s  p50 ${fmt(result.fromSchedule.p50, 3)} ms  p99 ${fmt(result.fromSchedule.p99, 3)} ms  p99.9 ${fmt(result.fromSchedule.p999, 3)} ms  late>1ms ${result.lateOver1ms}`,
    );
  }

  // A: closed loop, every case for the same duration after the same warm-up; with --rounds N the
  // cases take turns N times (so a drifting host hurts them alike) and the median round is kept.
  const wrkOptions = { wrk: executables.wrk!, connections, command: onLoadCpu };
  const rounds = new Map<Case, ClosedResult[]>();
  for (let round = 1; round <= roundCount; round++) {
    for (const name of CASES) {
      const target = targets.get(name);
      if (!target) continue;
      await runWrk(target, { ...wrkOptions, seconds: warmup });
      const servers = charged(name);
      const before = servers.reduce((sum, s) => sum + groupCpuSeconds(s), 0);
      const jiffies = cpuJiffies();
      const result = await runWrk(target, { ...wrkOptions, seconds });
      const steal = stealSince(jiffies);
      const used = servers.reduce((sum, s) => sum + groupCpuSeconds(s), 0) - before;
      const cpuPer1k = used / seconds / (result.requestsPerSecond / 1000);
      rounds.set(name, [...(rounds.get(name) ?? []), { ...result, cpuPer1k, steal, cpuNote: cpuNote(name) }]);
      if (result.non2xx > 0 || result.socketErrors > 0) problems.push(`closed loop ${name}: ${result.non2xx} non-2xx answers, ${result.socketErrors} socket errors`);
      if (name === "sidecar" || name === "two-sidecar") {
        for (const s of sidecars) sidecarUse.get(s.id)!.afterClosedLoopMiB = rssMiB(s.pid);
      }
      console.log(`closed loop${roundCount > 1 ? ` round ${round}` : ""} ${LABELS[name].padEnd(LABEL_WIDTH)} ${fmtRate(result.requestsPerSecond)} req/s  p50 ${fmt(result.p50, 3)} ms  p99 ${fmt(result.p99, 3)} ms`);
    }
  }
  for (const [name, results] of rounds) {
    const sorted = [...results].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
    closed.set(name, { ...sorted[Math.floor(sorted.length / 2)]!, rounds: results.map((r) => r.requestsPerSecond) });
  }

  // A2: the ratio target from adjacent pairs. This host's capacity drifts within seconds (nginx
  // alone has measured 23k and 38k req/s a minute apart), so runs a minute apart measure the
  // drift as much as the proxies. Here nginx and the one-sidecar path run back to back for a few
  // seconds each, the order alternating from pair to pair (so a trend hurts both alike), and the
  // ratio is taken within each pair; the verdict uses the median pair.
  const nginxTarget = targets.get("nginx");
  const sidecarTarget = targets.get("sidecar");
  if (pairCount > 0 && nginxTarget && sidecarTarget) {
    for (let i = 0; i < pairCount; i++) {
      const order = i % 2 === 0 ? [nginxTarget, sidecarTarget] : [sidecarTarget, nginxTarget];
      const results: WrkResult[] = [];
      for (const target of order) results.push(await runWrk(target, { ...wrkOptions, seconds: pairSeconds }));
      const [nginxRun, sidecarRun] = i % 2 === 0 ? results : [...results].reverse();
      pairs.push({ nginx: nginxRun!.requestsPerSecond, sidecar: sidecarRun!.requestsPerSecond });
      console.log(`pair ${i + 1}: nginx ${fmtRate(nginxRun!.requestsPerSecond)} req/s, one sidecar ${fmtRate(sidecarRun!.requestsPerSecond)} req/s, ratio ${fmt(sidecarRun!.requestsPerSecond / nginxRun!.requestsPerSecond)}x`);
    }
  }

  // The sidecars after the run: still up, the JWT from the cache, spans exported, their complaints.
  if (mesh) {
    for (const s of sidecars) {
      const exit = s.process.exitStatus();
      if (exit !== null) {
        problems.push(`sidecar ${s.id} is gone (${exit}); its last output:\n${s.process.output()}`);
        continue;
      }
      const status = await s.status();
      const lines = complaints(s.process);
      if (lines.length > 0) problems.push(`sidecar ${s.id} logged ${lines.length} warning/error lines; the last ones:\n  ${lines.slice(-5).join("\n  ")}`);
      if (s === mesh.b) {
        const lookups = status.credentials.lookups;
        console.log(`\nsidecar ${s.id} credential lookups: ${JSON.stringify(lookups)}`);
      }
      console.log(`sidecar ${s.id} resilience: ${JSON.stringify(status.resilience)}`);
    }
    console.log(`OTLP sink: ${mesh.sink.requests} export requests, ${(mesh.sink.bytes / 1024).toFixed(0)} KiB (sample ratio ${TRACE_SAMPLE_RATIO})`);
  }
} catch (error) {
  console.error(`proxy bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 1;
} finally {
  for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error(`stopping: ${String(error)}`));
}

// --- the report ------------------------------------------------------------------------------
const nginx = closed.get("nginx");
if (closed.size > 0) {
  console.log(`\nA. closed loop (wrk -t1 -c${connections}, ${seconds}s${roundCount > 1 ? `, median of ${roundCount} interleaved rounds by req/s` : ""}), ratios against nginx (1 worker)`);
  console.log(
    table(
      ["path", "req/s", ...(roundCount > 1 ? ["rounds req/s"] : []), "p50 ms", "p99 ms", "req/s vs nginx", "p50 - nginx", "p99 - nginx", "vCPU per 1k req/s", "non-2xx", "sock err", "steal"],
      CASES.filter((name) => closed.has(name)).map((name) => {
        const r = closed.get(name)!;
        return [
          LABELS[name],
          fmtRate(r.requestsPerSecond),
          ...(roundCount > 1 ? [r.rounds.map((n) => Math.round(n / 100) / 10 + "k").join(" ")] : []),
          fmt(r.p50, 3),
          fmt(r.p99, 3),
          nginx ? `${fmt(r.requestsPerSecond / nginx.requestsPerSecond)}x` : "-",
          nginx ? signed(r.p50 - nginx.p50) : "-",
          nginx ? signed(r.p99 - nginx.p99) : "-",
          `${fmt(r.cpuPer1k, 4)} (${r.cpuNote})`,
          String(r.non2xx),
          String(r.socketErrors),
          `${fmt(100 * r.steal, 1)}%`,
        ];
      }),
    ),
  );
}

if (pairs.length > 0) {
  const ratios = pairs.map((pair) => pair.sidecar / pair.nginx).sort((a, b) => a - b);
  console.log(`\nA2. one sidecar against nginx in ${pairs.length} adjacent pairs (${pairSeconds}s each, order alternating): ratios ${ratios.map((r) => fmt(r)).join(" ")}; median ${fmt(median(ratios))}x`);
}

const direct = open.get("direct");
const twoSidecar = open.get("two-sidecar");
if (open.size > 0) {
  console.log(`\nB. open loop (${rate} req/s, ${connections} connections, ${seconds}s), ms to the last byte of the response, counted from:`);
  console.log("   p50..max: the scheduled send time; corr.: the time the generator got to the request (its own stalls left out, waiting for a free connection kept in); send: the actual send");
  console.log("   late >1 ms: sent over 1 ms after schedule for any reason; gen. late: of those, late because the generator itself was (not for want of a connection)");
  console.log(
    table(
      ["path", "req/s", "p50", "p99", "p99.9", "max", "corr. p50", "corr. p99", "send p50", "send p99", "late >1 ms", "gen. late", "max gen. lag", "vCPU per 1k req/s", "statuses", "errors", "steal"],
      OPEN_LOOP_CASES.filter((name) => open.has(name))
        .map((name) => {
          const r = open.get(name)!;
          return [
            LABELS[name],
            fmt(r.achievedRate, 0),
            fmt(r.fromSchedule.p50, 3),
            fmt(r.fromSchedule.p99, 3),
            fmt(r.fromSchedule.p999, 3),
            fmt(r.fromSchedule.max, 3),
            fmt(r.fromReady.p50, 3),
            fmt(r.fromReady.p99, 3),
            fmt(r.fromSend.p50, 3),
            fmt(r.fromSend.p99, 3),
            String(r.lateOver1ms),
            String(r.generatorLateOver1ms),
            fmt(r.maxGeneratorLagMs, 3),
            `${fmt(r.cpuPer1k, 4)} (${cpuNote(name)})`,
            JSON.stringify(r.statuses),
            String(r.errors + r.unanswered),
            `${fmt(100 * r.steal, 1)}%`,
          ];
        }),
    ),
  );
  for (const [name, r] of open) {
    const slowest = r.slowest
      .slice(0, 8)
      .map((slow) => `${slow.ms.toFixed(1)} ms at ${slow.atS.toFixed(2)} s${slow.sendLagMs > 1 ? ` (sent ${slow.sendLagMs.toFixed(1)} ms late)` : ""}`)
      .join(", ");
    console.log(`${LABELS[name]}: requests over 2 ms in each second of the window [${r.over2msPerSecond.join(" ")}]; slowest: ${slowest}`);
  }
  for (const name of ["nginx", "bun", "http1", "sidecar", "two-nginx", "two-sidecar"] as const) {
    const r = open.get(name);
    if (!direct || !r) continue;
    console.log(
      `${LABELS[name]} adds: p50 ${signed(r.fromSchedule.p50 - direct.fromSchedule.p50)} ms, p99 ${signed(r.fromSchedule.p99 - direct.fromSchedule.p99)} ms, p99.9 ${signed(r.fromSchedule.p999 - direct.fromSchedule.p999)} ms (from schedule); p50 ${signed(r.fromReady.p50 - direct.fromReady.p50)} ms, p99 ${signed(r.fromReady.p99 - direct.fromReady.p99)} ms, p99.9 ${signed(r.fromReady.p999 - direct.fromReady.p999)} ms (corrected); p50 ${signed(r.fromSend.p50 - direct.fromSend.p50)} ms, p99 ${signed(r.fromSend.p99 - direct.fromSend.p99)} ms (from send)`,
    );
  }
}

if (sidecarUse.size > 0) {
  console.log(`\nC. sidecar resources (VmRSS of the bun process; CPU = utime+stime over the ${seconds}s open-loop window at ${rate} req/s)`);
  // VmRSS counts every resident page mapped, the pages of the bun binary itself included (RssFile:
  // shared with any other bun process, and dropped by the kernel under pressure rather than
  // swapped); RssAnon is what the sidecar allocated. The memory target is judged on VmRSS, the
  // stricter reading; the anon figure is printed beside it.
  console.log("   idle: VmRSS = RssAnon (the process's own allocations) + RssFile (file-backed pages: the bun binary, shared libraries) + RssShmem");
  console.log(
    table(
      ["sidecar", "idle VmRSS MiB", "idle RssAnon MiB", "idle RssFile MiB", "idle vCPU", "under load peak MiB", "under load end MiB", "after closed loop MiB", "CPU s (user+sys)", "vCPU per 1k req/s"],
      [...sidecarUse].map(([id, u]) => [
        id,
        fmt(u.idleMiB, 1),
        fmt(u.idleAnonMiB, 1),
        fmt(u.idleFileMiB, 1),
        fmt(u.idleVcpu, 3),
        fmt(u.loadPeakMiB, 1),
        fmt(u.loadEndMiB, 1),
        fmt(u.afterClosedLoopMiB, 1),
        `${fmt(u.cpuSeconds, 2)} (${fmt(u.userSeconds, 2)}+${fmt(u.systemSeconds, 2)})`,
        fmt(u.vcpuPer1k, 4),
      ]),
    ),
  );
}

console.log("\nD. targets");
const verdict = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "MET" : "NOT MET");
const sidecarClosed = closed.get("sidecar");
const pairRatios = pairs.map((pair) => pair.sidecar / pair.nginx).sort((a, b) => a - b);
// The verdict uses the median of adjacent pairs when there are any (A2), else section A's runs.
const ratio = pairRatios.length > 0 ? median(pairRatios) : sidecarClosed && nginx ? sidecarClosed.requestsPerSecond / nginx.requestsPerSecond : Number.NaN;
const ratioText =
  pairRatios.length > 0
    ? `${fmt(ratio)}x (median of ${pairRatios.length} adjacent pairs, ${fmt(pairRatios[0]!)}x to ${fmt(pairRatios.at(-1)!)}x; section A: ${fmt(sidecarClosed && nginx ? sidecarClosed.requestsPerSecond / nginx.requestsPerSecond : Number.NaN)}x)`
    : `${fmt(ratio)}x (${fmtRate(sidecarClosed?.requestsPerSecond ?? Number.NaN)} vs ${fmtRate(nginx?.requestsPerSecond ?? Number.NaN)})`;
// Judged on the corrected latencies: a stall of the generator itself (it shares the two cores)
// must not make the baseline look slow and the sidecars look fast, or the other way round.
const addedP99 = direct && twoSidecar ? twoSidecar.fromReady.p99 - direct.fromReady.p99 : Number.NaN;
const addedP99FromSchedule = direct && twoSidecar ? twoSidecar.fromSchedule.p99 - direct.fromSchedule.p99 : Number.NaN;
// The reference: what two hops of a C proxy add at p99 in the same run, judged the same way. A
// target that two nginx hops miss on this machine is out of reach of any two-hop path here, and
// the verdict says so rather than leaving a bare NOT MET.
const twoNginx = open.get("two-nginx");
const referenceP99 = direct && twoNginx ? twoNginx.fromReady.p99 - direct.fromReady.p99 : Number.NaN;
const referenceP99FromSchedule = direct && twoNginx ? twoNginx.fromSchedule.p99 - direct.fromSchedule.p99 : Number.NaN;
const referenceMet = Number.isNaN(referenceP99) ? undefined : referenceP99 < TARGETS.addedP99Ms;
const twoSidecarVerdict = verdict(Number.isNaN(addedP99) ? undefined : addedP99 < TARGETS.addedP99Ms);
const rows: string[][] = [
  ["full pipeline (one sidecar, inbound) req/s vs nginx", ratioText, `>= ${TARGETS.ratioToNginx}x`, verdict(Number.isNaN(ratio) ? undefined : ratio >= TARGETS.ratioToNginx)],
  [
    "two-sidecar path, added p99 over direct (open loop)",
    `${signed(addedP99)} ms corrected (${signed(addedP99FromSchedule)} ms from schedule)`,
    `< ${TARGETS.addedP99Ms} ms`,
    referenceMet === undefined || Number.isNaN(addedP99) ? twoSidecarVerdict : `${twoSidecarVerdict} (two nginx hops: ${signed(referenceP99)} ms${referenceMet ? "" : ", over the target too"})`,
  ],
  [
    "  reference: two nginx hops, added p99 over direct (open loop)",
    `${signed(referenceP99)} ms corrected (${signed(referenceP99FromSchedule)} ms from schedule)${Number.isNaN(referenceP99) || Number.isNaN(addedP99) ? "" : `; two sidecars - two nginx hops: ${signed(addedP99 - referenceP99)} ms`}`,
    `< ${TARGETS.addedP99Ms} ms`,
    referenceMet === undefined ? "not measured" : referenceMet ? "reference MET" : "reference NOT MET: two hops of a C proxy miss the target on this machine",
  ],
];
for (const [id, u] of sidecarUse) {
  const limitMiB = TARGETS.idleMB * MIB_PER_MB;
  rows.push([`sidecar ${id} idle memory (VmRSS)`, `${fmt(u.idleMiB, 1)} MiB (RssAnon ${fmt(u.idleAnonMiB, 1)} MiB, RssFile ${fmt(u.idleFileMiB, 1)} MiB)`, `< ${TARGETS.idleMB} MB (${fmt(limitMiB, 1)} MiB)`, verdict(Number.isNaN(u.idleMiB) ? undefined : u.idleMiB < limitMiB)]);
  const sameRate = (["nginx", "http1"] as const)
    .filter((name) => open.has(name))
    .map((name) => `${name === "http1" ? "http1 floor" : name}: ${fmt(open.get(name)!.cpuPer1k, 4)}`);
  rows.push([`sidecar ${id} CPU per 1,000 req/s`, `${fmt(u.vcpuPer1k, 4)} vCPU${sameRate.length > 0 ? ` (at the same rate, ${sameRate.join(", ")})` : ""}`, `< ${TARGETS.vcpuPer1k} vCPU`, verdict(Number.isNaN(u.vcpuPer1k) ? undefined : u.vcpuPer1k < TARGETS.vcpuPer1k)]);
}
console.log(table(["what", "measured", "target", "verdict"], rows));
console.log(`\nfor reference, measured on this machine earlier (closed loop): ${EARLIER.map(([name, figure]) => `${name} ${figure}`).join(", ")} req/s`);

if (problems.length > 0) {
  console.log(`\nproblems (${problems.length}):`);
  for (const problem of problems) console.log(`- ${problem}`);
}
process.exit(exitCode);
