// Where the sidecar's time goes: the setup of scripts/bench/proxy.ts (nginx upstream, control
// plane, sidecars A and B with the full pipeline) with Bun's sampling CPU profiler on in both
// sidecars, one load phase, then a summary of each profile over the load: the functions with the
// most self samples, and the project's own functions by inclusive samples. The .cpuprofile files
// open in Chrome DevTools; --keep leaves them (and prints where). With --profiler perf, Linux perf samples both
// sidecar processes during the load instead (every thread, native and kernel frames; JIT-compiled
// JavaScript shows as unknown addresses): CPU by thread, then by shared object and symbol.
//
//   bun scripts/bench/proxy-profile.ts [--path sidecar|two-sidecar] [--load closed|open]
//        [--profiler cpu-prof|perf] [--seconds 10] [--connections 32] [--rate 1000]
//        [--interval-us 250] [--top 25] [--keep] [--summarize DIR-OF-KEPT-PROFILES]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { spawnService, type ServiceProcess } from "../../internal/testing/index.ts";
import { runWrk, startOpenLoop, type LoadTarget } from "./proxy-load.ts";
import { BENCH_DOMAIN, startBenchMesh, type BenchMesh } from "./proxy-mesh.ts";
import { PEER_EXECUTABLES, startUpstream, type Peer } from "./proxy-peers.ts";

