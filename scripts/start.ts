// `npm start`: the embedded default on one machine. A one-member control plane on the integrated
// store, a sidecar in front of the demo agent service, and the aggregator, each a separate process
// as in production, all on loopback. Prints where to look; Ctrl-C stops everything gracefully.
import { mkdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Supervisor, issueToken, portOffset, type LocalService } from "./local/supervisor.ts";

const { values } = parseArgs({
  options: {
    "port-offset": { type: "string", default: "0" },
    "data-dir": { type: "string", default: ".nagent" },
  },
});
const offset = portOffset(values["port-offset"], "start");

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

const tokenFile = join(dataDir, "cp-1", "admin-token");
/** The admin credential: the operator's, or the one the control plane generated at its first start. */
function adminToken(): string {
  return process.env.NAGENT_ADMIN_TOKEN ?? readFileSync(tokenFile, "utf8").trim();
}

const credentials = { node: "", caller: "" };
/** A node credential for the sidecar and a caller credential for the demo, issued by the control plane. */
async function issueCredentials(): Promise<void> {
  credentials.node = await issueToken(controlPlane, adminToken(), "node-1", ["node"], 86_400);
  credentials.caller = await issueToken(controlPlane, adminToken(), "demo-caller", ["agent"], 86_400);
}

const services: LocalService[] = [
  {
    name: "control-plane",
    args: () => ["cmd/control-plane/main.ts", "--node-id", "cp-1", "--listen", `127.0.0.1:${port.controlPlane}`, "--data-dir", join(dataDir, "cp-1")],
    // Ready: its one-member store has a leader and the admin credential exists.
    health: `${controlPlane}/readyz`,
  },
  {
    name: "demo-agent",
    args: () => ["scripts/demo/agent.ts", "--port", String(port.agent), "--name", "demo-agent"],
    health: `${url(port.agent)}/healthz`,
  },
  {
    name: "sidecar",
    args: () => [
      "cmd/sidecar/main.ts",
      "--node-id", "node-1",
      "--domains", "communication,execution",
      "--inbound-listen", `127.0.0.1:${port.inbound}`,
      "--outbound-listen", `127.0.0.1:${port.outbound}`,
      "--advertise", url(port.inbound),
      "--app", url(port.agent),
      "--control-plane", controlPlane,
      "--cache-dir", join(dataDir, "node-1-cache"),
      "--token", credentials.node,
      // No trace collector runs by default; point --otlp-endpoint at one (Jaeger takes OTLP) to see traces.
      "--trace-exporter", "none",
      // The only node: no other sidecar needs time to hear that it left, so Ctrl-C stops at once.
      "--drain-delay", "0s",
    ],
    health: `${url(port.outbound)}/healthz`,
  },
  {
    name: "aggregator",
    // The admin credential reads the registry; the aggregator scrapes every node it lists.
    args: () => ["cmd/aggregator/main.ts", "--listen", `127.0.0.1:${port.aggregator}`, "--control-plane", controlPlane, "--token", adminToken()],
    health: `${url(port.aggregator)}/healthz`,
  },
];

const supervisor = new Supervisor({ root, logDir, label: "start", onUnexpectedExit: "stop-all" });
for (const service of services) {
  if (service.name === "sidecar") {
    try {
      await issueCredentials();
    } catch (error) {
      await supervisor.fail((error as Error).message);
    }
  }
  await supervisor.start(service);
}

const logs = relative(process.cwd(), logDir) || ".";
const token = adminToken();
const rows: [string, string, string][] = [
  ["control plane", controlPlane, "member cp-1, a one-member cluster"],
  ["sidecar", url(port.outbound), "outbound and local API for node-1's app"],
  ["", url(port.inbound), "inbound, where other sidecars call node-1"],
  ["demo agent", url(port.agent), "domains communication, execution, behind the sidecar"],
  ["aggregator", url(port.aggregator), "the dashboard (open it in a browser), cluster metrics, alerts"],
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
  Call the demo agent through the sidecar, as an app on node-1 would (domain execution):
                            export CALLER=${credentials.caller}
                            curl -H "Authorization: Bearer $CALLER" ${url(port.outbound)}/v1/invoke/execution/v1/chat -d '{"message":"hello"}'
  The sidecar's view:       curl ${url(port.outbound)}/v1/status
  The cluster's view:       ${url(port.aggregator)}/   curl ${url(port.aggregator)}/v1/cluster/metrics   curl ${url(port.aggregator)}/v1/alerts
  Check the control plane:  npm run ctl -- --endpoints ${controlPlane} check
  Logs (JSON lines):        ${logs}/
  Stop:                     Ctrl-C
`);
