import pkg from "../../package.json" with { type: "json" };
import { describeCommit } from "./commit.ts";

/** The release version, from package.json; compiled binaries carry it inside. */
export const VERSION: string = pkg.version;

// Set by scripts/build.ts (bun build --define) to the commit the binary was built from.
declare const NAGENT_BUILD_COMMIT: string | undefined;

let sourceCommit: string | undefined;

/**
 * The commit this program was built from: short hash, "-dirty" when the tree had uncommitted
 * changes. Compiled binaries carry it; run from source it is read from git (once), or "unknown".
 */
export function commit(): string {
  if (typeof NAGENT_BUILD_COMMIT === "string") return NAGENT_BUILD_COMMIT;
  return (sourceCommit ??= describeCommit(new URL("../..", import.meta.url).pathname) ?? "unknown");
}

/** One line for --version: the binary, its version, its commit and the runtime it was built on. */
export function versionLine(binary: string): string {
  return `${binary} ${VERSION} (commit ${commit()}, bun ${Bun.version}, ${process.platform}/${process.arch})`;
}
