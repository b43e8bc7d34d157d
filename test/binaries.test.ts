// The four binaries as processes, run from source: --help, --version, configuration errors with
// exit status 2, and a daemon's life from start to a graceful SIGTERM.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, freePorts, spawnService, waitUntilReady, type ServiceProcess } from "../internal/testing/index.ts";

const root = join(import.meta.dir, "..");
const main = (binary: string) => join(root, "cmd", binary, "main.ts");
const BINARIES = ["control-plane", "sidecar", "aggregator", "nagentctl"];

function run(binary: string, args: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync([process.execPath, main(binary), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env },
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const started: ServiceProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((service) => service.stop()));
});

async function startDaemon(binary: string, args: string[]): Promise<ServiceProcess> {
  const service = spawnService({ name: binary, command: [process.execPath, main(binary), ...args] });
  started.push(service);
  return service;
}

const healthy = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;

describe.each(BINARIES)("%s", (binary) => {
  test("--help lists its flags with their environment variables, exit 0", () => {
    const { code, stdout } = run(binary, ["--help"]);
    expect(code).toBe(0);
    expect(stdout).toStartWith(`${binary} 0.`);
    expect(stdout).toContain("--log-level LEVEL");
    expect(stdout).toContain("env LOG_LEVEL; default info");
    expect(stdout).toContain("--config FILE");
  });

  test("--version, exit 0", () => {
    const { code, stdout } = run(binary, ["--version"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^${binary} \\d+\\.\\d+\\.\\d+ \\(commit ([0-9a-f]{12}(-dirty)?|unknown), bun `));
  });

  test("an unknown flag: one line on stderr, exit 2", () => {
    const { code, stdout, stderr } = run(binary, ["--no-such-flag"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`${binary}: unknown flag --no-such-flag (see --help)\n`);
  });
});

describe("configuration errors stop the process with exit 2 and one line", () => {
  let dir = "";
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  test("out-of-range port from the environment", () => {
    const { code, stderr } = run("control-plane", [], { NAGENT_LISTEN: "127.0.0.1:65536" });
    expect(code).toBe(2);
    expect(stderr).toBe(
      'control-plane: invalid --listen "127.0.0.1:65536" from $NAGENT_LISTEN: expected HOST:PORT with a port from 0 to 65535\n',
    );
  });

  test("missing required value", () => {
    const { code, stderr } = run("sidecar", []);
    expect(code).toBe(2);
    expect(stderr).toBe("sidecar: missing required value --node-id (or $NODE_ID, or nodeId in the config file)\n");
  });

  test("malformed YAML file", () => {
    dir = mkdtempSync(join(tmpdir(), "nagent-config-"));
    const file = join(dir, "cp.yaml");
    writeFileSync(file, "listen: :8080\n  store: raft\n");
    const { code, stderr } = run("control-plane", ["--config", file]);
    expect(code).toBe(2);
    expect(stderr).toStartWith(`control-plane: config file ${file} is not valid YAML at line 1, column 9: `);
    expect(stderr.trimEnd()).not.toContain("\n");
  });

  test("wrong type in the YAML file", () => {
    dir = mkdtempSync(join(tmpdir(), "nagent-config-"));
    const file = join(dir, "agg.yaml");
    writeFileSync(file, "shutdownTimeout: [1, 2]\n");
    const { code, stderr } = run("aggregator", ["--config", file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`invalid --shutdown-timeout [1,2] from shutdownTimeout in ${file}`);
  });
});

describe("daemon life", () => {
  test("control-plane: serves the skeleton, logs JSON with a request id, exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), "nagent-cp-"));
    const service = await startDaemon("control-plane", ["--node-id", "cp-t", "--listen", `127.0.0.1:${port}`, "--log-level", "debug", "--data-dir", dataDir]);
    await waitUntilReady(service, healthy(`${url}/healthz`));
    // Ready once its one-member store has elected itself and the admin credential exists.
    await waitUntilReady(service, healthy(`${url}/readyz`));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('nagent_build_info{service="control-plane"');
    const missing = await fetch(`${url}/nothing`, { headers: { "x-request-id": "trace-me" } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: "not_found", message: "no route for GET /nothing" } });
    expect((await fetch(`${url}/v1/config/x`)).status).toBe(401);

    await service.stop();
    expect(service.exitStatus()).toBe("exit code 0");
    const lines = service
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line.msg === "listening")).toMatchObject({ service: "control-plane", node: "cp-t", url });
    expect(lines.find((line) => line.reqId === "trace-me")).toMatchObject({ status: 404, path: "/nothing" });
    expect(lines.at(-1)).toMatchObject({ msg: "stopped", clean: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("sidecar: both ports answer; the second listener failing closes the first and exits 1", async () => {
    const [inbound, outbound] = await freePorts(2);
    const service = await startDaemon("sidecar", [
      "--node-id", "n1",
      "--inbound-listen", `127.0.0.1:${inbound}`,
      "--outbound-listen", `127.0.0.1:${outbound}`,
    ]);
    await waitUntilReady(service, healthy(`http://127.0.0.1:${outbound}/healthz`));
    expect((await fetch(`http://127.0.0.1:${inbound}/healthz`)).status).toBe(200);

    const clash = run("sidecar", ["--node-id", "n2", "--inbound-listen", "127.0.0.1:0", "--outbound-listen", `127.0.0.1:${outbound}`]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe(`sidecar: cannot listen on 127.0.0.1:${outbound} (outbound): address already in use\n`);
  });

  test("aggregator and nagentctl check against a live daemon", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const service = await startDaemon("aggregator", ["--listen", `127.0.0.1:${port}`]);
    await waitUntilReady(service, healthy(`${url}/healthz`));
    const ok = run("nagentctl", ["--endpoints", url, "check"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("Status check results are √");
    const bad = run("nagentctl", ["check", "-o", "json"], { NAGENT_ENDPOINTS: "http://127.0.0.1:1" });
    expect(bad.code).toBe(1);
    expect((JSON.parse(bad.stdout) as { success: boolean }).success).toBe(false);
    expect(run("nagentctl", ["frobnicate"])).toMatchObject({ code: 2, stderr: 'nagentctl: unknown command "frobnicate" (see nagentctl --help)\n' });
  });
});
