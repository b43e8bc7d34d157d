// `npm run release`: build/dist/nagent-mesh-<version>-linux-x64.tar.gz, what an operator downloads:
// the four single-file binaries (each knows its version and commit; "-dirty" when built from a tree
// with uncommitted changes), the systemd units with example environment files, the Prometheus
// configuration and alert rules, the Grafana dashboard, and a SHA256SUMS of every file inside.
// Beside the tarball, its own .sha256, for checking the download.
//
//   bun scripts/release.ts [--out DIR]
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { describeCommit } from "../internal/version/commit.ts";
import { VERSION } from "../internal/version/index.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({ options: { out: { type: "string" } } });
const outDir = resolve(values.out ?? join(root, "build", "dist"));
const platform = `${process.platform}-${process.arch}`;
const name = `nagent-mesh-${VERSION}-${platform}`;
const commit = describeCommit(root) ?? "unknown";

const staging = mkdtempSync(join(tmpdir(), "nagent-release-"));
const top = join(staging, name);
try {
  mkdirSync(join(top, "bin"), { recursive: true });
  const build = Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts"), "--out", join(top, "bin")], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) fail(`building the binaries failed:\n${build.stdout.toString()}${build.stderr.toString()}`);

  // What goes beside the binaries: each folder as it is in build/.
  for (const [from, to] of [
    ["build/systemd", "systemd"],
    ["build/prometheus", "prometheus"],
    ["build/grafana", "grafana"],
  ] as const) {
    const source = join(root, from);
    if (!existsSync(source)) fail(`${from} is missing`);
    cpSync(source, join(top, to), { recursive: true });
  }
  cpSync(join(root, "README.md"), join(top, "README.md"));
  cpSync(join(root, "docs"), join(top, "docs"), { recursive: true });
  writeFileSync(join(top, "VERSION"), `nagent-mesh ${VERSION}\ncommit ${commit}\nbuilt ${new Date().toISOString()} for ${platform}\n`);

  // SHA256SUMS of every file, in `sha256sum -c` format, paths relative to the top folder.
  const files = listFiles(top).filter((file) => file !== "SHA256SUMS");
  const sums = files.map((file) => `${sha256(join(top, file))}  ${file}`).join("\n");
  writeFileSync(join(top, "SHA256SUMS"), `${sums}\n`);

  mkdirSync(outDir, { recursive: true });
  const tarball = join(outDir, `${name}.tar.gz`);
  const tar = Bun.spawnSync(["tar", "-czf", tarball, "-C", staging, "--owner=0", "--group=0", "--numeric-owner", name], { stdout: "pipe", stderr: "pipe" });
  if (tar.exitCode !== 0) fail(`tar failed: ${tar.stderr.toString()}`);
  writeFileSync(`${tarball}.sha256`, `${sha256(tarball)}  ${name}.tar.gz\n`);
  const size = (statSync(tarball).size / 1024 / 1024).toFixed(1);
  console.log(`${relative(process.cwd(), tarball) || tarball}  (${size} MiB, ${files.length + 1} files, commit ${commit})`);
  console.log(`${relative(process.cwd(), `${tarball}.sha256`) || `${tarball}.sha256`}`);
  if (commit.endsWith("-dirty")) console.log("note: built from a tree with uncommitted changes; the binaries say so in --version");
} finally {
  rmSync(staging, { recursive: true, force: true });
}

function fail(message: string): never {
  rmSync(staging, { recursive: true, force: true });
  console.error(`release: ${message}`);
  process.exit(1);
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path, base));
    else out.push(relative(base, path));
  }
  return out.sort();
}
