import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { constants } from "node:os";
import { livePidsInGroup } from "./liveness.ts";

/**
 * Runs as `sh -c GUARDIAN_SCRIPT guardian OWNED_DIR COMMAND...` in a fresh session, so the service
 * and its watcher share one process group that nothing else belongs to. The script forks a watcher
 * and then execs the service (the service keeps the spawned pid, which is also the group id).
 *
 * The watcher reads the stdin pipe whose only writer is the test process. The kernel closes that
 * pipe however the test process ends (return, throw, SIGKILL), so EOF is a reliable "parent gone"
 * signal that needs no polling and cannot be fooled by pid reuse or a parent left as a zombie.
 * On EOF it SIGKILLs the service, removes the service's directory and kills the whole group.
 * It ignores SIGTERM and friends so that `stop()` signalling the group cannot remove the guard
 * during the grace period.
 */
const GUARDIAN_SCRIPT = `
owned_dir=$1
shift
exec 3<&0
(
  trap '' HUP INT TERM
  while read -r _; do :; done
  kill -KILL "$$" 2>/dev/null
  if [ -n "$owned_dir" ]; then rm -rf -- "$owned_dir"; fi
  kill -KILL 0
) <&3 3<&- >/dev/null 2>&1 &
exec "$@" 3<&- </dev/null
`;

const DEFAULT_OUTPUT_LINES = 200;
const DEFAULT_STOP_GRACE_MS = 5_000;
const OUTPUT_DRAIN_MS = 1_000;
const GROUP_GONE_MS = 2_000;

/** Thrown when a service exits or stays unready during start-up; `output` is its last lines. */
export class ServiceStartError extends Error {
  override readonly name = "ServiceStartError";

  constructor(
    readonly service: string,
    readonly reason: string,
    readonly output: string,
  ) {
    super(`${service} failed to start: ${reason}\n--- last output of ${service} ---\n${output || "(no output)"}`);
  }
}

export interface SpawnServiceOptions {
  /** Short label used in errors, e.g. "etcd". */
  name: string;
  command: readonly string[];
  /** The complete environment of the service; defaults to this process's environment. */
  env?: Record<string, string | undefined>;
  /** A directory owned by the service; removed by `stop()` and by every emergency teardown. */
  ownedDir?: string;
  /** How many trailing lines of stdout+stderr to keep for error reports. */
  outputLines?: number;
}

export interface ServiceProcess {
  readonly name: string;
  /** Pid of the service itself; also the id of its process group. */
  readonly pid: number;
  readonly exited: Promise<number>;
  /** "exit code N" or "signal SIGX" once the service has ended, otherwise null. */
  exitStatus(): string | null;
  /** The last captured lines of stdout and stderr, interleaved in arrival order. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once everything is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface ReadinessOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** One running guardian group, as the emergency teardown needs it. */
interface LiveService {
  readonly child: Bun.Subprocess<"pipe", "pipe", "pipe">;
  readonly ownedDir: string | undefined;
}

const live = new Set<LiveService>();
const TEARDOWN_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Starts a service whose lifetime is bound to this process. A test that forgets `stop()`, throws,
 * or is killed outright still leaves nothing behind: the guardian kills the service when this
 * process disappears, and exit/signal hooks kill every live group synchronously on the way out.
 */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const tail = new OutputTail(options.outputLines ?? DEFAULT_OUTPUT_LINES);
  const child = Bun.spawn(["sh", "-c", GUARDIAN_SCRIPT, `guardian:${options.name}`, options.ownedDir ?? "", ...options.command], {
    detached: true,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: options.env ?? process.env,
  });
  const entry: LiveService = { child, ownedDir: options.ownedDir };
  track(entry);
  const drained = Promise.all([collectLines(child.stdout, tail), collectLines(child.stderr, tail)]);

  async function stopOnce(graceMs: number): Promise<void> {
    signalGroup(child.pid, "SIGTERM");
    await raceWithTimeout(child.exited, graceMs);
    signalGroup(child.pid, "SIGKILL");
    await child.exited;
    await closeStdin(child);
    await waitForGroupGone(child.pid, GROUP_GONE_MS);
    untrack(entry);
    if (options.ownedDir !== undefined) await rm(options.ownedDir, { recursive: true, force: true });
    await raceWithTimeout(drained, OUTPUT_DRAIN_MS);
  }

