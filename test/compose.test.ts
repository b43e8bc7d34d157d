// The Docker Compose files (build/docker-compose.yml, and build/docker-compose.etcd.yml on top of
// it) and the Dockerfiles they build (build/docker/). This project's CI has no Docker engine, so
// nothing is built or run here: docker-compose itself validates and resolves the files
// (`docker-compose config`, Debian's docker-compose package, no engine needed), and this suite
// checks that every thing they name exists and fits:
//   - each Dockerfile, and each file it COPYs from the build context (and that its .dockerignore
//     lets that file in); the build stage installs from the lockfile and compiles with the flags
//     of scripts/build.ts, on the Bun the lockfile pins; the final stage holds only the binary,
//     runs as a non-root user and EXPOSEs the binary's default ports;
//   - each image is pinned (a tag that is not latest, or a digest), in Compose and in FROM lines;
//   - each mounted file exists;
//   - each environment variable a service sets is one its binary reads (the "env NAME" lines of
//     `<binary> --help`) or one its third-party image documents; and the whole configuration of
//     each of our services (its environment and command) is accepted by its binary's parser;
//   - each published port is one the service listens on, on all interfaces, published on the
//     host's loopback only;
//   - each host name in a URL (sidecars, control planes, aggregator, etcd, the Prometheus
//     configuration) is a service or network alias of the file, listening on that port; 127.0.0.1
//     is the service's own network namespace (a sidecar's agent shares it);
//   - the seed's topology: three control planes cp-1..3, three nodes with the seed's NODE_TYPE,
//     each a sidecar with its agent; depends_on and network_mode name existing services; one admin
//     token everywhere, from NAGENT_ADMIN_TOKEN or the documented demo default.
import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, posix, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import {
  aggregatorCommand,
  commonOptions,
  controlPlaneCommand,
  parseCommandLine,
  sidecarCommand,
  type CommandSpec,
  type OptionSet,
} from "../internal/config/index.ts";

const root = join(import.meta.dir, "..");
const BASE = "build/docker-compose.yml";
const ETCD = "build/docker-compose.etcd.yml";
const VARIANTS: Record<string, string[]> = {
  "the default (Raft store)": [BASE],
  "the etcd variant": [BASE, ETCD],
};
/** The admin token the Compose file falls back to, and which its header documents. */
const DEMO_ADMIN_TOKEN = "nagent-demo-admin-token-change-me";
/** The seed's business nodes (seeds/000_344db8f5d6db21f3.txt, its Docker Compose section). */
const SEED_NODE_TYPES: Record<string, string> = {
  "node-1": "communication,execution",
  "node-2": "coordination,state",
  "node-3": "core,execution",
};
const SEED_MEMBERS = ["cp-1", "cp-2", "cp-3"];

// ---------------------------------------------------------------------------------------------
// docker-compose

function dockerCompose(): string {
  const found = Bun.which("docker-compose", { PATH: [process.env.PATH ?? "", "/usr/bin"].join(":") });
  if (found === null) {
    throw new Error(
      "docker-compose is not installed, and this suite validates the Compose files with it (no Docker engine " +
        "is needed): install Debian's docker-compose package (apt-get install -y docker-compose), or run " +
        "`npm test`, which installs it.",
    );
  }
  return found;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string[], env: Record<string, string | undefined> = process.env, cwd = root): Run {
  const result = Bun.spawnSync(command, { cwd, env, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** The environment docker-compose runs in: the caller's, without what would change the result. */
function composeEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("COMPOSE_") || name.startsWith("NAGENT_") || name.startsWith("DOCKER_")) delete env[name];
  }
  return { ...env, ...extra };
}

const configCache = new Map<string, Run>();
/** `docker-compose -f ... config` from the repository root, memoised. */
function composeConfigRun(files: string[], extra: Record<string, string> = {}): Run {
  const key = JSON.stringify([files, extra]);
  let result = configCache.get(key);
  if (result === undefined) {
    const command = [dockerCompose(), ...files.flatMap((file) => ["-f", file]), "config"];
    result = run(command, composeEnv(extra));
    configCache.set(key, result);
  }
  return result;
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[] | string;
  environment?: Record<string, string | null> | string[];
  ports?: (string | number | { target: number | string; published?: number | string; host_ip?: string; protocol?: string })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  network_mode?: string;
  networks?: Record<string, { aliases?: string[] } | null> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
}

interface ComposeModel {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The resolved model (files merged, variables interpolated, paths absolute), as docker-compose prints it. */
function model(files: string[], extra: Record<string, string> = {}): ComposeModel {
  const result = composeConfigRun(files, extra);
  if (result.code !== 0) {
    throw new Error(`docker-compose ${files.map((f) => `-f ${f}`).join(" ")} config exited ${result.code}:\n${result.stderr}`);
  }
  return parse(result.stdout) as ComposeModel;
}

// ---------------------------------------------------------------------------------------------
// Normalising what docker-compose prints (v1 prints short syntax, v2 long syntax)

function environmentOf(service: Service): Record<string, string> {
  const env: Record<string, string> = {};
  const raw = service.environment ?? {};
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const eq = item.indexOf("=");
      env[eq < 0 ? item : item.slice(0, eq)] = eq < 0 ? "" : item.slice(eq + 1);
    }
  } else {
    for (const [name, value] of Object.entries(raw)) env[name] = value === null ? "" : String(value);
  }
  return env;
}

function commandOf(service: Service): string[] | undefined {
  if (service.command === undefined) return undefined;
  if (Array.isArray(service.command)) return service.command.map(String);
  return service.command.split(/\s+/).filter((word) => word !== "");
}

interface Published {
  hostIp: string;
  published: string;
  target: number;
  protocol: string;
}

function portsOf(service: Service): Published[] {
  return (service.ports ?? []).map((port): Published => {
    if (typeof port === "object") {
      return {
        hostIp: port.host_ip ?? "",
        published: String(port.published ?? ""),
        target: Number(port.target),
        protocol: port.protocol ?? "tcp",
      };
    }
    const [spec = "", protocol = "tcp"] = String(port).split("/");
    const parts = spec.split(":");
    const target = Number(parts.pop());
    const published = parts.pop() ?? "";
    return { hostIp: parts.join(":"), published, target, protocol };
  });
}

