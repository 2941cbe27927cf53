// The small set of typed errors. Each maps to one documented exit code in cli/main.ts.

/** Exit codes, documented in the README and in `--help`. */
export const ExitCode = {
  ok: 0,
  /** A unit failed, or Kopia or Docker failed while working. */
  failure: 1,
  /** Bad command line: unknown option, unknown unit, conflicting flags, missing confirmation. */
  usage: 2,
  /** The configuration file is missing, unreadable or invalid. */
  config: 3,
  /** Pre-flight: Docker engine unreachable, kopia missing, repository not connected or wrong password. */
  environment: 4,
  /** Another kopi-docka backup, restore or recover holds the lock; nothing was done. */
  busy: 5,
  /** Interrupted by SIGINT (130) or SIGTERM/SIGHUP (143); containers were started again. */
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class KopiDockaError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** A short machine-readable kind for JSON output. */
  abstract readonly kind: string;
}

/** The user asked for something that cannot be done as asked. Shown as one line. */
export class UsageError extends KopiDockaError {
  readonly exitCode = ExitCode.usage;
  readonly kind = "usage";
}

/** The configuration has problems; every problem is listed at once. */
export class ConfigError extends KopiDockaError {
  readonly exitCode = ExitCode.config;
  readonly kind = "config";
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(problems.length > 0 ? `${message}:\n  - ${problems.join("\n  - ")}` : message);
  }
}

/** Something the tool needs is not there or not ready (engine, kopia, repository). */
export class EnvironmentError extends KopiDockaError {
  readonly exitCode = ExitCode.environment;
  readonly kind = "environment";
}

/** Another run holds the lock. */
export class BusyError extends KopiDockaError {
  readonly exitCode = ExitCode.busy;
  readonly kind = "busy";
}

/** An external program or API failed. The message names what ran (redacted), its code and stderr tail. */
export class ExternalError extends KopiDockaError {
  readonly exitCode: ExitCodeValue = ExitCode.failure;
  readonly kind = "external";
  constructor(
    message: string,
    readonly details: { command?: string; exitCode?: number | null; stderrTail?: string } = {},
  ) {
    super(message);
  }
}

/** The run was stopped by a signal. */
export class InterruptedError extends KopiDockaError {
  readonly kind = "interrupted";
  constructor(readonly signal: NodeJS.Signals | "abort") {
    super(`interrupted by ${signal}`);
  }
  get exitCode(): ExitCodeValue {
    return this.signal === "SIGINT" ? ExitCode.interrupted : ExitCode.terminated;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
