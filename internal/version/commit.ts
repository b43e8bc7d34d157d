// The commit a build comes from, as git describes the working tree: the short hash, and "-dirty"
// when tracked files differ from it or untracked files would be built in, so a release built from
// a dirty tree says so in its version.

/** `abc1234` or `abc1234-dirty` for the git work tree at `dir`; undefined outside a git tree or without git. */
export function describeCommit(dir: string): string | undefined {
  const run = (args: string[]) => {
    try {
      const result = Bun.spawnSync(["git", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      return result.exitCode === 0 ? result.stdout.toString().trim() : undefined;
    } catch {
      return undefined;
    }
  };
  const hash = run(["rev-parse", "--short=12", "HEAD"]);
  if (hash === undefined || hash === "") return undefined;
  const status = run(["status", "--porcelain", "--untracked-files=normal"]);
  return status === undefined || status === "" ? hash : `${hash}-dirty`;
}