interface Mount {
  kind: "bind" | "volume";
  source: string;
  target: string;
}

function mountsOf(service: Service): Mount[] {
  return (service.volumes ?? []).map((volume): Mount => {
    if (typeof volume === "object") {
      const source = volume.source ?? "";
      return { kind: volume.type === "bind" ? "bind" : "volume", source, target: volume.target };
    }
    const [source = "", target = ""] = volume.split(":");
    const bind = isAbsolute(source) || source.startsWith(".");
    return { kind: bind ? "bind" : "volume", source, target };
  });
}

function dependsOn(service: Service): string[] {
  const raw = service.depends_on ?? [];
  return Array.isArray(raw) ? raw : Object.keys(raw);
}

function aliasesOf(service: Service): string[] {
  if (service.networks === undefined || Array.isArray(service.networks)) return [];
  return Object.values(service.networks).flatMap((network) => network?.aliases ?? []);
}

/** The service whose network namespace `name` lives in (itself, or the one of network_mode service:X). */
function namespaceOf(compose: ComposeModel, name: string): string {
  const mode = compose.services[name]?.network_mode ?? "";
  return mode.startsWith("service:") ? mode.slice("service:".length) : name;
}

/** Host names that resolve on the Compose network: service names and aliases (not services in another's namespace). */
function resolver(compose: ComposeModel): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.network_mode !== undefined) continue;
    names.set(name, name);
    for (const alias of aliasesOf(service)) names.set(alias, name);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

interface Dockerfile {
  path: string;
  globalArgs: Record<string, string>;
  stages: Stage[];
}

function parseDockerfile(path: string): Dockerfile {
  const lines = readFileSync(path, "utf8").split("\n");
  const instructions: Instruction[] = [];
  let current = "";
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (current === "" && (line.trim() === "" || line.trimStart().startsWith("#"))) continue;
    if (current !== "" && line.trimStart().startsWith("#")) continue; // a comment inside a continued instruction
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const match = /^\s*(\S+)\s*(.*)$/.exec(current);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
    current = "";
  }
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [image = "", as, name] = instruction.args.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => globalArgs[(a ?? b)!] ?? "");
      stages.push({ from, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === "ARG") {
        const [name = "", value = ""] = instruction.args.split("=");
        globalArgs[name] = value;
      }
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { path, globalArgs, stages };
}

/** Words of an instruction: a JSON array (exec form) or whitespace-separated. */
function words(args: string): string[] {
  if (args.startsWith("[")) return JSON.parse(args) as string[];
  return args.split(/\s+/).filter((word) => word !== "");
}

interface Copy {
  from: string | undefined;
  sources: string[];
  destination: string;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((instruction) => instruction.keyword === "COPY" || instruction.keyword === "ADD")
    .map((instruction) => {
      const all = words(instruction.args);
      const flags = all.filter((word) => word.startsWith("--"));
      const rest = all.filter((word) => !word.startsWith("--"));
      const from = flags.find((flag) => flag.startsWith("--from="))?.slice("--from=".length);
      return { from, sources: rest.slice(0, -1), destination: rest.at(-1) ?? "" };
    });
}

function envOfStage(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === "ENV")) {
    if (instruction.args.includes("=")) {
      for (const pair of instruction.args.split(/\s+/)) {
        const eq = pair.indexOf("=");
        env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"(.*)"$/, "$1");
      }
    } else {
      const [name = "", ...value] = instruction.args.split(/\s+/);
      env[name] = value.join(" ");
    }
  }
  return env;
}

function last(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.args;
}

/**
 * Whether a .dockerignore (Docker's rules: the last matching pattern wins, `!` re-includes, a
 * pattern that matches a directory matches everything under it) lets `path` into the context.
 */
function includedByDockerignore(patterns: string[], path: string): boolean {
  const ancestors: string[] = [];
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i += 1) ancestors.push(parts.slice(0, i).join("/"));
  let included = true;
  for (const line of patterns) {
    const negated = line.startsWith("!");
    const pattern = posix.normalize((negated ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, "");
    if (pattern === "" || pattern === ".") continue;
    const glob = new Bun.Glob(pattern);
    if (ancestors.some((candidate) => glob.match(candidate))) included = negated;
  }
  return included;
}

