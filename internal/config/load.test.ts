import { describe, expect, test } from "bun:test";
import {
  ConfigError,
  aggregatorCommand,
  controlPlaneCommand,
  nagentctlCommand,
  parseCommandLine,
  renderHelp,
  sidecarCommand,
  type CommandSpec,
  type OptionSet,
} from "./index.ts";

/** Parses and insists on a run result. */
function run<O extends OptionSet>(
  spec: CommandSpec<O>,
  argv: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
) {
  const parsed = parseCommandLine(spec, argv, env, (path) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
    return text;
  });
  if (parsed.kind !== "run") throw new Error(`expected a run, got ${parsed.kind}`);
  return parsed;
}

function failure(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).not.toContain("\n");
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("precedence: flags > environment > YAML > defaults", () => {
  const file = { "cp.yaml": "listen: 127.0.0.1:7000\nlogLevel: debug\ndata-dir: /var/lib/x\n" };

  test("defaults apply when nothing is given", () => {
    const { config } = run(controlPlaneCommand, []);
    expect(config.listen).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(config.store).toBe("raft");
    expect(config.peers).toEqual([]);
    expect(config.logLevel).toBe("info");
    expect(config.shutdownTimeout).toBe(10_000);
    expect(config.maxBodyBytes).toBe(1024 * 1024);
  });

  test("the YAML file overrides defaults, and accepts camelCase and kebab-case keys", () => {
    const { config } = run(controlPlaneCommand, ["--config", "cp.yaml"], {}, file);
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 7000 });
    expect(config.logLevel).toBe("debug");
    expect(config.dataDir).toBe("/var/lib/x");
  });

  test("the environment overrides the file, and flags override the environment", () => {
    const env = { NAGENT_LISTEN: "127.0.0.1:7001", LOG_LEVEL: "warn", NAGENT_CONFIG: "cp.yaml" };
    const fromEnv = run(controlPlaneCommand, [], env, file).config;
    expect(fromEnv.listen.port).toBe(7001);
    expect(fromEnv.logLevel).toBe("warn");
    expect(fromEnv.dataDir).toBe("/var/lib/x");
    const fromFlag = run(controlPlaneCommand, ["--listen=:7002", "--log-level", "error"], env, file).config;
    expect(fromFlag.listen).toEqual({ host: "0.0.0.0", port: 7002 });
    expect(fromFlag.logLevel).toBe("error");
  });

  test("an empty environment variable counts as unset", () => {
    expect(run(controlPlaneCommand, [], { NAGENT_LISTEN: "" }).config.listen.port).toBe(8080);
  });
});

describe("the seed's variables", () => {
  test("NODE_ID, CLUSTER_PEERS and ETCD_ENDPOINTS configure the control plane", () => {
    const { config } = run(controlPlaneCommand, ["--store", "etcd"], {
      NODE_ID: "cp-2",
      CLUSTER_PEERS: "cp-1,cp-2=http://10.0.0.2:9000/,cp-3",
      ETCD_ENDPOINTS: "http://etcd-1:2379,http://etcd-2:2379",
    });
    expect(config.nodeId).toBe("cp-2");
    expect(config.peers).toEqual([
      { id: "cp-1", url: "http://cp-1:8080" },
      { id: "cp-2", url: "http://10.0.0.2:9000" },
      { id: "cp-3", url: "http://cp-3:8080" },
    ]);
    expect(config.etcdEndpoints).toEqual(["http://etcd-1:2379", "http://etcd-2:2379"]);
  });

  test("NODE_TYPE and CONTROL_PLANE_ENDPOINTS configure the sidecar", () => {
    const { config } = run(sidecarCommand, [], {
      NODE_ID: "node-1",
      NODE_TYPE: "communication, execution",
      CONTROL_PLANE_ENDPOINTS: "http://cp-1:8080,http://cp-2:8080",
    });
    expect(config.nodeId).toBe("node-1");
    expect(config.domains).toEqual(["communication", "execution"]);
    expect(config.controlPlane).toEqual(["http://cp-1:8080", "http://cp-2:8080"]);
    expect(config.outboundListen).toEqual({ host: "127.0.0.1", port: 15001 });
  });

  test("YAML lists are accepted where flags take comma-separated text", () => {
    const files = { "s.yaml": "nodeId: n1\ndomains: [state, core]\ncontrolPlane:\n  - http://a:1\n" };
    const { config } = run(sidecarCommand, ["--config", "s.yaml"], {}, files);
    expect(config.domains).toEqual(["state", "core"]);
    expect(config.controlPlane).toEqual(["http://a:1"]);
  });
});