  let stopping: Promise<void> | undefined;
  return {
    name: options.name,
    pid: child.pid,
    exited: child.exited,
    exitStatus: () => describeExit(child),
    output: () => tail.text(),
    stop: (graceMs = DEFAULT_STOP_GRACE_MS) => (stopping ??= stopOnce(graceMs)),
  };
}

/**
 * Polls `probe` until it answers true. Readiness is judged by the service really answering, not by
 * a log line, because log formats change between versions. If the service dies or the deadline
 * passes, the service is stopped and a `ServiceStartError` carrying its output is thrown, so a
 * broken start is explained in the test failure itself. Probes should bound their own duration.
 */
export async function waitUntilReady(
  service: ServiceProcess,
  probe: () => Promise<boolean>,
  { timeoutMs = 20_000, intervalMs = 100 }: ReadinessOptions = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probeQuietly(probe)) return;
    const status = service.exitStatus();
    if (status !== null) return failStart(service, `exited (${status}) before it was ready`);
    if (performance.now() >= deadline) return failStart(service, `not ready after ${timeoutMs} ms`);
    await Bun.sleep(intervalMs);
  }
}

async function failStart(service: ServiceProcess, reason: string): Promise<never> {
  await service.stop(1_000);
  throw new ServiceStartError(service.name, reason, service.output());
}

async function probeQuietly(probe: () => Promise<boolean>): Promise<boolean> {
  try {
    return await probe();
  } catch {
    return false;
  }
}

function describeExit(child: Bun.Subprocess): string | null {
  if (child.signalCode !== null) return `signal ${child.signalCode}`;
  if (child.exitCode !== null) return `exit code ${child.exitCode}`;
  return null;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * The watcher is not our child, so its death cannot be awaited; poll the group instead, so that a
 * leak check right after `stop()` sees nothing. Zombies do not count (see `isProcessAlive`).
 */
async function waitForGroupGone(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (livePidsInGroup(pgid).length > 0 && performance.now() < deadline) await Bun.sleep(10);
}

async function closeStdin(child: Bun.Subprocess<"pipe", "pipe", "pipe">): Promise<void> {
  try {
    await child.stdin.end();
  } catch {
    // Already closed: the pipe is gone either way, which is all that matters here.
  }
}

async function raceWithTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function track(entry: LiveService): void {
  if (live.size === 0) installTeardownHooks();
  live.add(entry);
}

function untrack(entry: LiveService): void {
  live.delete(entry);
  if (live.size === 0) removeTeardownHooks();
}

/** Hooks exist only while services run, so an idle harness leaves signal handling untouched. */
function installTeardownHooks(): void {
  process.on("exit", killAllNow);
  for (const signal of TEARDOWN_SIGNALS) process.on(signal, exitOnSignal);
}

function removeTeardownHooks(): void {
  process.off("exit", killAllNow);
  for (const signal of TEARDOWN_SIGNALS) process.off(signal, exitOnSignal);
}

function exitOnSignal(signal: NodeJS.Signals): void {
  killAllNow();
  process.exit(128 + (constants.signals[signal] ?? 0));
}

/** Synchronous on purpose: it runs from the 'exit' event, where awaiting is impossible. */
function killAllNow(): void {
  for (const { child, ownedDir } of live) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    if (ownedDir !== undefined) removeDirNow(ownedDir);
  }
  live.clear();
}

function removeDirNow(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // The guardian removes it too once it sees this process gone.
  }
}

/** Keeps the last `limit` complete lines from any number of streams. */
class OutputTail {
  private readonly lines: string[] = [];

  constructor(private readonly limit: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.limit) this.lines.shift();
  }

  text(): string {
    return this.lines.join("\n");
  }
}

async function collectLines(stream: ReadableStream<Uint8Array>, tail: OutputTail): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of stream) {
    const pieces = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = pieces.pop() ?? "";
    for (const line of pieces) tail.push(line);
  }
  partial += decoder.decode();
  if (partial !== "") tail.push(partial);
}
