// `npm run build`: compiles each binary into one self-contained executable (the Bun runtime is
// inside), so build/bin/<name> runs on a machine with nothing else installed.
//   bun scripts/build.ts [--out DIR] [NAME...]
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { describeCommit } from "../internal/version/commit.ts";

const BINARIES = ["control-plane", "sidecar", "aggregator", "nagentctl"];

const root = join(import.meta.dir, "..");
const { values, positionals } = parseArgs({ options: { out: { type: "string" } }, allowPositionals: true });
const outDir = resolve(values.out ?? join(root, "build", "bin"));
const unknown = positionals.filter((name) => !BINARIES.includes(name));
if (unknown.length > 0) {
  console.error(`build: unknown binary ${unknown.join(", ")} (known: ${BINARIES.join(", ")})`);
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
// The commit goes into every binary (--version prints it); "-dirty" when the tree had changes.
const commit = describeCommit(root) ?? "unknown";

for (const name of positionals.length > 0 ? positionals : BINARIES) {
  const started = performance.now();
  const outfile = join(outDir, name);
  // Whitespace and syntax are minified, identifiers are not, so stack traces stay readable.
  const result = Bun.spawnSync(
    [
      process.execPath,
      "build",
      "--compile",
      "--minify-syntax",
      "--minify-whitespace",
      "--define",
      `NAGENT_BUILD_COMMIT=${JSON.stringify(commit)}`,
      join(root, "cmd", name, "main.ts"),
      "--outfile",
      outfile,
    ],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  if (result.exitCode !== 0) {
    process.stderr.write(result.stdout.toString() + result.stderr.toString());
    console.error(`build: ${name} failed`);
    process.exit(1);
  }
  console.log(`${outfile}  (${Math.round(performance.now() - started)} ms)`);
}
