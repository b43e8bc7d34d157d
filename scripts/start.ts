// `npm start`: the embedded default on one machine. A one-member control plane on the integrated
// store, a sidecar in front of the demo agent service, and the aggregator, each a separate process
// as in production, all on loopback. Prints where to look; Ctrl-C stops everything gracefully.
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";

const { values } = parseArgs({
  options: {
    "port-offset": { type: "string", default: "0" },
    "data-dir": { type: "string", default: ".nagent" },
  },
});
const offset = Number(values["port-offset"]);
if (!Number.isInteger(offset) || offset < 0 || offset > 50_000) {
  console.error(`start: invalid --port-offset "${values["port-offset"]}": expected an integer from 0 to 50000`);
  process.exit(2);
}

const root = join(import.meta.dir, "..");
const dataDir = resolve(root, values["data-dir"] ?? ".nagent");
const logDir = join(dataDir, "logs");
mkdirSync(logDir, { recursive: true });

const port = {
  controlPlane: 8080 + offset,
  inbound: 15006 + offset,
  outbound: 15001 + offset,
  agent: 3000 + offset,
  aggregator: 9100 + offset,
};
const url = (p: number) => `http://127.0.0.1:${p}`;
const controlPlane = url(port.controlPlane);

interface Service {
  readonly name: string;
  readonly args: string[];
  readonly health: string;
}

const services: Service[] = [
  {
    name: "control-plane",
    args: ["cmd/control-plane/main.ts", "--node-id", "cp-1", "--listen", `127.0.0.1:${port.controlPlane}`, "--data-dir", join(dataDir, "cp-1")],
    // Ready: its one-member store has a leader and the admin credential exists.
    health: `${controlPlane}/readyz`,
  },
  {
    name: "demo-agent",
    args: ["scripts/demo/agent.ts", "--port", String(port.agent), "--name", "demo-agent"],
    health: `${url(port.agent)}/healthz`,
  },
  {
    name: "sidecar",
    args: [
      "cmd/sidecar/main.ts",
      "--node-id", "node-1",
      "--domains", "communication,execution",
      "--inbound-listen", `127.0.0.1:${port.inbound}`,
      "--outbound-listen", `127.0.0.1:${port.outbound}`,
      "--advertise", url(port.inbound),
      "--app", url(port.agent),
      "--control-plane", controlPlane,
      "--cache-dir", join(dataDir, "node-1-cache"),
    ],
    health: `${url(port.outbound)}/healthz`,
  },
  {
    name: "aggregator",
    args: ["cmd/aggregator/main.ts", "--listen", `127.0.0.1:${port.aggregator}`, "--control-plane", controlPlane],
    health: `${url(port.aggregator)}/healthz`,
  },
];

const running: { service: Service; proc: Subprocess; log: string }[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const { proc } of running) proc.kill("SIGTERM");
  const deadline = Bun.sleep(15_000).then(() => "timeout");
  const result = await Promise.race([Promise.all(running.map(({ proc }) => proc.exited)), deadline]);
  if (result === "timeout") for (const { proc } of running) proc.kill("SIGKILL");
  process.exit(code);
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

async function waitHealthy(service: Service, proc: Subprocess, log: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      console.error(`start: ${service.name} exited with status ${proc.exitCode}:\n${tail(log)}`);
      return stopAll(1);
    }
    const ok = await fetch(service.health, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await Bun.sleep(100);
  }
  console.error(`start: ${service.name} did not answer ${service.health} within 20 s:\n${tail(log)}`);
  return stopAll(1);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

for (const service of services) {
  const log = join(logDir, `${service.name}.log`);
  const fd = openSync(log, "w");
  const proc = Bun.spawn([process.execPath, ...service.args], { cwd: root, stdout: fd, stderr: fd, stdin: "ignore" });
  running.push({ service, proc, log });
  void proc.exited.then((status) => {
    if (stopping) return;
    console.error(`start: ${service.name} stopped unexpectedly (status ${status}):\n${tail(log)}`);
    void stopAll(1);
  });
  await waitHealthy(service, proc, log);
}

const logs = relative(process.cwd(), logDir) || ".";
const tokenFile = join(dataDir, "cp-1", "admin-token");
let token = process.env.NAGENT_ADMIN_TOKEN ?? "";
try {
  token ||= readFileSync(tokenFile, "utf8").trim();
} catch {
  token ||= "(see the admin-token file in the control plane's data dir)";
}
const rows: [string, string, string][] = [
  ["control plane", controlPlane, "member cp-1, a one-member cluster"],
  ["sidecar", url(port.outbound), "outbound and local API for node-1's app"],
  ["", url(port.inbound), "inbound, where other sidecars call node-1"],
  ["demo agent", url(port.agent), "domains communication, execution, behind the sidecar"],
  ["aggregator", url(port.aggregator), "cluster metrics"],
];
const table = rows.map(([name, where, what]) => `  ${name.padEnd(15)}${where.padEnd(26)}${what}`).join("\n");
console.log(`
Nagent Mesh is running: the embedded default, every process on this machine.

${table}

  Each answers /healthz, /readyz and /metrics, e.g.  curl ${controlPlane}/readyz
  Admin credential:         export TOKEN=${token}
                            (kept in ${relative(process.cwd(), tokenFile) || tokenFile})
  Write and read config:    curl -X PUT -H "Authorization: Bearer $TOKEN" ${controlPlane}/v1/config/demo/greeting -d '"hello"'
                            curl -H "Authorization: Bearer $TOKEN" ${controlPlane}/v1/config/demo/greeting
  Watch every change:       curl -N -H "Authorization: Bearer $TOKEN" ${controlPlane}/v1/watch
  Check the control plane:  npm run ctl -- --endpoints ${controlPlane} check
  Logs (JSON lines):        ${logs}/
  Stop:                     Ctrl-C
`);
