// build/systemd/: the units operators run the daemons with, and their example environment files.
// A real systemd-analyze must accept each unit without a word of warning (it reports a missing
// ExecStart binary, so the units are checked against freshly built executables); each unit must
// carry the directives operators rely on (sandbox, restart, stop, state directory); each example
// file must name every setting of its binary and hold a valid configuration once its placeholders
// are filled in. And a daemon whose state directory is unusable, as a unit's would be after a
// bad install, must stop at once with one line saying which directory and why.
// A missing systemd-analyze fails the suite rather than skipping it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  aggregatorCommand,
  commonOptions,
  controlPlaneCommand,
  parseCommandLine,
  sidecarCommand,
  type CommandSpec,
  type OptionSet,
} from "../internal/config/index.ts";
import { spawnService } from "../internal/testing/index.ts";

const root = join(import.meta.dir, "..");
const unitsDir = join(root, "build", "systemd");
const INSTALL_PREFIX = "/usr/local/bin/";
/** The instances checked of the sidecar template: one per example env file. */
const SIDECAR_ROLES = ["execution", "coordination"];

interface UnitExpectation {
  readonly file: string;
  readonly binary: "control-plane" | "sidecar" | "aggregator";
  readonly spec: CommandSpec<OptionSet>;
  readonly environmentFile: string;
  /** StateDirectory= and the flag that must point the binary at it; none for the aggregator. */
  readonly state?: { readonly directory: string; readonly flag: string };
  readonly examples: readonly string[];
}

const UNITS: readonly UnitExpectation[] = [
  {
    file: "nagent-control-plane.service",
    binary: "control-plane",
    spec: controlPlaneCommand as unknown as CommandSpec<OptionSet>,
    environmentFile: "/etc/nagent/control-plane.env",
    state: { directory: "nagent/control-plane", flag: "--data-dir" },
    examples: ["control-plane.env"],
  },
  {
    file: "nagent-sidecar@.service",
    binary: "sidecar",
    spec: sidecarCommand as unknown as CommandSpec<OptionSet>,
    environmentFile: "/etc/nagent/sidecar-%i.env",
    state: { directory: "nagent/sidecar-%i", flag: "--cache-dir" },
    examples: SIDECAR_ROLES.map((role) => `sidecar-${role}.env`),
  },
  {
    file: "nagent-aggregator.service",
    binary: "aggregator",
    spec: aggregatorCommand as unknown as CommandSpec<OptionSet>,
    environmentFile: "/etc/nagent/aggregator.env",
    examples: ["aggregator.env"],
  },
];

