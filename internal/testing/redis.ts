import { mkdtemp } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireExecutable } from "./executable.ts";
import { freePort, retryOnPortClash } from "./ports.ts";
import { spawnService, waitUntilReady } from "./process.ts";

export interface RedisOptions {
  /** How long to wait for PING to answer PONG. */
  startTimeoutMs?: number;
}

export interface RedisServer {
  /** e.g. redis://127.0.0.1:63790 */
  readonly url: string;
  readonly port: number;
  /** Redis's working dir; persistence is off, so it normally stays empty. */
  readonly dir: string;
  /** Pid of the server process (also its process group id), for leak checks. */
  readonly pid: number;
  /** Kills Redis and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a private, non-persistent Redis on a free loopback port and resolves once it answers
 * PING. Everything is passed as flags (no config file) so the system's redis.conf and any running
 * system daemon cannot influence the test. Throws `MissingExecutableError` when redis-server is not
 * installed and `ServiceStartError` (with Redis's output) when it will not start.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const executable = requireExecutable("redis-server", "redis-server");
  return retryOnPortClash(() => startRedisOnce(executable, options.startTimeoutMs ?? 20_000));
}

async function startRedisOnce(executable: string, startTimeoutMs: number): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "nagent-redis-"));
  const service = spawnService({
    name: "redis-server",
    ownedDir: dir,
    command: [
      executable,
      ...["--port", String(port), "--bind", "127.0.0.1"],
      ...["--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"],
    ],
  });
  await waitUntilReady(service, () => answersPing(port), { timeoutMs: startTimeoutMs });
  return { url: `redis://127.0.0.1:${port}`, port, dir, pid: service.pid, stop: () => service.stop() };
}

/** Raw RESP over TCP, so readiness does not depend on a client library's reconnect behaviour. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}
