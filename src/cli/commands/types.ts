// What every command file receives from the composition root.
import type { GlobalOptions } from "../runtime.js";

export interface CommandHelpers {
  /** Global options (--config), read when the command runs. */
  global(): GlobalOptions;
  /** Wraps a command's action: its return value is the exit code; errors become exit codes in main. */
  action<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void>;
}

/** Commander's collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