/** systemd-analyze on PATH, else Debian's /usr/bin; a missing one names the package to install. */
function systemdAnalyze(): string {
  const found = Bun.which("systemd-analyze", { PATH: [process.env.PATH ?? "", "/usr/bin", "/bin"].join(":") });
  if (found === null) {
    throw new Error(
      "systemd-analyze is not on PATH nor in /usr/bin, and these tests need a real one to verify the units: " +
        "install Debian's `systemd` package (apt-get install systemd).",
    );
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The unit file format: sections of KEY=VALUE lines, # and ; comments, backslash continuations.

type Section = ReadonlyArray<readonly [key: string, value: string]>;
type Unit = ReadonlyMap<string, Section>;

function parseUnit(text: string, name: string): Unit {
  const sections = new Map<string, Array<readonly [string, string]>>();
  let current: Array<readonly [string, string]> | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || current === undefined) throw new Error(`${name}:${i + 1}: expected KEY=VALUE inside a section, got ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Every value assigned to `key` in `section`, in order. */
function values(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** The one value of a single-valued directive; absent or repeated is a failure naming it. */
function only(unit: Unit, section: string, key: string): string {
  const found = values(unit, section, key);
  if (found.length !== 1) throw new Error(`[${section}] ${key}= is set ${found.length} times, expected once`);
  return found[0]!;
}

/** The comment lines of the paragraph (up to the previous blank line) that holds `key=`. */
function paragraphComment(text: string, key: string): string {
  const lines = text.split("\n");
  const at = lines.findIndex((line) => line.startsWith(`${key}=`));
  if (at < 0) return "";
  const comments: string[] = [];
  for (let i = at - 1; i >= 0 && lines[i]!.trim() !== ""; i--) {
    if (lines[i]!.startsWith("#")) comments.unshift(lines[i]!.slice(1).trim());
  }
  return comments.join(" ");
}

/** A systemd time span ("30s", "1min 30s", "500ms", a bare number of seconds) in milliseconds. */
function timeSpanMs(text: string): number {
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000 };
  let total = 0;
  const parts = text.trim().split(/\s+/);
  for (const part of parts) {
    const match = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(part);
    const scale = match ? units[match[2] || "s"] : undefined;
    if (!match || scale === undefined) throw new Error(`not a time span: ${text}`);
    total += Number(match[1]) * scale;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// The EnvironmentFile format: NAME=value lines; "#NAME=value" is a setting shown commented out.

interface EnvExample {
  /** Settings in force. */
  readonly set: Map<string, string>;
  /** Settings shown commented out, with the value shown. */
  readonly shown: Map<string, string>;
  /** Lines that are neither, which systemd would refuse or misread. */
  readonly malformed: string[];
}

function parseEnvExample(text: string): EnvExample {
  const example: EnvExample = { set: new Map(), shown: new Map(), malformed: [] };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const shown = /^#([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (shown) {
      example.shown.set(shown[1]!, shown[2]!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const set = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(line);
    if (set) example.set.set(set[1]!, set[2]!);
    else example.malformed.push(line);
  }
  return example;
}

/** Every environment variable a binary reads, from its option table (what --help prints). */
function environmentNames(spec: CommandSpec<OptionSet>): string[] {
  return Object.values({ ...commonOptions, ...spec.options }).map((option) => option.env);
}

/** The arguments ExecStart= passes after the executable, with %S and %i expanded. */
function execStartArgs(unit: Unit, instance: string): string[] {
  const words = only(unit, "Service", "ExecStart").split(/\s+/).slice(1);
  return words.map((word) => word.replaceAll("%S", "/var/lib").replaceAll("%i", instance));
}

/** Environment= assignments of the unit, with %i expanded. */
function unitEnvironment(unit: Unit, instance: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of values(unit, "Service", "Environment")) {
    const [name, ...rest] = assignment.replaceAll("%i", instance).split("=");
    env[name!] = rest.join("=");
  }
  return env;
}

/** A placeholder for a secret in an example file: the operator must replace it. */
const PLACEHOLDER = "CHANGE-ME";
/** What an operator would put there instead: long enough for every secret's minimum. */
const A_SECRET = "k3Jx9vQm2LwT8rZp5YhN7cVb4GfD6sAe";

// ---------------------------------------------------------------------------------------------

let workDir = "";
let binDir = "";
/** Copies of the units with ExecStart pointing at the binaries just built, plus instances. */
let unitCopies = "";

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), "nagent-systemd-"));
  binDir = join(workDir, "bin");
  const build = Bun.spawnSync(
    [process.execPath, join(root, "scripts", "build.ts"), "--out", binDir, ...UNITS.map((unit) => unit.binary)],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  if (build.exitCode !== 0) throw new Error(`build failed:\n${build.stdout.toString()}${build.stderr.toString()}`);
  // The state-directory tests run the binaries as nobody when this process is root.
  chmodSync(workDir, 0o755);
  chmodSync(binDir, 0o755);
  // systemd-analyze verify checks that ExecStart's executable exists: point it at the binaries
  // just built. Instances of the template are copies of it under the instance's name.
  unitCopies = join(workDir, "units");
  mkdirSync(unitCopies);
  for (const unit of UNITS) {
    const text = readFileSync(join(unitsDir, unit.file), "utf8");
    writeFileSync(join(unitCopies, unit.file), text.replaceAll(`${INSTALL_PREFIX}${unit.binary}`, join(binDir, unit.binary)));
  }
  for (const role of SIDECAR_ROLES) {
    copyFileSync(join(unitCopies, "nagent-sidecar@.service"), join(unitCopies, `nagent-sidecar@${role}.service`));
  }
}, 180_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("build/systemd", () => {
  test("holds the three units and an example env file for each (two sidecar roles), each checked here", () => {
    const expected = UNITS.flatMap((unit) => [unit.file, ...unit.examples]);
    expect(readdirSync(unitsDir).filter((name) => name !== "README.md").sort()).toEqual(expected.sort());
  });
});

describe("systemd-analyze", () => {
  test("is installed (Debian's systemd package)", () => {
    expect(systemdAnalyze()).toBeTruthy();
  });

  test("verify accepts every unit, and instances of the sidecar template, without a warning", () => {
    const analyze = systemdAnalyze();
    // The template is checked as itself (systemd-analyze instantiates it as @i) and as the
    // instances operators start.
    const paths = [
      ...UNITS.map((unit) => join(unitCopies, unit.file)),
      ...SIDECAR_ROLES.map((role) => join(unitCopies, `nagent-sidecar@${role}.service`)),
    ];
    const result = Bun.spawnSync([analyze, "verify", "--man=no", ...paths], { cwd: unitCopies, stdout: "pipe", stderr: "pipe" });
    const lines = `${result.stdout.toString()}${result.stderr.toString()}`.split("\n").filter((line) => line.trim() !== "");
    // verify also loads what the units pull in (network-online.target, multi-user.target and
    // whatever this machine hangs off them); complaints about those other units are not ours.
    const ours = lines.filter((line) => !/^(\/\S+\/)?[\w.@-]+\.[a-z]+:/.test(line) || /^(\S*\/)?nagent-/.test(line));
    const theirs = lines.filter((line) => !ours.includes(line));
    if (theirs.length > 0) console.warn(`systemd-analyze verify, about this machine's own units:\n${theirs.join("\n")}`);
    expect(ours).toEqual([]);
    // Errors in this machine's units make verify fail too; only then is a non-zero exit not ours.
    if (theirs.length === 0) expect(result.exitCode).toBe(0);
  });

  test("security rates every unit's sandbox OK or better (exposure at most 2.0 of 10)", () => {
    const analyze = systemdAnalyze();
    const scores: Record<string, string> = {};
    const instances = SIDECAR_ROLES.map((role) => `nagent-sidecar@${role}.service`);
    for (const name of ["nagent-control-plane.service", "nagent-aggregator.service", ...instances]) {
      const result = Bun.spawnSync([analyze, "security", "--offline=yes", "--no-pager", join(unitCopies, name)], {
        cwd: unitCopies,
        stdout: "pipe",
        stderr: "pipe",
      });
      const output = `${result.stdout.toString()}${result.stderr.toString()}`;
      scores[name] = /Overall exposure level for \S+: ([\d.]+)/.exec(output)?.[1] ?? `no score (exit ${result.exitCode}):\n${output}`;
    }
    const tooExposed = Object.entries(scores).filter(([, score]) => !(Number(score) <= 2.0));
    expect(tooExposed).toEqual([]);
  });
});

