/** Context carried by a configuration error, for tests and structured logs. */
export interface ConfigErrorContext {
  /** The flag (or YAML field) at fault. */
  readonly field: string;
  readonly value?: unknown;
  /** Where the value came from: "--listen", "$NAGENT_LISTEN" or "listen in FILE". */
  readonly source?: string;
}

/**
 * Invalid configuration. The message is one line meant for a person; the binary prints it and
 * exits with status 2, the convention for usage errors.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly field: string;
  readonly value: unknown;
  readonly source: string | undefined;

  constructor(message: string, context: ConfigErrorContext) {
    super(message);
    this.field = context.field;
    this.value = context.value;
    this.source = context.source;
  }
}
