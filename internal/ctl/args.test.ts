import { describe, expect, test } from "bun:test";
import { nagentctlCommand } from "../config/index.ts";
import { UsageError, expectArgs, parseCommandArgs, splitGlobalArgs } from "./args.ts";

describe("splitGlobalArgs", () => {
  const split = (argv: string[]) => splitGlobalArgs(argv, nagentctlCommand.options);

  test("global flags anywhere, in every spelling; the rest is the command's", () => {
    expect(split(["-o", "json", "config", "get", "k", "--timeout", "1s", "--consistency", "serializable"])).toEqual({
      global: ["-o", "json", "--timeout", "1s"],
      command: ["config", "get", "k", "--consistency", "serializable"],
    });
    expect(split(["nodes", "--output=json", "-ojson", "--token=x", "--help"])).toEqual({ global: ["--output=json", "-ojson", "--token=x", "--help"], command: ["nodes"] });
  });

  test("after -- everything is the command's", () => {
    expect(split(["config", "put", "k", "--", "-o"])).toEqual({ global: [], command: ["config", "put", "k", "--", "-o"] });
  });
});

describe("parseCommandArgs", () => {
  const specs = { file: { kind: "string", short: "f" }, "dry-run": { kind: "boolean" }, role: { kind: "list" } } as const;

  test("long, short, inline values, lists, booleans, positionals", () => {
    expect(parseCommandArgs("u", ["a", "-f", "x.yaml", "--role", "r1", "--role=r2", "--dry-run", "b"], specs)).toEqual({
      flags: { file: "x.yaml", "dry-run": true, role: ["r1", "r2"] },
      positionals: ["a", "b"],
    });
    expect(parseCommandArgs("u", ["-fx.yaml"], specs).flags.file).toBe("x.yaml");
    expect(parseCommandArgs("u", ["-f", "-"], specs).flags.file).toBe("-");
  });

  test("negative numbers are arguments; -- ends flags", () => {
    expect(parseCommandArgs("u", ["k", "-1.5"], specs).positionals).toEqual(["k", "-1.5"]);
    expect(parseCommandArgs("u", ["--", "--dry-run"], specs).positionals).toEqual(["--dry-run"]);
  });

  test("problems are usage errors that say what is wrong", () => {
    const problem = (argv: string[]) => {
      try {
        parseCommandArgs("policy apply", argv, specs);
        return "";
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
    };
    expect(problem(["--nope"])).toBe("unknown flag --nope for policy apply");
    expect(problem(["-x"])).toBe("unknown flag -x for policy apply");
    expect(problem(["--file"])).toBe("flag --file needs a value");
    expect(problem(["--file", "--dry-run"])).toBe("flag --file needs a value");
    expect(problem(["--dry-run=yes"])).toBe("flag --dry-run takes no value");
    expect(problem(["-f", "a", "-f", "b"])).toBe("flag --file given twice");
  });

  test("expectArgs counts required and optional arguments", () => {
    expect(() => expectArgs("config get KEY", [], 1)).toThrow("missing argument: usage: config get KEY");
    expect(() => expectArgs("config list [PREFIX]", ["a", "b"], 0, 1)).toThrow('unexpected argument "b": usage: config list [PREFIX]');
    expect(() => expectArgs("config list [PREFIX]", ["a"], 0, 1)).not.toThrow();
  });
});
