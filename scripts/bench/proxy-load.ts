// The two load generators of scripts/bench/proxy.ts, each a process of its own under spawnService:
// wrk (closed loop: -t1 -cN, as fast as the server answers) and proxy-open-loop.ts (a fixed rate,
// latency from the scheduled send time).
import { join } from "node:path";
import { spawnService } from "../../internal/testing/index.ts";
import type { OpenLoopResult } from "./proxy-open-loop.ts";

export type { OpenLoopResult } from "./proxy-open-loop.ts";

export interface WrkResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  /** Milliseconds, from wrk's --latency distribution. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly raw: string;
}

export interface LoadTarget {
  readonly url: string;
  /** Header lines, "name: value". */
  readonly headers: readonly string[];
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  return match ? Number(match[1]) * UNIT_MS[match[2]!]! : Number.NaN;
}

/** Parses wrk's report (with --latency). Exported for a quick check by hand. */
export function parseWrk(raw: string): WrkResult {
  const number = (pattern: RegExp) => {
    const match = pattern.exec(raw);
    return match ? Number(match[1]) : Number.NaN;
  };
  const percentile = (p: number) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(raw);
    return match ? durationMs(match[1]!) : Number.NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  return {
    requestsPerSecond: number(/^Requests\/sec:\s+([\d.]+)/m),
    requests: number(/^\s+(\d+) requests in/m),
    p50: percentile(50),
    p90: percentile(90),
    p99: percentile(99),
    non2xx: Number.isNaN(number(/Non-2xx or 3xx responses: (\d+)/)) ? 0 : number(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    raw,
  };
}

export interface WrkOptions {
  readonly wrk: string;
  readonly seconds: number;
  readonly connections: number;
  readonly command: (argv: string[]) => string[];
}

/** One wrk run; throws with wrk's output if it fails or prints no rate. */
export async function runWrk(target: LoadTarget, options: WrkOptions): Promise<WrkResult> {
  const argv = [options.wrk, "-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--latency", "--timeout", "5s"];
  for (const header of target.headers) argv.push("-H", header);
  argv.push(target.url);
  const service = spawnService({ name: "wrk", command: options.command(argv) });
  const code = await service.exited;
  await service.stop();
  const raw = service.output();
  const result = parseWrk(raw);
  if (code !== 0 || Number.isNaN(result.requestsPerSecond)) throw new Error(`wrk failed (exit ${code}):\n${raw}`);
  return result;
}

export interface OpenLoopOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly command: (argv: string[]) => string[];
}

/** A started open-loop run: when its measured window opens and closes (epoch ms), and its result. */
export interface OpenLoopRun {
  readonly measureFrom: number;
  readonly measureUntil: number;
  readonly result: Promise<OpenLoopResult>;
}

/** Room for the generator process to load and open its connections before request 0. */
const GENERATOR_START_MS = 1_500;

export function startOpenLoop(target: LoadTarget, options: OpenLoopOptions): OpenLoopRun {
  const startAt = Date.now() + GENERATOR_START_MS;
  const argv = [
    process.execPath,
    join(import.meta.dir, "proxy-open-loop.ts"),
    ...["--url", target.url, "--rate", String(options.rate), "--seconds", String(options.seconds)],
    ...["--warmup", String(options.warmupSeconds), "--connections", String(options.connections), "--start-at", String(startAt)],
    ...target.headers.flatMap((header) => ["--header", header]),
  ];
  const service = spawnService({ name: "open-loop generator", command: options.command(argv) });
  const result = (async () => {
    const code = await service.exited;
    await service.stop();
    const line = service
      .output()
      .split("\n")
      .find((l) => l.startsWith('{"openLoopResult"'));
    if (code !== 0 || !line) throw new Error(`the open-loop generator failed (exit ${code}):\n${service.output()}`);
    return (JSON.parse(line) as { openLoopResult: OpenLoopResult }).openLoopResult;
  })();
  const measureFrom = startAt + options.warmupSeconds * 1000;
  return { measureFrom, measureUntil: measureFrom + options.seconds * 1000, result };
}
