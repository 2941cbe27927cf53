// `kopi-docka history`: what earlier backups and restores did, from the run records.
import type { Command } from "commander";
import { readHistory } from "../../app/history.js";
import { UsageError } from "../../domain/errors.js";
import { makeLogger, printJson, printLines, table } from "../output.js";
import { loadConfigured } from "../runtime.js";
import type { CommandHelpers } from "./types.js";

export function registerHistory(program: Command, helpers: CommandHelpers): void {
  program
    .command("history")
    .description("show earlier backup and restore runs per unit, newest first (backup.base_path/metadata)")
    .option("--unit <name>", "only this unit")
    .option("--failed", "only runs that did not succeed")
    .option("--last <n>", "only the newest N runs")
    .option("--json", "print JSON to stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  kopi-docka history --last 10\n  kopi-docka history --unit nextcloud --failed --json\n",
    )
    .action(
      helpers.action(async (options: { unit?: string; failed?: boolean; last?: string; json?: boolean }) => {
        const last = options.last === undefined ? undefined : Number(options.last);
        if (last !== undefined && (!Number.isInteger(last) || last < 1))
          throw new UsageError(`--last takes a whole number from 1 up, not ${JSON.stringify(options.last)}`);
        const settings = await loadConfigured(helpers.global());
        const log = makeLogger({ json: options.json === true });
        const { entries, skipped } = await readHistory(
          { settings, log },
          { unit: options.unit, failedOnly: options.failed === true, last },
        );
        if (options.json) {
          printJson({
            runs: entries.map((e) => ({
              unit: e.unit,
              operation: e.operation,
              time: e.time?.toISOString() ?? null,
              success: e.success,
              status: e.status,
              backupId: e.backupId,
              durationSeconds: e.durationSeconds ?? null,
              errors: e.errors,
              errorDetails: e.errorDetails,
              snapshotIds: e.snapshotIds,
              file: e.file,
            })),
            skipped,
          });
          return 0;
        }
        if (entries.length === 0) {
          printLines(["no runs recorded"]);
          return 0;
        }
        printLines(
          table(
            entries.map((e) => [
              e.time?.toISOString() ?? "(no time)",
              e.unit,
              e.operation,
              e.status,
              e.durationSeconds !== undefined ? `${e.durationSeconds.toFixed(1)} s` : "",
              e.errors[0] ?? "",
            ]),
          ),
        );
        return 0;
      }),
    );
}
