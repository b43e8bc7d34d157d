import pkg from "../../package.json" with { type: "json" };

/** The release version, from package.json; compiled binaries carry it inside. */
export const VERSION: string = pkg.version;

/** One line for --version: the binary, its version and the runtime it was built on. */
export function versionLine(binary: string): string {
  return `${binary} ${VERSION} (bun ${Bun.version}, ${process.platform}/${process.arch})`;
}
