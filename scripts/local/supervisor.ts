// Running Nagent Mesh as local processes on this machine, for `npm start` and `npm run cluster`:
// each service is started in order and waited for until its health URL answers, logs go to one
// file per service, and Ctrl-C (SIGINT) or SIGTERM stops everything gracefully (SIGKILL after
// 15 s), leaving nothing running.
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface LocalService {
  readonly name: string;
  /** The bun arguments, computed when the service starts (so it can use what earlier ones produced). */
  readonly args: () => string[] | Promise<string[]>;
  /** A URL that answers 2xx once the service is up. */
  readonly health: string;
  /** Extra environment for this service. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface SupervisorOptions {
  readonly root: string;
  readonly logDir: string;
  /** How this program names itself in messages ("start", "cluster"). */
  readonly label: string;
  /**
   * What an unexpected exit of a running service does: "stop-all" (the embedded default, which
   * is useless without any of its parts) or "report" (a cluster, where killing a member is what
   * the walkthrough does).
   */
  readonly onUnexpectedExit: "stop-all" | "report";
}

interface Running {
  readonly service: LocalService;
  readonly proc: Subprocess;
  readonly log: string;
}

export class Supervisor {
  readonly #running: Running[] = [];
  #stopping = false;

  constructor(private readonly options: SupervisorOptions) {
    process.on("SIGINT", () => void this.stopAll(0));
    process.on("SIGTERM", () => void this.stopAll(0));
  }

  /** The pid of a running service, by name. */
  pid(name: string): number | undefined {
    return this.#running.find((r) => r.service.name === name && r.proc.exitCode === null)?.proc.pid;
  }

  /** Starts `service` and waits until it answers its health URL (ends the program if it cannot). */
  async start(service: LocalService): Promise<void> {
    const log = join(this.options.logDir, `${service.name}.log`);
    const fd = openSync(log, "w");
    const args = await service.args();
    const proc = Bun.spawn([process.execPath, ...args], {
      cwd: this.options.root,
      stdout: fd,
      stderr: fd,
      stdin: "ignore",
      env: { ...process.env, ...service.env },
    });
    const running: Running = { service, proc, log };
    this.#running.push(running);
    void proc.exited.then((status) => {
      if (this.#stopping) return;
      if (this.options.onUnexpectedExit === "report") {
        console.error(`${this.options.label}: ${service.name} exited (status ${status}); the others keep running. Its log: ${log}`);
        return;
      }
      console.error(`${this.options.label}: ${service.name} stopped unexpectedly (status ${status}):\n${tail(log)}`);
      void this.stopAll(1);
    });
    await this.#waitHealthy(running);
  }

  async startAll(services: readonly LocalService[]): Promise<void> {
    for (const service of services) await this.start(service);
  }

  /** Stops every service (SIGTERM, then SIGKILL after 15 s) and exits with `code`. */
  async stopAll(code: number): Promise<never> {
    this.#stopping = true;
    for (const { proc } of this.#running) if (proc.exitCode === null) proc.kill("SIGTERM");
    const deadline = Bun.sleep(15_000).then(() => "timeout");
    const result = await Promise.race([Promise.all(this.#running.map(({ proc }) => proc.exited)), deadline]);
    if (result === "timeout") for (const { proc } of this.#running) proc.kill("SIGKILL");
    process.exit(code);
  }

  /** Ends the program over a failure before everything runs. */
  async fail(message: string): Promise<never> {
    console.error(`${this.options.label}: ${message}`);
    return this.stopAll(1);
  }

  async #waitHealthy({ service, proc, log }: Running): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) {
        console.error(`${this.options.label}: ${service.name} exited with status ${proc.exitCode}:\n${tail(log)}`);
        return this.stopAll(1);
      }
      const ok = await fetch(service.health, { signal: AbortSignal.timeout(1000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return;
      await Bun.sleep(100);
    }
    console.error(`${this.options.label}: ${service.name} did not answer ${service.health} within 30 s:\n${tail(log)}`);
    return this.stopAll(1);
  }
}

/** The last lines of a log file. */
export function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

/** A credential issued by the control plane at `controlPlane` with the admin token. */
export async function issueToken(controlPlane: string, adminToken: string, subject: string, roles: readonly string[], ttlSeconds: number): Promise<string> {
  const response = await fetch(`${controlPlane}/v1/auth/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ subject, roles, ttlSeconds }),
  });
  if (!response.ok) throw new Error(`the control plane refused to issue a token for ${subject}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** --port-offset, checked. */
export function portOffset(raw: string | undefined, label: string): number {
  const offset = Number(raw ?? "0");
  if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) {
    console.error(`${label}: invalid --port-offset "${raw}": expected an integer from 0 to 50000`);
    process.exit(2);
  }
  return offset;
}
