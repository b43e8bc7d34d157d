// `npm run cluster`: the seed's topology as local processes on loopback. Three control-plane
// members (one Raft cluster on the integrated store), three business nodes, each a sidecar in
// front of a demo agent (domains as the seed's NODE_TYPE: communication,execution /
// coordination,state / core,execution), and the aggregator. Prints where everything listens and
// the commands of the README's walkthrough; Ctrl-C stops everything. A member or sidecar that is
// killed (the walkthrough kills the leader) is reported and the others keep running.
//
//   bun scripts/cluster.ts [--port-offset N] [--data-dir .nagent-cluster]
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Supervisor, issueToken, portOffset, type LocalService } from "./local/supervisor.ts";

const { values } = parseArgs({
  options: {
    "port-offset": { type: "string", default: "0" },
    "data-dir": { type: "string", default: ".nagent-cluster" },
  },
});
const offset = portOffset(values["port-offset"], "cluster");
const root = join(import.meta.dir, "..");
const dataDir = resolve(root, values["data-dir"] ?? ".nagent-cluster");
const logDir = join(dataDir, "logs");
mkdirSync(logDir, { recursive: true });
const url = (port: number) => `http://127.0.0.1:${port + offset}`;

// One admin credential for the whole cluster, made on the first run and kept (mode 0600).
const tokenFile = join(dataDir, "admin-token");
if (!existsSync(tokenFile)) writeFileSync(tokenFile, `nat_${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
const adminToken = process.env.NAGENT_ADMIN_TOKEN ?? readFileSync(tokenFile, "utf8").trim();

const members = [1, 2, 3].map((n) => ({ id: `cp-${n}`, url: url(8080 + n) }));
const peers = members.map((m) => `${m.id}=${m.url}`).join(",");
const endpoints = members.map((m) => m.url).join(",");

const nodes = [
  { id: "node-1", domains: "communication,execution", agent: 3001, inbound: 15106, outbound: 15101 },
  { id: "node-2", domains: "coordination,state", agent: 3002, inbound: 15206, outbound: 15201 },
  { id: "node-3", domains: "core,execution", agent: 3003, inbound: 15306, outbound: 15301 },
];
const aggregator = url(9100);
const nodeTokens = new Map<string, string>();

const services: LocalService[] = [
  ...members.map(
    (member): LocalService => ({
      name: member.id,
      args: () => ["cmd/control-plane/main.ts", "--node-id", member.id, "--listen", member.url.replace("http://", ""), "--peers", peers, "--data-dir", join(dataDir, member.id)],
      env: { NAGENT_ADMIN_TOKEN: adminToken },
      // Alive; the cluster is ready once a majority runs, checked below.
      health: `${member.url}/healthz`,
    }),
  ),
  ...nodes.flatMap((node): LocalService[] => [
    {
      name: `${node.id}-agent`,
      args: () => ["scripts/demo/agent.ts", "--port", String(node.agent + offset), "--name", `${node.id}-agent`],
      health: `${url(node.agent)}/healthz`,
    },
    {
      name: `${node.id}-sidecar`,
      args: () => [
        "cmd/sidecar/main.ts",
        ...["--node-id", node.id, "--domains", node.domains],
        ...["--inbound-listen", `127.0.0.1:${node.inbound + offset}`, "--outbound-listen", `127.0.0.1:${node.outbound + offset}`, "--advertise", url(node.inbound)],
        ...["--app", url(node.agent), "--control-plane", endpoints, "--token", nodeTokens.get(node.id) ?? ""],
        ...["--cache-dir", join(dataDir, `${node.id}-cache`), "--trace-exporter", "none"],
        // On loopback every sidecar hears of a leaving node within milliseconds: 1 s of drain
        // shows the behaviour without making Ctrl-C slow.
        ...["--drain-delay", "1s"],
      ],
      health: `${url(node.outbound)}/readyz`,
    },
  ]),
  {
    name: "aggregator",
    args: () => ["cmd/aggregator/main.ts", "--listen", `127.0.0.1:${9100 + offset}`, "--control-plane", endpoints, "--token", adminToken],
    health: `${aggregator}/healthz`,
  },
];

const supervisor = new Supervisor({ root, logDir, label: "cluster", onUnexpectedExit: "report" });
for (const service of services) {
  if (service.name === "node-1-agent") {
    // Every member up; now a leader, then credentials for the sidecars.
    try {
      await waitForLeader();
      for (const node of nodes) nodeTokens.set(node.id, await issueToken(members[0]!.url, adminToken, node.id, ["node"], 86_400));
    } catch (error) {
      await supervisor.fail((error as Error).message);
    }
  }
  await supervisor.start(service);
}
const caller = await issueToken(members[0]!.url, adminToken, "demo-caller", ["agent"], 86_400).catch((error: unknown) => supervisor.fail((error as Error).message));

async function waitForLeader(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const member of members) {
      const ready = await fetch(`${member.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
    }
    await Bun.sleep(200);
  }
  throw new Error("the three control-plane members did not elect a leader within 30 s");
}

const pad = (text: string, width: number) => text.padEnd(width);
const lines = [
  ...members.map((m) => `  ${pad(m.id, 16)}${pad(m.url, 26)}control-plane member (pid ${supervisor.pid(m.id)})`),
  ...nodes.flatMap((n) => [
    `  ${pad(n.id, 16)}${pad(url(n.outbound), 26)}sidecar outbound and local API, for ${n.id}'s agent (pid ${supervisor.pid(`${n.id}-sidecar`)})`,
    `  ${pad("", 16)}${pad(url(n.inbound), 26)}sidecar inbound; domains ${n.domains}`,
    `  ${pad("", 16)}${pad(url(n.agent), 26)}demo agent`,
  ]),
  `  ${pad("aggregator", 16)}${pad(aggregator, 26)}dashboard (open it in a browser), /v1/cluster/metrics, /v1/alerts`,
];
const cp1 = members[0]!.url;
const n1 = url(nodes[0]!.outbound);
console.log(`
Nagent Mesh cluster is running: 3 control-plane members, 3 nodes and the aggregator on this machine.

${lines.join("\n")}

  export TOKEN=${adminToken}
  export CALLER=${caller}
  Who leads:                curl -H "Authorization: Bearer $TOKEN" ${cp1}/v1/cluster
  Call across nodes:        curl -H "Authorization: Bearer $CALLER" ${n1}/v1/invoke/coordination/v1/chat -d '{"message":"hello"}'
  Change a config value:    curl -X PUT -H "Authorization: Bearer $TOKEN" ${cp1}/v1/config/demo/greeting -d '"hello"'
  ... and watch it arrive:  curl -N ${url(nodes[2]!.outbound)}/v1/config/watch?prefix=demo/
  Kill the leader:          kill -9 <its pid above>; calls keep working and a new leader is elected
  Logs (JSON lines):        ${relative(process.cwd(), logDir) || "."}/
  Stop:                     Ctrl-C
`);