function dockerignoreOf(dockerfilePath: string): string[] | undefined {
  const own = `${dockerfilePath}.dockerignore`;
  const fallback = join(root, ".dockerignore");
  const file = existsSync(own) ? own : existsSync(fallback) ? fallback : undefined;
  if (file === undefined) return undefined;
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The image reference is pinned: a digest, or a tag other than latest. */
function pinned(image: string): boolean {
  if (image.includes("@sha256:")) return true;
  const lastPart = image.split("/").at(-1) ?? "";
  const colon = lastPart.indexOf(":");
  if (colon < 0) return false;
  const tag = lastPart.slice(colon + 1);
  return tag !== "" && tag !== "latest" && !tag.includes("$");
}

// ---------------------------------------------------------------------------------------------
// Our binaries

type BinaryName = "control-plane" | "sidecar" | "aggregator" | "demo-agent";
const SPECS: Record<Exclude<BinaryName, "demo-agent">, CommandSpec<OptionSet>> = {
  "control-plane": controlPlaneCommand as unknown as CommandSpec<OptionSet>,
  sidecar: sidecarCommand as unknown as CommandSpec<OptionSet>,
  aggregator: aggregatorCommand as unknown as CommandSpec<OptionSet>,
};

/** Which of our binaries a service runs: the Dockerfile it builds is build/docker/<binary>.Dockerfile. */
function binaryOf(service: Service): BinaryName | undefined {
  const dockerfile = service.build?.dockerfile;
  if (dockerfile === undefined) return undefined;
  const name = basename(dockerfile).replace(/\.Dockerfile$/, "");
  return name in SPECS || name === "demo-agent" ? (name as BinaryName) : undefined;
}

function dockerfileOf(service: Service): Dockerfile {
  const build = service.build!;
  return parseDockerfile(resolve(build.context, build.dockerfile ?? "Dockerfile"));
}

const helpCache = new Map<string, Set<string>>();
/** The environment variables a binary reads: the "env NAME" lines of `bun cmd/<binary>/main.ts --help`. */
function envNamesFromHelp(binary: Exclude<BinaryName, "demo-agent">): Set<string> {
  let names = helpCache.get(binary);
  if (names === undefined) {
    const result = run([process.execPath, join(root, "cmd", binary, "main.ts"), "--help"]);
    expect(result.code).toBe(0);
    names = new Set([...result.stdout.matchAll(/^\s+env ([A-Z][A-Z0-9_]*)/gm)].map((match) => match[1]!));
    expect(names.size).toBeGreaterThan(5);
    helpCache.set(binary, names);
  }
  return names;
}

/** The demo agent's flags and their defaults, read from its parseArgs options in scripts/demo/agent.ts. */
function agentOptions(): Record<string, string> {
  const source = readFileSync(join(root, "scripts", "demo", "agent.ts"), "utf8");
  const options: Record<string, string> = {};
  for (const match of source.matchAll(/(\w+): \{ type: "string", default: "([^"]*)" \}/g)) options[match[1]!] = match[2]!;
  expect(Object.keys(options)).toContain("port");
  return options;
}

interface Listener {
  host: string;
  port: number;
}

interface Resolved {
  binary: BinaryName;
  env: Record<string, string>;
  argv: string[];
  config: Record<string, unknown>;
  listeners: Listener[];
}

/**
 * One of our services as its binary sees it: the image's ENV with the service's environment on
 * top, the command as arguments after the ENTRYPOINT, parsed by the binary's own parser (which
 * throws the one-line error the binary would exit 2 with).
 */
function resolveOurs(name: string, service: Service): Resolved {
  const binary = binaryOf(service)!;
  const dockerfile = dockerfileOf(service);
  const final = dockerfile.stages.at(-1)!;
  const env = { ...envOfStage(final), ...environmentOf(service) };
  const cmd = last(final, "CMD");
  const argv = commandOf(service) ?? (cmd === undefined ? [] : words(cmd));
  if (binary === "demo-agent") {
    const defaults = agentOptions();
    const options = Object.fromEntries(Object.keys(defaults).map((key) => [key, { type: "string" as const }]));
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    const config = { ...defaults, ...values } as Record<string, unknown>;
    // scripts/demo/agent.ts listens on 127.0.0.1 only.
    return { binary, env, argv, config, listeners: [{ host: "127.0.0.1", port: Number(config.port) }] };
  }
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(SPECS[binary], argv, env, () => {
      throw new Error("no --config file in the Compose setup");
    });
  } catch (error) {
    throw new Error(`service ${name}: its ${binary} would refuse to start: ${(error as Error).message}`);
  }
  if (parsed.kind !== "run") throw new Error(`service ${name}: ${binary} would print ${parsed.kind} and exit`);
  const config = parsed.config as Record<string, unknown>;
  const listenKeys = binary === "sidecar" ? ["inboundListen", "outboundListen"] : ["listen"];
  const listeners = listenKeys.map((key) => config[key] as Listener);
  return { binary, env, argv, config, listeners };
}

/** A binary's configuration with no environment (the sidecar needs a node id): its defaults. */
function defaultsOf(binary: Exclude<BinaryName, "demo-agent">): Record<string, unknown> {
  const parsed = parseCommandLine(SPECS[binary], [], { NODE_ID: "defaults" });
  if (parsed.kind !== "run") throw new Error("unreachable");
  return parsed.config as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Third-party images: the ports they listen on and the environment variables they document

interface ThirdParty {
  /** Environment variables the image documents (checked by name). */
  env: (name: string) => boolean;
  listeners: (service: Service) => Listener[];
}

/** etcd: every flag --some-flag is also ETCD_SOME_FLAG (https://etcd.io/docs/v3.5/op-guide/configuration/). */
const ETCD_VARIABLES = new Set([
  "ETCD_NAME",
  "ETCD_DATA_DIR",
  "ETCD_INITIAL_CLUSTER",
  "ETCD_INITIAL_CLUSTER_STATE",
  "ETCD_INITIAL_CLUSTER_TOKEN",
  "ETCD_INITIAL_ADVERTISE_PEER_URLS",
  "ETCD_ADVERTISE_CLIENT_URLS",
  "ETCD_LISTEN_PEER_URLS",
  "ETCD_LISTEN_CLIENT_URLS",
  "ETCD_LISTEN_METRICS_URLS",
  "ETCD_LOG_LEVEL",
  "ETCD_AUTO_COMPACTION_MODE",
  "ETCD_AUTO_COMPACTION_RETENTION",
  "ETCD_QUOTA_BACKEND_BYTES",
  "ETCD_SNAPSHOT_COUNT",
  "ETCD_HEARTBEAT_INTERVAL",
  "ETCD_ELECTION_TIMEOUT",
]);

function etcdListeners(service: Service): Listener[] {
  const env = environmentOf(service);
  const listeners: Listener[] = [];
  for (const [name, fallback] of [
    ["ETCD_LISTEN_CLIENT_URLS", "http://localhost:2379"],
    ["ETCD_LISTEN_PEER_URLS", "http://localhost:2380"],
  ] as const) {
    for (const url of (env[name] || fallback).split(",")) {
      const parsed = new URL(url);
      listeners.push({ host: parsed.hostname, port: Number(parsed.port) });
    }
  }
  return listeners;
}

const THIRD_PARTY: Record<string, ThirdParty> = {
  // https://www.jaegertracing.io/docs/1.62/getting-started/ : UI 16686, OTLP 4317 (gRPC) and 4318
  // (HTTP), the legacy collector 14268 and 14250, admin/health 14269.
  "jaegertracing/all-in-one": {
    env: (name) => ["COLLECTOR_OTLP_ENABLED", "COLLECTOR_ZIPKIN_HOST_PORT", "SPAN_STORAGE_TYPE", "MEMORY_MAX_TRACES"].includes(name),
    listeners: () => [16686, 4317, 4318, 14268, 14250, 14269].map((port) => ({ host: "0.0.0.0", port })),
  },
  "prom/prometheus": {
    env: () => false,
    listeners: () => [{ host: "0.0.0.0", port: 9090 }],
  },
  "quay.io/coreos/etcd": { env: (name) => ETCD_VARIABLES.has(name), listeners: etcdListeners },
  "gcr.io/etcd-development/etcd": { env: (name) => ETCD_VARIABLES.has(name), listeners: etcdListeners },
};

function thirdPartyOf(service: Service): ThirdParty | undefined {
  const image = service.image ?? "";
  const repository = image.replace(/@.*$/, "").replace(/:[^/]*$/, "");
  return service.build === undefined ? THIRD_PARTY[repository] : undefined;
}

/** Every service's listeners, ours parsed from their configuration, third-party ones as documented. */
function listenersOf(compose: ComposeModel): Map<string, Listener[]> {
  const all = new Map<string, Listener[]>();
  for (const [name, service] of Object.entries(compose.services)) {
    if (binaryOf(service) !== undefined) all.set(name, resolveOurs(name, service).listeners);
    else {
      const known = thirdPartyOf(service);
      if (known === undefined) throw new Error(`service ${name}: image ${service.image} is neither built here nor known to this test`);
      all.set(name, known.listeners(service));
    }
  }
  return all;
}

const isLoopback = (host: string) => host === "localhost" || host.startsWith("127.") || host === "::1";
const isAllInterfaces = (host: string) => host === "0.0.0.0" || host === "::" || host === "";

/** Listeners of every service in the network namespace of `name`. */
function namespaceListeners(compose: ComposeModel, listeners: Map<string, Listener[]>, name: string): Listener[] {
  const namespace = namespaceOf(compose, name);
  return Object.keys(compose.services)
    .filter((other) => namespaceOf(compose, other) === namespace)
    .flatMap((other) => listeners.get(other) ?? []);
}

/**
 * Checks that a URL used by service `from` reaches something: 127.0.0.1/localhost is `from`'s own
 * network namespace (a listener there on loopback or all interfaces); any other host must be a
 * service or alias on the Compose network with a listener on that port reachable from outside.
 * Answers the problem, or undefined.
 */
function checkUrl(compose: ComposeModel, listeners: Map<string, Listener[]>, from: string, what: string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${from}: ${what} "${url}" is not a URL`;
  }
  const port = Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80));
  const host = parsed.hostname;
  if (isLoopback(host)) {
    const local = namespaceListeners(compose, listeners, from);
    return local.some((listener) => listener.port === port && (isLoopback(listener.host) || isAllInterfaces(listener.host)))
      ? undefined
      : `${from}: ${what} ${url}: nothing in ${from}'s network namespace listens on ${port}`;
  }
  const target = resolver(compose).get(host);
  if (target === undefined) return `${from}: ${what} ${url}: no service or network alias is named "${host}"`;
  const remote = namespaceListeners(compose, listeners, target);
  return remote.some((listener) => listener.port === port && isAllInterfaces(listener.host))
    ? undefined
    : `${from}: ${what} ${url}: service ${target} does not listen on ${port} on its network interface`;
}

/** URLs found in a parsed configuration value: strings, lists of them, peers ({id, url}). */
function urlsIn(value: unknown): string[] {
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value !== null && typeof value === "object" && "url" in value) return urlsIn((value as { url: unknown }).url);
  return [];
}

