// `kopi-docka doctor`: checks of the engine, kopia, the repository and the config.
import type { Command } from "commander";
import { DockerEngine } from "../../adapters/docker/engine.js";
import type { KopiaClient } from "../../adapters/kopia/kopia-client.js";
import { runDoctor } from "../../app/doctor.js";
import { readPassword, type Settings } from "../../config/load.js";
import { ExitCode } from "../../domain/errors.js";
import { printJson, printLines, table } from "../output.js";
import { loadConfigured, makeKopia } from "../runtime.js";
import type { CommandHelpers } from "./types.js";

export function registerDoctor(program: Command, helpers: CommandHelpers): void {
  program
    .command("doctor")
    .description(
      "check the Docker engine, kopia, the repository, the config, free space and the backup format",
    )
    .option("--json", "print the checks as JSON to stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  kopi-docka doctor\n  kopi-docka doctor --json\n\nExit code 0 when no check fails, 4 otherwise.\n",
    )
    .action(
      helpers.action(async (options: { json?: boolean }) => {
        let settings: Settings | Error;
        let kopia: KopiaClient | undefined;
        try {
          settings = await loadConfigured(helpers.global());
          kopia = makeKopia(settings, await readPassword(settings));
        } catch (error) {
          settings = error instanceof Error ? error : new Error(String(error));
        }
        const report = await runDoctor({ settings, docker: new DockerEngine(), kopia });
        if (options.json) printJson(report);
        else printLines(table(report.checks.map((c) => [c.status.toUpperCase(), c.name, c.detail])));
        return report.ok ? ExitCode.ok : ExitCode.environment;
      }),
    );
}