describe("bad input stops with one line naming the field, the value and what was expected", () => {
  test("unknown flag", () => {
    const error = failure(() => run(controlPlaneCommand, ["--lisen", "x"]));
    expect(error.message).toBe("unknown flag --lisen (see --help)");
  });

  test("a flag without its value", () => {
    expect(failure(() => run(controlPlaneCommand, ["--listen"])).message).toContain("--listen needs a value");
  });

  test("stray words where a daemon takes only flags", () => {
    expect(failure(() => run(controlPlaneCommand, ["serve"])).message).toContain('unexpected argument "serve"');
  });

  test("malformed YAML names the line", () => {
    const files = { "bad.yaml": "listen: [127.0.0.1\nstore: raft\n" };
    const error = failure(() => run(controlPlaneCommand, ["--config", "bad.yaml"], {}, files));
    expect(error.message).toMatch(/^config file bad\.yaml is not valid YAML at line \d+, column \d+: /);
  });

  test("a YAML file that is not a mapping", () => {
    const error = failure(() => run(controlPlaneCommand, ["--config", "l.yaml"], {}, { "l.yaml": "- a\n- b\n" }));
    expect(error.message).toContain("must hold a mapping of settings, not a list");
  });

  test("an unknown field in the YAML file", () => {
    const error = failure(() => run(controlPlaneCommand, ["--config", "u.yaml"], {}, { "u.yaml": "lissten: :1\n" }));
    expect(error.message).toContain('unknown field "lissten"');
    expect(error.field).toBe("lissten");
  });

  test("a missing config file", () => {
    const error = failure(() => run(controlPlaneCommand, ["--config", "nope.yaml"]));
    expect(error.message).toBe("cannot read config file nope.yaml: ENOENT");
  });

  test("wrong type in YAML", () => {
    const files = { "t.yaml": "maxBodyBytes: lots\n" };
    const error = failure(() => run(controlPlaneCommand, ["--config", "t.yaml"], {}, files));
    expect(error.message).toBe(
      'invalid --max-body-bytes "lots" from maxBodyBytes in t.yaml: expected an integer from 1 to 1073741824',
    );
    expect(error.source).toBe("maxBodyBytes in t.yaml");
  });

  test("wrong type: a mapping where a list of URLs belongs", () => {
    const files = { "t.yaml": "nodeId: n\ncontrolPlane: {a: 1}\n" };
    const error = failure(() => run(sidecarCommand, ["--config", "t.yaml"], {}, files));
    expect(error.message).toContain("invalid --control-plane {\"a\":1}");
  });

  test("out-of-range port", () => {
    const error = failure(() => run(controlPlaneCommand, ["--listen", "0.0.0.0:70000"]));
    expect(error.message).toBe(
      'invalid --listen "0.0.0.0:70000" from --listen: expected HOST:PORT with a port from 0 to 65535',
    );
    expect(error.field).toBe("listen");
    expect(error.value).toBe("0.0.0.0:70000");
  });

  test("out-of-range port from the environment names the variable", () => {
    const error = failure(() => run(sidecarCommand, ["--node-id", "n"], { NAGENT_INBOUND_LISTEN: ":-1" }));
    expect(error.message).toContain("from $NAGENT_INBOUND_LISTEN");
  });

  test("missing required value", () => {
    const error = failure(() => run(sidecarCommand, []));
    expect(error.message).toBe("missing required value --node-id (or $NODE_ID, or nodeId in the config file)");
  });

  test("a value outside its set", () => {
    const error = failure(() => run(controlPlaneCommand, ["--store", "zookeeper"]));
    expect(error.message).toBe('invalid --store "zookeeper" from --store: expected one of raft, etcd');
  });

  test("a malformed list item names its position", () => {
    const error = failure(() => run(sidecarCommand, ["--node-id", "n", "--control-plane", "http://a:1,ftp://b"]));
    expect(error.message).toContain("(item 2): expected an http:// or https:// URL");
  });

  test("a duration without a unit", () => {
    const error = failure(() => run(aggregatorCommand, ["--shutdown-timeout", "10"]));
    expect(error.message).toContain('expected a duration such as "500ms", "10s" or "2m"');
  });

  test("peers listed twice, and a node id that is not among the peers", () => {
    expect(failure(() => run(controlPlaneCommand, ["--peers", "a,a"])).message).toContain('"a" is listed twice');
    const error = failure(() => run(controlPlaneCommand, ["--node-id", "z", "--peers", "a,b"]));
    expect(error.message).toBe('--node-id: "z" is not among --peers (a, b)');
  });

  test("--store etcd without endpoints", () => {
    expect(failure(() => run(controlPlaneCommand, ["--store", "etcd"])).message).toContain(
      "--store etcd needs at least one etcd endpoint",
    );
  });
});

describe("help and version", () => {
  test("--help and --version win over everything else, even bad values", () => {
    expect(parseCommandLine(controlPlaneCommand, ["--listen", "bad", "--help"], {}).kind).toBe("help");
    expect(parseCommandLine(sidecarCommand, ["-h"], {}).kind).toBe("help");
    expect(parseCommandLine(aggregatorCommand, ["--version"], {}).kind).toBe("version");
  });

  test("help lists every flag with its environment variable and default", () => {
    for (const spec of [controlPlaneCommand, sidecarCommand, aggregatorCommand, nagentctlCommand] as CommandSpec<OptionSet>[]) {
      const help = renderHelp(spec, "1.2.3");
      expect(help).toStartWith(`${spec.name} 1.2.3: `);
      for (const option of Object.values(spec.options)) {
        expect(help).toContain(`--${option.flag}`);
        expect(help).toContain(`env ${option.env}`);
        if (option.defaultText) expect(help).toContain(`default ${option.defaultText}`);
      }
      expect(help).toContain("--log-level LEVEL");
      expect(help).toContain("env LOG_LEVEL; default info");
    }
  });

  test("nagentctl takes command words after its flags", () => {
    const { config, positionals } = run(nagentctlCommand, ["-o", "json", "check"]);
    expect(config.output).toBe("json");
    expect(positionals).toEqual(["check"]);
  });
});
