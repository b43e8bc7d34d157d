/** Thrown when a service binary is missing; the suites must fail loudly instead of skipping. */
export class MissingExecutableError extends Error {
  override readonly name = "MissingExecutableError";

  constructor(
    readonly executable: string,
    readonly debianPackage: string,
  ) {
    super(
      `${executable} is not on PATH, and the tests need a real ${executable}. ` +
        `Run \`npm test\`, which installs it, or install it yourself: apt-get install ${debianPackage}`,
    );
  }
}

/** Resolves `executable` on PATH, so a missing install is reported as such rather than as a spawn failure. */
export function requireExecutable(executable: string, debianPackage: string): string {
  const path = Bun.which(executable);
  if (path === null) throw new MissingExecutableError(executable, debianPackage);
  return path;
}
