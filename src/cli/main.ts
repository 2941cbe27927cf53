#!/usr/bin/env node
// Composition root: parses argv, runs one command, and is the one place errors become exit codes.
import { Command, CommanderError } from "commander";
import { keepYoungGenerationSmall } from "../adapters/process/memory.js";
import { ExitCode, ExternalError, InterruptedError, KopiDockaError } from "../domain/errors.js";
import { VERSION } from "../version.js";
import { registerBackup } from "./commands/backup.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerHistory } from "./commands/history.js";
import { registerInit } from "./commands/init.js";
import { registerList } from "./commands/list.js";
import { registerRecover } from "./commands/recover.js";
import { registerRestore } from "./commands/restore.js";
import { registerSnapshots } from "./commands/snapshots.js";
import type { CommandHelpers } from "./commands/types.js";
import { makeLogger } from "./output.js";
import { type GlobalOptions, interruptSignal } from "./runtime.js";

const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    a unit failed, or Kopia or Docker failed (containers are started again)
  2    usage error: unknown option, unknown unit, missing --yes without a terminal
  3    configuration error: missing, unreadable or invalid config
  4    environment: Docker engine, kopia or the repository not ready (nothing was stopped)
  5    busy: another backup, restore or recover holds the lock (nothing was done)
  130  interrupted by SIGINT; 143 by SIGTERM or SIGHUP (stopped containers were started again)
`;

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes("--json");
}

function reportError(error: unknown, json: boolean): number {
  // Ctrl-C or Ctrl-D at a prompt: nothing was changed.
  if (error instanceof Error && error.name === "ExitPromptError") {
    process.stderr.write("kopi-docka: cancelled at the prompt; nothing was changed\n");
    return ExitCode.interrupted;
  }
  if (error instanceof KopiDockaError) {
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, error: { kind: error.kind, message: error.message, exitCode: error.exitCode } }, null, 2)}\n`,
      );
    }
    process.stderr.write(`kopi-docka: ${error.message}\n`);
    if (error instanceof ExternalError && process.env.KOPI_DOCKA_DEBUG && error.details.command)
      process.stderr.write(`  ran: ${error.details.command}\n  stderr: ${error.details.stderrTail ?? ""}\n`);
    return error.exitCode;
  }
  process.stderr.write(
    `kopi-docka: internal error (a bug; please report it):\n${(error as Error)?.stack ?? String(error)}\n`,
  );
  return ExitCode.failure;
}

export async function main(argv: readonly string[]): Promise<number> {
  const json = wantsJson(argv);
  const signal = interruptSignal(makeLogger({ json }));
  let exitCode: number = ExitCode.ok;
  const program = new Command();
  const helpers: CommandHelpers = {
    global: () => program.opts<GlobalOptions>(),
    action:
      (fn) =>
      async (...args) => {
        try {
          exitCode = await fn(...args);
        } catch (error) {
          exitCode = reportError(error, json);
        }
      },
  };
  program
    .name("kopi-docka")
    .description("Cold, consistent, deduplicated backups of Docker hosts into a Kopia repository")
    .version(VERSION)
    .option(
      "--config <path>",
      "config file (default: $KOPI_DOCKA_CONFIG, ~/.config/kopi-docka/config.json, /etc/kopi-docka.json)",
    )
    .addHelpText("after", EXIT_CODES_HELP)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerInit(program, helpers);
  registerList(program, helpers);
  registerBackup(program, helpers);
  registerSnapshots(program, helpers);
  registerRestore(program, helpers);
  registerDoctor(program, helpers);
  registerRecover(program, helpers);
  registerHistory(program, helpers);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      )
        return ExitCode.ok;
      if (json)
        process.stdout.write(
          `${JSON.stringify({ ok: false, error: { kind: "usage", message: error.message, exitCode: 2 } })}\n`,
        );
      return ExitCode.usage;
    }
    return reportError(error, json);
  }
  // A signal that came before the command had anything to undo still ends the run as interrupted.
  if (signal.aborted && exitCode === ExitCode.ok)
    return signal.reason instanceof InterruptedError ? signal.reason.exitCode : ExitCode.interrupted;
  return exitCode;
}

keepYoungGenerationSmall();

// A reader that went away (`kopi-docka … | head`) must not end the run: a backup still has
// containers to start again. What it would have read is dropped.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = reportError(error, false);
  },
);