const { values } = parseArgs({
  options: {
    path: { type: "string", default: "two-sidecar" },
    load: { type: "string", default: "closed" },
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    rate: { type: "string", default: "1000" },
    "interval-us": { type: "string", default: "250" },
    top: { type: "string", default: "25" },
    keep: { type: "boolean", default: false },
    profiler: { type: "string", default: "cpu-prof" },
    /** Only summarize the .cpuprofile files already in this directory (from an earlier --keep). */
    summarize: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const top = Number(values.top);
const root = join(import.meta.dir, "..", "..");
const usePerf = values.profiler === "perf";
if (usePerf && Bun.which("perf") === null) {
  console.error("proxy profile: perf is not on PATH. Install it: apt-get install linux-perf");
  process.exit(2);
}

for (const { executable, debianPackage } of PEER_EXECUTABLES) {
  if (executable === "haproxy") continue;
  if (Bun.which(executable) === null) {
    console.error(`proxy profile: ${executable} is not on PATH, and this benchmark runs a real ${executable}. Install it: apt-get install ${debianPackage}`);
    process.exit(2);
  }
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function frameName(frame: CallFrame): string {
  const path = frame.url.replace(/^file:\/\//, "");
  const where = path ? `${path.startsWith(root) && !path.includes("node_modules/") ? relative(root, path) : path.replace(/^.*node_modules\//, "")}:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
}

/**
 * Self and inclusive share of samples per function, over the load only: from the first to the last
 * sample taken inside the proxied request path (start-up and shutdown left out). Samples are
 * counted, not weighted by their time deltas: JSC's sampler takes none while the thread is idle,
 * so a delta after an idle stretch would charge the idle time to whatever ran next.
 */
function summarize(profile: CpuProfile): { samples: number; windowMs: number; self: Map<string, number>; inclusive: Map<string, number> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inRequestPath = new Map<number, boolean>();
  const requestPath = (id: number): boolean => {
    let known = inRequestPath.get(id);
    if (known === undefined) {
      const name = byId.get(id)!.callFrame.functionName;
      const up = parent.get(id);
      known = name === "handleInbound" || name === "handleOutbound" || (up !== undefined && requestPath(up));
      inRequestPath.set(id, known);
    }
    return known;
  };
  const times: number[] = [];
  let t = 0;
  for (const delta of profile.timeDeltas) times.push((t += delta));
  const first = profile.samples.findIndex(requestPath);
  const last = profile.samples.findLastIndex(requestPath);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let samples = 0;
  for (let i = Math.max(0, first); i <= last; i++) {
    const id = profile.samples[i]!;
    samples++;
    const name = frameName(byId.get(id)!.callFrame);
    self.set(name, (self.get(name) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = frameName(byId.get(at)!.callFrame);
      if (seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + 1);
    }
  }
  const windowMs = first < 0 ? 0 : (times[last]! - times[first]!) / 1000;
  return { samples, windowMs, self, inclusive };
}

function print(title: string, entries: Map<string, number>, samples: number, filter: (name: string) => boolean = () => true): void {
  console.log(`  ${title}`);
  const sorted = [...entries].filter(([name]) => filter(name)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, count] of sorted) console.log(`    ${((100 * count) / samples).toFixed(1).padStart(5)}%  ${String(count).padStart(6)}  ${name}`);
}

const profileDir = values.summarize ?? mkdtempSync(join(tmpdir(), "nagent-bench-proxy-profile-"));
const intervalUs = values["interval-us"];
const perfSeconds = values.load === "open" ? seconds : Math.max(1, seconds - 2);

/** perf on both sidecars, every thread, for the measured phase (after the warm-up). */
function startPerf(mesh: BenchMesh): { id: string; file: string; service: ServiceProcess }[] {
  return [mesh.a, mesh.b].map((s) => {
    const file = join(profileDir, `${s.id}.perf.data`);
    return { id: s.id, file, service: spawnService({ name: `perf ${s.id}`, command: ["perf", "record", "-F", "997", "-p", String(s.pid), "-o", file, "--", "sleep", String(perfSeconds)] }) };
  });
}

function printPerf(id: string, file: string): void {
  const report = (sort: string) =>
    Bun.spawnSync(["perf", "report", "-i", file, "--no-children", "--sort", sort, "--stdio", "--percent-limit", "0.7"], { stderr: "ignore" })
      .stdout.toString()
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.startsWith("#"))
      .slice(0, top);
  console.log(`\n${id} (perf, ${perfSeconds}s under load): CPU by thread`);
  for (const line of report("comm")) console.log(`  ${line.trim()}`);
  console.log(`${id}: by thread and shared object`);
  for (const line of report("comm,dso")) console.log(`  ${line.trim()}`);
  console.log(`${id}: by thread, shared object and symbol (bun.exe's own symbols do not resolve)`);
  for (const line of report("comm,dso,sym")) console.log(`  ${line.trim()}`);
}

/** Starts everything, runs one load phase with the profiler on, stops everything (the profiles are written on the sidecars' exit). */
async function profileRun(): Promise<void> {
  let upstream: Peer | undefined;
  let mesh: BenchMesh | undefined;
  let perfTimer: ReturnType<typeof setTimeout> | undefined;
  let perfRuns: ReturnType<typeof startPerf> = [];
  try {
    upstream = await startUpstream(Bun.which("nginx")!, (argv) => argv);
    const started = await startBenchMesh({
      upstream: upstream.url,
      command: (argv) => argv,
      bunFlags: (id) => (usePerf ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${id}.cpuprofile`, `--cpu-prof-interval=${intervalUs}`]),
    });
    mesh = started;
    const auth = `authorization: Bearer ${started.callerToken}`;
    const target: LoadTarget =
      values.path === "sidecar"
        ? { url: `${started.b.inbound}/v1/echo`, headers: [`x-nagent-domain: ${BENCH_DOMAIN}`, `x-nagent-from: ${started.a.id}`, auth] }
        : { url: `${started.a.outbound}/v1/invoke/${BENCH_DOMAIN}/v1/echo`, headers: [auth] };
    const load = values.load === "open" ? `${values.rate} req/s open loop` : `wrk -t1 -c${connections}`;
    console.log(`profiling the ${values.path} path under ${load} for ${seconds}s with ${usePerf ? "perf" : `bun --cpu-prof (every ${intervalUs} µs of running JavaScript)`}`);
    // The open-loop generator takes 1.5 s to start, then warms up for 1 s; wrk is sampled after its first second.
    if (usePerf) perfTimer = setTimeout(() => (perfRuns = startPerf(started)), values.load === "open" ? 2_500 : 1_000);
    if (values.load === "open") {
      const result = await startOpenLoop(target, { rate: Number(values.rate), seconds, warmupSeconds: 1, connections, command: (argv) => argv }).result;
      console.log(`open loop: ${result.achievedRate.toFixed(0)} req/s, p50 ${result.fromSchedule.p50.toFixed(3)} ms, p99 ${result.fromSchedule.p99.toFixed(3)} ms, statuses ${JSON.stringify(result.statuses)}`);
    } else {
      const result = await runWrk(target, { wrk: Bun.which("wrk")!, seconds, connections, command: (argv) => argv });
      console.log(`wrk: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, non-2xx ${result.non2xx}`);
    }
    for (const run of perfRuns) await run.service.exited;
    for (const run of perfRuns) printPerf(run.id, run.file);
  } finally {
    clearTimeout(perfTimer);
    await Promise.all(perfRuns.map((run) => run.service.stop()));
    await mesh?.stop();
    await upstream?.process.stop();
  }
}

let exitCode = 0;
if (values.summarize === undefined) {
  try {
    await profileRun();
  } catch (error) {
    console.error(`proxy profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    exitCode = 1;
  }
}

for (const file of readdirSync(profileDir).filter((name) => name.endsWith(".cpuprofile")).sort()) {
  const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile;
  const { samples, windowMs, self, inclusive } = summarize(profile);
  console.log(`\n${file}: ${samples} samples of the JS thread over ${(windowMs / 1000).toFixed(1)} s of load (share of samples, sample count)`);
  if (samples === 0) continue;
  print(`top ${top} by self samples ("(anonymous)" with no file: native code with no JS frame above it)`, self, samples);
  print(`top ${top} of the project's own functions by inclusive samples`, inclusive, samples, (name) => / (internal|cmd|pkg)\//.test(name));
}
if (values.keep || values.summarize !== undefined) console.log(`\nprofiles kept in ${profileDir}`);
else rmSync(profileDir, { recursive: true, force: true });
process.exit(exitCode);