/** For our binaries: the option key each environment variable sets. */
function optionKeyForEnv(binary: Exclude<BinaryName, "demo-agent">, name: string): string | undefined {
  const options: OptionSet = { ...commonOptions, ...SPECS[binary].options };
  return Object.entries(options).find(([, option]) => option.env === name)?.[0];
}

/** For our binaries: the option key a --flag sets. */
function optionKeyForFlag(binary: Exclude<BinaryName, "demo-agent">, flag: string): string | undefined {
  const options: OptionSet = { ...commonOptions, ...SPECS[binary].options };
  return Object.entries(options).find(([, option]) => option.flag === flag)?.[0];
}

// ---------------------------------------------------------------------------------------------
// The tests

describe.each(Object.entries(VARIANTS))("%s", (_label, files) => {
  test("docker-compose config accepts it", () => {
    const result = composeConfigRun(files);
    if (result.code !== 0) throw new Error(`docker-compose config exited ${result.code}:\n${result.stderr}`);
    expect(result.code).toBe(0);
    expect(Object.keys(model(files).services).length).toBeGreaterThan(0);
  });

  test("depends_on and network_mode name services of the file; named volumes are declared", () => {
    const compose = model(files);
    const names = new Set(Object.keys(compose.services));
    for (const [name, service] of Object.entries(compose.services)) {
      for (const dependency of dependsOn(service)) {
        expect({ service: name, dependsOn: dependency, exists: names.has(dependency) }).toEqual({ service: name, dependsOn: dependency, exists: true });
      }
      const mode = service.network_mode;
      if (mode !== undefined) {
        expect(mode).toStartWith("service:");
        expect(names.has(mode.slice("service:".length))).toBe(true);
        expect(dependsOn(service)).toContain(mode.slice("service:".length));
      }
      for (const mount of mountsOf(service).filter((m) => m.kind === "volume")) {
        expect(Object.keys(compose.volumes ?? {})).toContain(mount.source);
      }
    }
  });

  test("every image is pinned: a tag other than latest, or a digest", () => {
    const compose = model(files);
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build === undefined) expect(service.image).toBeDefined();
      if (service.image !== undefined) expect({ service: name, image: service.image, pinned: pinned(service.image) }).toEqual({ service: name, image: service.image, pinned: true });
    }
  });

  test("each mounted file exists", () => {
    const compose = model(files);
    let binds = 0;
    for (const [name, service] of Object.entries(compose.services)) {
      for (const mount of mountsOf(service).filter((m) => m.kind === "bind")) {
        const source = resolve(root, "build", mount.source);
        expect({ service: name, mount: mount.source, exists: existsSync(source) }).toEqual({ service: name, mount: mount.source, exists: true });
        binds += 1;
      }
    }
    expect(binds).toBeGreaterThan(0);
  });

  test("each environment variable a service sets is read by its binary (--help) or documented for its image", () => {
    const compose = model(files);
    for (const [name, service] of Object.entries(compose.services)) {
      const binary = binaryOf(service);
      const env = Object.keys(environmentOf(service));
      if (binary === "demo-agent") {
        expect({ service: name, environment: env }).toEqual({ service: name, environment: [] });
      } else if (binary !== undefined) {
        const known = envNamesFromHelp(binary);
        for (const variable of env) {
          expect({ service: name, variable, readBy: known.has(variable) ? binary : "nothing" }).toEqual({ service: name, variable, readBy: binary });
        }
      } else {
        const thirdParty = thirdPartyOf(service);
        expect(thirdParty).toBeDefined();
        for (const variable of env) {
          expect({ service: name, variable, documented: thirdParty!.env(variable) }).toEqual({ service: name, variable, documented: true });
        }
      }
    }
  });

  test("each of our services' environment and command is a configuration its binary accepts", () => {
    const compose = model(files);
    let ours = 0;
    for (const [name, service] of Object.entries(compose.services)) {
      if (binaryOf(service) === undefined) continue;
      resolveOurs(name, service); // throws the binary's own one-line complaint
      ours += 1;
    }
    expect(ours).toBe(10);
  });

  test("each published port is one the service listens on, on all its interfaces, published on the host's loopback", () => {
    const compose = model(files);
    const listeners = listenersOf(compose);
    const published = new Map<string, number[]>();
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of portsOf(service)) {
        // Ports belong to a network namespace: a service sharing this one's (a node's sidecar) counts.
        const local = namespaceListeners(compose, listeners, name);
        const listening = local.some((listener) => listener.port === port.target && isAllInterfaces(listener.host));
        expect({ service: name, port: port.target, listening }).toEqual({ service: name, port: port.target, listening: true });
        // The demo admin token is public: nothing is offered beyond this machine.
        expect({ service: name, port: port.target, hostIp: port.hostIp }).toEqual({ service: name, port: port.target, hostIp: "127.0.0.1" });
        published.set(name, [...(published.get(name) ?? []), port.target]);
      }
    }
    // What a user needs: one control plane, the aggregator's dashboard, Prometheus, the Jaeger UI.
    const byBinary = (binary: BinaryName) => Object.keys(compose.services).filter((name) => binaryOf(compose.services[name]!) === binary);
    expect(byBinary("control-plane").filter((name) => published.get(name)?.includes(8080)).length).toBe(1);
    expect(byBinary("aggregator").some((name) => published.get(name)?.includes(9100))).toBe(true);
    expect(published.get("prometheus")).toEqual([9090]);
    expect(published.get("jaeger")).toEqual([16686]);
    // The agents themselves are reachable from their own namespace alone.
    for (const name of byBinary("demo-agent")) {
      const agentPorts = (listeners.get(name) ?? []).map((listener) => listener.port);
      for (const port of published.get(name) ?? []) expect(agentPorts).not.toContain(port);
    }
  });

  test("each host name in a URL is a service or alias of the file that listens on that port", () => {
    const compose = model(files);
    const listeners = listenersOf(compose);
    const problems: string[] = [];
    let checked = 0;
    for (const [name, service] of Object.entries(compose.services)) {
      const binary = binaryOf(service);
      const env = environmentOf(service);
      if (binary !== undefined && binary !== "demo-agent") {
        // Through the binary's parser, so that CLUSTER_PEERS's bare ids count as http://ID:8080.
        const resolved = resolveOurs(name, service);
        const keys = [
          ...Object.keys(env).map((variable) => optionKeyForEnv(binary, variable)),
          ...resolved.argv.filter((word) => word.startsWith("--")).map((flag) => optionKeyForFlag(binary, flag.slice(2).split("=")[0]!)),
        ];
        for (const key of keys) {
          if (key === undefined) continue;
          for (const url of urlsIn(resolved.config[key])) {
            const problem = checkUrl(compose, listeners, name, key, url);
            if (problem !== undefined) problems.push(problem);
            checked += 1;
          }
        }
      } else if (binary === undefined) {
        for (const [variable, value] of Object.entries(env)) {
          if (variable.includes("LISTEN")) continue; // bind addresses, not destinations
          for (const item of value.split(",")) {
            const url = item.slice(item.indexOf("=") + 1); // etcd's NAME=URL lists
            if (!/^https?:\/\//.test(url)) continue;
            const problem = checkUrl(compose, listeners, name, variable, url);
            if (problem !== undefined) problems.push(problem);
            checked += 1;
          }
        }
      }
    }
    // The Prometheus configuration mounted into the prometheus service.
    const prometheus = compose.services.prometheus!;
    const configMount = mountsOf(prometheus).find((mount) => mount.target === "/etc/prometheus/prometheus.yml");
    expect(configMount).toBeDefined();
    const config = parse(readFileSync(resolve(root, "build", configMount!.source), "utf8")) as PrometheusConfig;
    for (const job of config.scrape_configs) {
      for (const target of job.static_configs?.flatMap((group) => group.targets) ?? []) {
        const problem = checkUrl(compose, listeners, "prometheus", `${job.job_name} target`, `http://${target}`);
        if (problem !== undefined) problems.push(problem);
        checked += 1;
      }
      for (const sd of job.http_sd_configs ?? []) {
        const problem = checkUrl(compose, listeners, "prometheus", `${job.job_name} http_sd_configs`, sd.url);
        if (problem !== undefined) problems.push(problem);
        checked += 1;
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  test("the seed's topology: members cp-1..3, three nodes with the seed's NODE_TYPE, each a sidecar with its agent", () => {
    const compose = model(files);
    const services = Object.entries(compose.services);
    const names = resolver(compose);
    const ofBinary = (binary: BinaryName) => services.filter(([, service]) => binaryOf(service) === binary);

    const members = ofBinary("control-plane").map(([name, service]) => ({ name, ...resolveOurs(name, service) }));
    expect(members.map((member) => member.config.nodeId).sort()).toEqual(SEED_MEMBERS);
    for (const member of members) {
      expect(member.env.NODE_ID).toBe(member.config.nodeId as string);
      // As the seed writes it: bare ids, every member's own included.
      expect(member.env.CLUSTER_PEERS).toBe(SEED_MEMBERS.join(","));
      const self = (member.config.peers as { id: string; url: string }[]).find((peer) => peer.id === member.config.nodeId)!;
      expect(names.get(new URL(self.url).hostname)).toBe(member.name);
      if (member.config.store === "raft") {
        // The integrated store's data survives the container.
        const dataDir = member.config.dataDir as string;
        const volume = mountsOf(compose.services[member.name]!).find((mount) => mount.kind === "volume" && (dataDir + "/").startsWith(mount.target.replace(/\/?$/, "/")));
        expect({ member: member.name, dataDir, onVolume: volume !== undefined }).toEqual({ member: member.name, dataDir, onVolume: true });
      }
    }
    const memberServices = members.map((member) => member.name).sort();

    const sidecars = ofBinary("sidecar").map(([name, service]) => ({ name, ...resolveOurs(name, service) }));
    const nodeTypes = Object.fromEntries(sidecars.map((sidecar) => [sidecar.env.NODE_ID, sidecar.env.NODE_TYPE]));
    expect(nodeTypes).toEqual(SEED_NODE_TYPES);
    const agents = ofBinary("demo-agent").map(([name, service]) => ({ name, service, ...resolveOurs(name, service) }));
    for (const sidecar of sidecars) {
      expect((sidecar.config.domains as string[]).join(",")).toBe(SEED_NODE_TYPES[sidecar.config.nodeId as string]!);
      // Every control plane, by its service name (as the seed writes CONTROL_PLANE_ENDPOINTS).
      expect((sidecar.config.controlPlane as string[]).map((url) => names.get(new URL(url).hostname)).sort()).toEqual(memberServices);
      // It advertises an address that reaches its own inbound port (its namespace's name on the network).
      const advertise = new URL(sidecar.config.advertise as string);
      expect(names.get(advertise.hostname)).toBe(namespaceOf(compose, sidecar.name));
      expect(Number(advertise.port)).toBe((sidecar.config.inboundListen as Listener).port);
      // Exactly one agent lives in its network namespace, and the sidecar forwards to its port.
      const mine = agents.filter((agent) => namespaceOf(compose, agent.name) === namespaceOf(compose, sidecar.name));
      expect(mine.length).toBe(1);
      const app = new URL(sidecar.config.app as string);
      expect(isLoopback(app.hostname)).toBe(true);
      expect(Number(app.port)).toBe(mine[0]!.listeners[0]!.port);
      // Traces go to the Jaeger service over OTLP/HTTP (port 4318; 4317 is OTLP/gRPC, which the sidecar does not speak).
      expect(sidecar.config.traceExporter).toBe("otlp");
      const otlp = new URL(sidecar.config.otlpEndpoint as string);
      expect(names.get(otlp.hostname)).toBe("jaeger");
      expect(`${otlp.port}${otlp.pathname}`).toBe("4318/v1/traces");
    }
    expect(agents.length).toBe(3);

    const aggregators = ofBinary("aggregator").map(([name, service]) => ({ name, ...resolveOurs(name, service) }));
    expect(aggregators.length).toBe(1);
    expect((aggregators[0]!.config.controlPlane as string[]).map((url) => names.get(new URL(url).hostname)).sort()).toEqual(memberServices);
    expect(compose.services.jaeger?.image).toStartWith("jaegertracing/all-in-one:");
    expect(environmentOf(compose.services.jaeger!).COLLECTOR_OTLP_ENABLED).toBe("true");
    expect(compose.services.prometheus?.image).toStartWith("prom/prometheus:");
  });

  test("one admin token: NAGENT_ADMIN_TOKEN from the shell, else the documented demo default", () => {
    const header = readFileSync(join(root, BASE), "utf8");
    expect(header).toContain(`\${NAGENT_ADMIN_TOKEN:-${DEMO_ADMIN_TOKEN}}`);
    for (const [token, extra] of [
      [DEMO_ADMIN_TOKEN, {}],
      ["a-token-from-the-shell-0123456789", { NAGENT_ADMIN_TOKEN: "a-token-from-the-shell-0123456789" }],
    ] as const) {
      const compose = model(files, extra);
      const seen: string[] = [];
      for (const service of Object.values(compose.services)) {
        const binary = binaryOf(service);
        const env = environmentOf(service);
        if (binary === "control-plane") seen.push(env.NAGENT_ADMIN_TOKEN ?? "(unset)");
        // The sidecars' and the aggregator's credential towards the control plane.
        if (binary === "sidecar" || binary === "aggregator") seen.push(env.NAGENT_TOKEN ?? "(unset)");
      }
      expect(seen.length).toBe(7);
      expect(new Set(seen)).toEqual(new Set([token]));
    }
  });
});

describe("the etcd variant", () => {
  test("is an override of the default file, and moves the three control planes onto a three-member etcd", () => {
    const text = readFileSync(join(root, ETCD), "utf8");
    expect(text).toContain("docker-compose -f build/docker-compose.yml -f build/docker-compose.etcd.yml");
    const compose = model([BASE, ETCD]);
    const names = resolver(compose);
    const etcd = Object.entries(compose.services).filter(([, service]) => thirdPartyOf(service)?.listeners === etcdListeners);
    expect(etcd.map(([name]) => name).sort()).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
    // One cluster: the same initial cluster everywhere, naming each member at its advertised peer URL.
    const clusters = new Set(etcd.map(([, service]) => environmentOf(service).ETCD_INITIAL_CLUSTER));
    expect(clusters.size).toBe(1);
    const initial = Object.fromEntries([...clusters][0]!.split(",").map((entry) => entry.split("=") as [string, string]));
    for (const [name, service] of etcd) {
      const env = environmentOf(service);
      expect(initial[env.ETCD_NAME!]).toBe(env.ETCD_INITIAL_ADVERTISE_PEER_URLS!);
      expect(names.get(new URL(env.ETCD_INITIAL_ADVERTISE_PEER_URLS!).hostname)).toBe(name);
      expect(names.get(new URL(env.ETCD_ADVERTISE_CLIENT_URLS!).hostname)).toBe(name);
      expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe("new");
      // Peers are advertised on the peer port, clients on the client port.
      const urlPorts = (variable: string) => (env[variable] ?? "").split(",").map((url) => new URL(url).port);
      expect(urlPorts("ETCD_INITIAL_ADVERTISE_PEER_URLS")).toEqual(urlPorts("ETCD_LISTEN_PEER_URLS"));
      expect(urlPorts("ETCD_ADVERTISE_CLIENT_URLS")).toEqual(urlPorts("ETCD_LISTEN_CLIENT_URLS"));
    }
    expect(new Set(etcd.map(([, service]) => service.image)).size).toBe(1);
    for (const [name, service] of Object.entries(compose.services)) {
      if (binaryOf(service) !== "control-plane") continue;
      const { config } = resolveOurs(name, service);
      expect(config.store).toBe("etcd");
      expect((config.etcdEndpoints as string[]).map((url) => names.get(new URL(url).hostname)).sort()).toEqual(["etcd-1", "etcd-2", "etcd-3"]);
      for (const member of ["etcd-1", "etcd-2", "etcd-3"]) expect(dependsOn(service)).toContain(member);
    }
    // The default file alone runs the integrated store.
    for (const [name, service] of Object.entries(model([BASE]).services)) {
      if (binaryOf(service) === "control-plane") expect(resolveOurs(name, service).config.store).toBe("raft");
    }
  });

  test("local etcd, when installed, knows every ETCD_ variable as a flag", () => {
    const etcd = Bun.which("etcd", { PATH: [process.env.PATH ?? "", "/usr/bin"].join(":") });
    if (etcd === null) return; // the static list above, from etcd's documentation, still applies
    const help = run([etcd, "--help"]);
    const flags = new Set([...`${help.stdout}${help.stderr}`.matchAll(/^\s+--([a-z][a-z0-9-]*)/gm)].map((match) => match[1]!));
    expect(flags.size).toBeGreaterThan(20);
    const used = Object.values(model([BASE, ETCD]).services).flatMap((service) =>
      thirdPartyOf(service)?.listeners === etcdListeners ? Object.keys(environmentOf(service)) : [],
    );
    for (const variable of new Set(used)) {
      expect({ variable, flag: flags.has(variable.slice("ETCD_".length).toLowerCase().replaceAll("_", "-")) }).toEqual({ variable, flag: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The Dockerfiles

const DOCKERFILES: BinaryName[] = ["control-plane", "sidecar", "aggregator", "demo-agent"];

/** The `bun build` flags of scripts/build.ts (`npm run build`), which the images must compile with too. */
function buildScriptFlags(): { flags: string[]; defines: string[] } {
  const source = readFileSync(join(root, "scripts", "build.ts"), "utf8");
  const call = source.slice(source.indexOf('"build"'), source.indexOf("{ cwd: root"));
  expect(call.length).toBeGreaterThan(0);
  const flags = [...call.matchAll(/"(--[a-z][a-z-]*)"/g)].map((match) => match[1]!).filter((flag) => flag !== "--outfile" && flag !== "--define");
  const defines = [...call.matchAll(/`([A-Z][A-Z0-9_]*)=/g)].map((match) => match[1]!);
  expect(flags).toContain("--compile");
  return { flags, defines };
}

describe.each(DOCKERFILES)("build/docker/%s.Dockerfile", (binary) => {
  const path = join(root, "build", "docker", `${binary}.Dockerfile`);

  test("is the one the Compose file builds that binary with, from the repository root", () => {
    const compose = model([BASE]);
    const users = Object.values(compose.services).filter((service) => binaryOf(service) === binary);
    expect(users.length).toBeGreaterThan(0);
    for (const service of users) {
      expect(resolve(service.build!.context)).toBe(resolve(root));
      expect(resolve(service.build!.context, service.build!.dockerfile!)).toBe(path);
      expect(service.image).toBe(`nagent/${binary}:local`);
    }
    expect(existsSync(path)).toBe(true);
  });

  test("copies only files that exist and that its .dockerignore lets into the context", () => {
    const dockerfile = parseDockerfile(path);
    const ignore = dockerignoreOf(path);
    // Without one, Docker would send node_modules and build/bin (hundreds of MB) as the context.
    expect(ignore).toBeDefined();
    let sources = 0;
    for (const stage of dockerfile.stages) {
      for (const copy of copiesOf(stage).filter((c) => c.from === undefined)) {
        for (const source of copy.sources) {
          const full = join(root, source);
          expect({ source, exists: existsSync(full) }).toEqual({ source, exists: true });
          expect({ source, inContext: includedByDockerignore(ignore!, source.replace(/\/+$/, "")) }).toEqual({ source, inContext: true });
          for (const file of filesUnder(full)) {
            const inside = relative(root, file);
            // Tests may stay out; everything else a COPY names must go in.
            if (!inside.endsWith(".test.ts")) expect({ file: inside, inContext: includedByDockerignore(ignore!, inside) }).toEqual({ file: inside, inContext: true });
          }
          sources += 1;
        }
      }
    }
    expect(sources).toBeGreaterThan(0);
    // And the context stays small.
    for (const outside of ["node_modules/yaml/package.json", "build/bin/sidecar", ".git/HEAD", "README.md"]) {
      expect({ outside, inContext: includedByDockerignore(ignore!, outside) }).toEqual({ outside, inContext: false });
    }
  });

  test("builds on the Bun of package-lock.json, from the lockfile, with the flags of scripts/build.ts", () => {
    const dockerfile = parseDockerfile(path);
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
    const bun = lock.packages["node_modules/bun"]?.version;
    expect(bun).toBeDefined();
    const [build, final] = [dockerfile.stages[0]!, dockerfile.stages.at(-1)!];
    expect(dockerfile.stages.length).toBe(2);
    expect(build.from).toBe(`oven/bun:${bun}`);
    const runs = build.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    const install = runs.find((line) => line.includes("bun install") || line.includes("npm ci"));
    if (binary !== "demo-agent") {
      expect(install).toBeDefined();
      if (install!.includes("bun install")) expect(install).toContain("--frozen-lockfile");
      const copied = copiesOf(build).flatMap((copy) => copy.sources);
      expect(copied).toContain("package.json");
      expect(copied.some((source) => ["package-lock.json", "bun.lock", "bun.lockb"].includes(source))).toBe(true);
    }
    const compile = runs.find((line) => line.includes("bun build"));
    expect(compile).toBeDefined();
    const entry = binary === "demo-agent" ? "scripts/demo/agent.ts" : `cmd/${binary}/main.ts`;
    expect(compile).toContain(entry);
    const { flags, defines } = buildScriptFlags();
    for (const flag of flags) expect(compile).toContain(flag);
    if (binary !== "demo-agent") for (const name of defines) expect(compile).toContain(`--define "${name}=`);
    // Nothing but the compiled binary reaches the final stage.
    const finalCopies = copiesOf(final);
    expect(finalCopies.length).toBe(1);
    expect(finalCopies[0]!.from).toBe(build.name!);
    expect(finalCopies[0]!.sources).toEqual([`/out/${binary}`]);
    expect(final.instructions.some((i) => i.args.includes("node_modules"))).toBe(false);
  });

  test("runs as a non-root user, from a pinned image, with the binary as ENTRYPOINT", () => {
    const dockerfile = parseDockerfile(path);
    for (const stage of dockerfile.stages) {
      const isStage = dockerfile.stages.some((other) => other.name === stage.from);
      if (!isStage) expect({ from: stage.from, pinned: pinned(stage.from) }).toEqual({ from: stage.from, pinned: true });
    }
    const final = dockerfile.stages.at(-1)!;
    const user = last(final, "USER");
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user!.split(":")[0]!);
    const destination = copiesOf(final)[0]!.destination;
    expect(JSON.parse(last(final, "ENTRYPOINT") ?? "[]")).toEqual([destination]);
  });

  test("EXPOSEs the binary's default ports, sets only variables the binary reads, and probes itself", () => {
    const final = parseDockerfile(path).stages.at(-1)!;
    const exposed = words(last(final, "EXPOSE") ?? "").map((port) => Number(port.split("/")[0]));
    const destination = copiesOf(final)[0]!.destination;
    const healthcheck = last(final, "HEALTHCHECK") ?? "";
    // The probe is the binary itself (BUN_BE_BUN=1 makes it the Bun it embeds), on a port it listens on.
    expect(healthcheck).toContain(`BUN_BE_BUN=1 ${destination} -e`);
    const probed = [...healthcheck.matchAll(/:(\d{2,5})\b/g)].map((match) => Number(match[1]));
    expect(probed.length).toBeGreaterThan(0);
    if (binary === "demo-agent") {
      expect(exposed).toEqual([Number(agentOptions().port)]);
      expect(Object.keys(envOfStage(final))).toEqual([]);
      for (const port of probed) expect(port).toBe(Number(agentOptions().port));
      return;
    }
    const defaults = defaultsOf(binary);
    const listeners = (binary === "sidecar" ? ["inboundListen", "outboundListen"] : ["listen"]).map((key) => defaults[key] as Listener);
    // Exposed: what listens on every interface by default (the sidecar's outbound port is loopback).
    expect(exposed.sort()).toEqual(listeners.filter((l) => isAllInterfaces(l.host)).map((l) => l.port).sort());
    for (const port of probed) expect(listeners.map((l) => l.port)).toContain(port);
    const known = envNamesFromHelp(binary);
    for (const variable of Object.keys(envOfStage(final))) expect({ variable, read: known.has(variable) }).toEqual({ variable, read: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Prometheus in Compose

interface PrometheusConfig {
  rule_files?: string[];
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; http_sd_configs?: { url: string }[] }[];
}

describe("Prometheus in Compose", () => {
  const composeConfig = join(root, "build", "docker", "prometheus.yml");
  const shipped = join(root, "build", "prometheus", "prometheus.yml");

  test("its configuration is the shipped one with the aggregator's service name for localhost", () => {
    const ours = parse(readFileSync(composeConfig, "utf8")) as unknown;
    const expected = parse(readFileSync(shipped, "utf8").replaceAll("localhost:9100", "aggregator:9100")) as unknown;
    expect(ours).toEqual(expected);
  });

  test("each rule file it loads is mounted where Prometheus resolves it, from an existing file", () => {
    const prometheus = model([BASE]).services.prometheus!;
    const mounts = mountsOf(prometheus);
    const configMount = mounts.find((mount) => mount.target === "/etc/prometheus/prometheus.yml")!;
    expect(resolve(root, "build", configMount.source)).toBe(composeConfig);
    const command = commandOf(prometheus) ?? [];
    expect(command).toContain("--config.file=/etc/prometheus/prometheus.yml");
    const config = parse(readFileSync(composeConfig, "utf8")) as PrometheusConfig;
    expect(config.rule_files?.length).toBeGreaterThan(0);
    for (const ruleFile of config.rule_files ?? []) {
      const inContainer = posix.resolve("/etc/prometheus", ruleFile);
      const mount = mounts.find((m) => m.target === inContainer);
      expect({ ruleFile, mounted: mount !== undefined }).toEqual({ ruleFile, mounted: true });
      const source = resolve(root, "build", mount!.source);
      expect(source).toBe(resolve(dirname(shipped), ruleFile));
      expect(existsSync(source)).toBe(true);
    }
  });

  test("promtool accepts the configuration with its rules laid out as in the container", () => {
    const promtool = Bun.which("promtool", { PATH: [process.env.PATH ?? "", "/usr/bin"].join(":") });
    if (promtool === null) {
      throw new Error("promtool is not installed: install Debian's prometheus package (apt-get install prometheus), or run `npm test`, which installs it.");
    }
    const dir = mkdtempSync(join(tmpdir(), "nagent-compose-prometheus-"));
    try {
      const prometheus = model([BASE]).services.prometheus!;
      for (const mount of mountsOf(prometheus).filter((m) => m.kind === "bind")) {
        const target = join(dir, relative("/etc/prometheus", mount.target));
        mkdirSync(dirname(target), { recursive: true });
        cpSync(resolve(root, "build", mount.source), target);
      }
      const result = run([promtool, "check", "config", join(dir, "prometheus.yml")]);
      expect(`${result.stdout}${result.stderr}`).toContain("SUCCESS");
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
