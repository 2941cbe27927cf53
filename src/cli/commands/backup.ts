// `kopi-docka backup`: cold backup of the host's units.
import { type Command, Option } from "commander";
import { runBackup } from "../../app/backup.js";
import { ExitCode, InterruptedError } from "../../domain/errors.js";
import { BACKUP_FORMATS, BACKUP_SCOPES, type BackupFormat, type BackupScope } from "../../domain/model.js";
import { formatBytes, formatDuration, printJson, printLines } from "../output.js";
import { buildContext } from "../runtime.js";
import { type CommandHelpers, collect } from "./types.js";

export function registerBackup(program: Command, helpers: CommandHelpers): void {
  program
    .command("backup")
    .description("stop each unit's containers, snapshot its volumes and bind mounts, start them again")
    .option("--unit <name>", "back up only this unit (repeatable)", collect, [])
    .option("--dry-run", "print the plan and touch nothing")
    .addOption(
      new Option("--scope <scope>", "what to save in this run (default: backup.backup_scope)").choices(
        BACKUP_SCOPES,
      ),
    )
    .addOption(
      new Option(
        "--backup-format <format>",
        "format for volumes in this run (default: backup.backup_format)",
      ).choices(BACKUP_FORMATS),
    )
    .option("--json", "print the summary as JSON to stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  kopi-docka backup\n  kopi-docka backup --unit nextcloud --unit gitea\n  kopi-docka backup --unit legacy-app --backup-format tar\n  kopi-docka backup --scope full\n  kopi-docka backup --dry-run --json\n\nExit codes: 0 all units backed up, 1 a unit failed, 2 usage, 3 config, 4 environment, 5 busy (another run holds the lock), 130/143 interrupted.\n",
    )
    .action(
      helpers.action(
        async (options: {
          unit: string[];
          dryRun?: boolean;
          json?: boolean;
          backupFormat?: BackupFormat;
          scope?: BackupScope;
        }) => {
          const ctx = await buildContext(helpers.global(), { json: options.json === true });
          const report = await runBackup(ctx, {
            units: options.unit,
            dryRun: options.dryRun === true,
            format: options.backupFormat,
            scope: options.scope,
          });
          for (const w of report.warnings) ctx.log.warn(w);
          if (options.json) printJson(report);
          else {
            const lines: string[] = [];
            for (const u of report.units) {
              if (report.dryRun) {
                lines.push(`${u.unit}: would stop ${u.stopped.join(", ") || "nothing"}`);
                for (const w of u.warnings) ctx.log.warn(w);
                for (const i of u.items) {
                  const via = i.fallbackReason ? `, through the Engine API: ${i.fallbackReason}` : "";
                  const excluding = i.excludes.length > 0 ? ` excluding ${i.excludes.join(", ")}` : "";
                  lines.push(`  ${i.kind} ${i.name} (${i.format}${via})${excluding}`);
                }
                continue;
              }
              const size = u.items.reduce((sum, i) => sum + i.sizeBytes, 0);
              lines.push(
                `${u.unit}: ${u.status}${u.status === "ok" ? `, ${u.items.length} snapshot(s), ${formatBytes(size)}, downtime ${formatDuration(u.downtimeMs)}, backup id ${u.backupId}` : ` - ${u.error ?? ""}`}`,
              );
              for (const p of u.notRestarted)
                lines.push(`  ${p.container} is not running again: ${p.reason}`);
            }
            if (report.units.length === 0) lines.push("no units to back up");
            printLines(lines);
          }
          if (ctx.signal.aborted) {
            const reason = ctx.signal.reason;
            return reason instanceof InterruptedError ? reason.exitCode : ExitCode.interrupted;
          }
          return report.units.some((u) => u.status !== "ok" && u.status !== "planned")
            ? ExitCode.failure
            : ExitCode.ok;
        },
      ),
    );
}
