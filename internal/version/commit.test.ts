import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeCommit } from "./commit.ts";

const dir = mkdtempSync(join(tmpdir(), "nagent-commit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const git = (...args: string[]) => {
  const result = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
  return result.stdout.toString().trim();
};

describe("describeCommit", () => {
  test("outside a git tree: undefined", () => {
    expect(describeCommit(dir)).toBeUndefined();
  });

  test("a clean tree: the short hash; a changed or untracked file: -dirty", () => {
    git("init", "-q");
    writeFileSync(join(dir, "a.txt"), "one");
    git("add", "a.txt");
    git("commit", "-q", "-m", "first");
    const hash = git("rev-parse", "--short=12", "HEAD");
    expect(describeCommit(dir)).toBe(hash);
    writeFileSync(join(dir, "a.txt"), "two");
    expect(describeCommit(dir)).toBe(`${hash}-dirty`);
    git("checkout", "-q", "a.txt");
    writeFileSync(join(dir, "new.txt"), "new");
    expect(describeCommit(dir)).toBe(`${hash}-dirty`);
  });
});