describe.each(UNITS)("$file", (expectation) => {
  const text = readFileSync(join(unitsDir, expectation.file), "utf8");
  const unit = parseUnit(text, expectation.file);

  test("starts after the network is up and is enabled into multi-user.target", () => {
    expect(only(unit, "Unit", "Description")).not.toBe("");
    expect(values(unit, "Unit", "Wants").join(" ").split(/\s+/)).toContain("network-online.target");
    expect(values(unit, "Unit", "After").join(" ").split(/\s+/)).toContain("network-online.target");
    expect(values(unit, "Install", "WantedBy").join(" ").split(/\s+/)).toContain("multi-user.target");
  });

  test("runs the installed binary as a user of its own, with its env file", () => {
    expect(["simple", "exec"]).toContain(only(unit, "Service", "Type"));
    // DynamicUser= with no User=: systemd allocates a user named after the unit, so the three
    // daemons never share one (see the unit's comment) and no useradd step is needed.
    expect(only(unit, "Service", "DynamicUser")).toBe("yes");
    expect(values(unit, "Service", "User")).toEqual([]);
    expect(values(unit, "Service", "Group")).toEqual([]);
    expect(only(unit, "Service", "EnvironmentFile")).toBe(expectation.environmentFile);
    expect(only(unit, "Service", "ExecStart").split(/\s+/)[0]).toBe(`${INSTALL_PREFIX}${expectation.binary}`);
  });

  test("keeps its state in its own StateDirectory and points the binary at it", () => {
    const state = expectation.state;
    if (state === undefined) {
      // The aggregator writes nothing: no state directory, and no directory flag to point.
      expect(values(unit, "Service", "StateDirectory")).toEqual([]);
      return;
    }
    expect(only(unit, "Service", "StateDirectory")).toBe(state.directory);
    const args = only(unit, "Service", "ExecStart").split(/\s+/);
    const at = args.indexOf(state.flag);
    expect(at).toBeGreaterThan(0);
    expect(args[at + 1]).toBe(`%S/${state.directory}`);
  });

  test("is sandboxed as required", () => {
    const required: Record<string, string> = {
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectKernelLogs: "yes",
      ProtectControlGroups: "yes",
      RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX",
      RestrictNamespaces: "yes",
      LockPersonality: "yes",
      MemoryDenyWriteExecute: "no",
      SystemCallArchitectures: "native",
      CapabilityBoundingSet: "",
      AmbientCapabilities: "",
      UMask: "0077",
      LimitNOFILE: "65536",
    };
    const actual = Object.fromEntries(Object.keys(required).map((key) => [key, values(unit, "Service", key).join(" | ")]));
    expect(actual).toEqual(required);
    // The two settings that look like mistakes say why they are what they are.
    expect(paragraphComment(text, "MemoryDenyWriteExecute")).toMatch(/JIT/);
    expect(paragraphComment(text, "AmbientCapabilities")).toMatch(/1024/);
  });

  test("restarts on failure, but not on invalid configuration, and leaves time to drain on stop", () => {
    expect(only(unit, "Service", "Restart")).toBe("on-failure");
    expect(timeSpanMs(only(unit, "Service", "RestartSec"))).toBeGreaterThan(0);
    expect(only(unit, "Service", "RestartPreventExitStatus")).toBe("2");
    expect(only(unit, "Service", "KillSignal")).toBe("SIGTERM");
    // Longer than the binary's own default --shutdown-timeout, read from its option table.
    const required = expectation.binary === "sidecar" ? ["--node-id", "n1"] : [];
    const parsed = parseCommandLine(expectation.spec, required, {});
    if (parsed.kind !== "run") throw new Error("expected a configuration");
    const shutdownTimeoutMs = (parsed.config as unknown as { shutdownTimeout: number }).shutdownTimeout;
    expect(shutdownTimeoutMs).toBe(10_000);
    expect(timeSpanMs(only(unit, "Service", "TimeoutStopSec"))).toBeGreaterThan(shutdownTimeoutMs);
  });

  if (expectation.binary === "sidecar") {
    test("is a template: the instance name picks the env file and the state directory", () => {
      expect(only(unit, "Service", "EnvironmentFile")).toContain("%i");
      expect(only(unit, "Service", "StateDirectory")).toContain("%i");
    });

    test("does not wait for a local control plane, and says why", () => {
      const ordering = [...values(unit, "Unit", "After"), ...values(unit, "Unit", "Requires"), ...values(unit, "Unit", "BindsTo")];
      expect(ordering.join(" ")).not.toContain("nagent-control-plane");
      expect(text).toMatch(/not After=nagent-control-plane\.service/);
      expect(text).toMatch(/cache dir/);
    });
  }

  describe.each(expectation.examples)("example %s", (exampleFile) => {
    const instance = /^sidecar-(.+)\.env$/.exec(exampleFile)?.[1] ?? "";
    const example = parseEnvExample(readFileSync(join(unitsDir, exampleFile), "utf8"));
    const names = environmentNames(expectation.spec);

    test("is plain NAME=value lines and comments, as EnvironmentFile= reads them", () => {
      expect(example.malformed).toEqual([]);
    });

    test("shows every setting the binary reads, and only those", () => {
      const mentioned = [...example.set.keys(), ...example.shown.keys()];
      expect(names.filter((name) => !mentioned.includes(name))).toEqual([]);
      expect(mentioned.filter((name) => !names.includes(name))).toEqual([]);
    });

    test("says the file holds secrets and must be mode 0600", () => {
      const text = readFileSync(join(unitsDir, exampleFile), "utf8");
      expect(text).toMatch(/0600/);
      const secrets = [...example.set.entries()].filter(([name]) => /TOKEN$/.test(name) && name !== "NAGENT_CLUSTER_TOKEN");
      expect(secrets.length).toBeGreaterThan(0);
      for (const [name, value] of secrets) expect({ [name]: value }).toEqual({ [name]: PLACEHOLDER });
    });

    test("is a valid configuration for the unit once its placeholders are replaced", () => {
      const env = { ...unitEnvironment(unit, instance), ...Object.fromEntries(example.set) };
      for (const [name, value] of Object.entries(env)) if (value === PLACEHOLDER) env[name] = A_SECRET;
      const parsed = parseCommandLine(expectation.spec, execStartArgs(unit, instance), env);
      expect(parsed.kind).toBe("run");
      if (expectation.state && parsed.kind === "run") {
        const key = expectation.state.flag === "--data-dir" ? "dataDir" : "cacheDir";
        expect((parsed.config as Record<string, unknown>)[key]).toBe(`/var/lib/${expectation.state.directory.replaceAll("%i", instance)}`);
      }
      if (expectation.binary === "sidecar" && parsed.kind === "run") {
        // The role is among the domains: from the instance name (Environment=NODE_TYPE=%i), or
        // listed by the file's own NODE_TYPE.
        const domains = (parsed.config as Record<string, unknown>).domains as string[];
        expect(domains).toContain(instance);
      }
    });

    test("stays valid with every commented-out setting switched on as shown", () => {
      const env = { ...unitEnvironment(unit, instance), ...Object.fromEntries(example.shown), ...Object.fromEntries(example.set) };
      for (const [name, value] of Object.entries(env)) if (value === PLACEHOLDER) env[name] = A_SECRET;
      const parsed = parseCommandLine(expectation.spec, execStartArgs(unit, instance), env, () => "{}");
      expect(parsed.kind).toBe("run");
    });

    if (expectation.binary === "control-plane") {
      test("left unedited, stops the member at start naming a placeholder secret (it never runs with one)", () => {
        const env = { ...unitEnvironment(unit, instance), ...Object.fromEntries(example.set) };
        let message = "";
        try {
          parseCommandLine(expectation.spec, execStartArgs(unit, instance), env);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          message = error.message;
        }
        expect(message).toMatch(/--(admin|peer)-token/);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A state directory the daemon cannot use: it must stop at once, with one line saying so.

interface Outcome {
  readonly exited: boolean;
  readonly status: string | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly ms: number;
}

const QUICKLY_MS = 5_000;

/**
 * Runs a built daemon, as nobody when `asNobody` (root writes anywhere, so a read-only directory
 * only refuses another user), and waits up to QUICKLY_MS for it to exit; one still running then
 * is stopped. stderr is kept apart from the JSON logs on stdout.
 */
async function runDaemon(binary: string, args: readonly string[], asNobody: boolean): Promise<Outcome> {
  const stderrFile = join(workDir, `${binary}-${Date.now()}.stderr`);
  const prefix = asNobody ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];
  const started = performance.now();
  const service = spawnService({
    name: binary,
    command: ["sh", "-c", 'exec "$@" 2>"$0"', stderrFile, ...prefix, join(binDir, binary), ...args],
    env: { PATH: "/usr/bin:/bin", HOME: "/tmp" },
  });
  const exited = await Promise.race([service.exited.then(() => true), Bun.sleep(QUICKLY_MS).then(() => false)]);
  const ms = Math.round(performance.now() - started);
  const status = service.exitStatus();
  await service.stop(2_000);
  let stderr = "";
  try {
    stderr = readFileSync(stderrFile, "utf8");
  } catch {
    // no stderr file: nothing was written
  }
  return { exited, status, stderr, stdout: service.output(), ms };
}

/** Exits non-zero within QUICKLY_MS with exactly one stderr line naming `dir` and the reason. */
function expectClearRefusal(outcome: Outcome, dir: string): void {
  const lines = outcome.stderr.split("\n").filter((line) => line.trim() !== "");
  const report = {
    exitedWithin5s: outcome.exited,
    nonZeroExit: outcome.status !== null && outcome.status !== "exit code 0",
    stderrLines: lines.length,
    namesTheDirectory: lines.some((line) => line.includes(dir)),
    saysWhy: lines.some((line) => /not a directory|permission denied|read-only/i.test(line)),
  };
  const all = { exitedWithin5s: true, nonZeroExit: true, stderrLines: 1, namesTheDirectory: true, saysWhy: true };
  if (!Bun.deepEquals(report, all)) {
    console.error(
      `after ${outcome.ms} ms: ${outcome.status ?? "still running, stopped by the test"}\n` +
        `--- stderr ---\n${outcome.stderr || "(nothing)"}\n--- stdout (first lines) ---\n` +
        outcome.stdout.split("\n").slice(0, 8).join("\n"),
    );
  }
  expect(report).toEqual(all);
}

const isRoot = process.getuid?.() === 0;

/** The two ways a unit's state directory turns out unusable, as directories for the daemon. */
function unusableDirectories(label: string): { underAFile: string; readOnly: string } {
  const base = join(workDir, `unusable-${label}`);
  mkdirSync(base, { recursive: true });
  chmodSync(base, 0o755);
  // A path through a regular file cannot be created by anyone, root included.
  writeFileSync(join(base, "file"), "");
  // A directory that exists but its user may not write: root-owned 0555 for nobody, or 0500
  // for the user running the tests.
  const readOnly = join(base, "read-only");
  mkdirSync(readOnly);
  chmodSync(readOnly, isRoot ? 0o555 : 0o500);
  return { underAFile: join(base, "file", "sub"), readOnly };
}

describe("a daemon whose state directory is unusable stops at once with one clear line", () => {
  const controlPlaneArgs = (dir: string) => ["--listen", "127.0.0.1:0", "--data-dir", dir];
  const sidecarArgs = (dir: string) => [
    "--node-id",
    "n1",
    "--inbound-listen",
    "127.0.0.1:0",
    "--outbound-listen",
    "127.0.0.1:0",
    "--control-plane",
    "http://127.0.0.1:9",
    "--trace-exporter",
    "none",
    "--cache-dir",
    dir,
  ];

  test("control-plane, --data-dir under a regular file", async () => {
    const { underAFile } = unusableDirectories("cp-file");
    expectClearRefusal(await runDaemon("control-plane", controlPlaneArgs(underAFile), false), underAFile);
  });

  test(`control-plane, --data-dir not writable by its user${isRoot ? " (run as nobody)" : ""}`, async () => {
    const { readOnly } = unusableDirectories("cp-ro");
    expectClearRefusal(await runDaemon("control-plane", controlPlaneArgs(readOnly), isRoot), readOnly);
  });

  test("sidecar, --cache-dir under a regular file", async () => {
    const { underAFile } = unusableDirectories("sc-file");
    expectClearRefusal(await runDaemon("sidecar", sidecarArgs(underAFile), false), underAFile);
  });

  test(`sidecar, --cache-dir not writable by its user${isRoot ? " (run as nobody)" : ""}`, async () => {
    const { readOnly } = unusableDirectories("sc-ro");
    expectClearRefusal(await runDaemon("sidecar", sidecarArgs(readOnly), isRoot), readOnly);
  });
});
