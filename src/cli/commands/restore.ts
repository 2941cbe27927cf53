// `kopi-docka restore`: a unit's data back from a restore point.
import type { Command } from "commander";
import { type RestorePlan, runRestore } from "../../app/restore.js";
import { listRestorePoints } from "../../app/snapshots.js";
import { EnvironmentError, ExitCode, InterruptedError, UsageError } from "../../domain/errors.js";
import { printJson, printLines } from "../output.js";
import { buildContext } from "../runtime.js";
import { type CommandHelpers, collect } from "./types.js";

/**
 * The prompt library, loaded only when a question is asked (it is not needed with --yes), from
 * node_modules (it is left out of the bundle). Missing, it fails before anything is changed.
 */
const prompts = () =>
  import("@inquirer/prompts").catch((error: unknown) => {
    throw new EnvironmentError(
      `cannot load the prompts (@inquirer/prompts: ${(error as Error).message.split("\n")[0]}): run \`npm ci\` in kopi-docka's directory, or pass --unit and --yes`,
    );
  });

interface RestoreOptions {
  unit?: string;
  backupId?: string;
  volume: string[];
  toDir?: string;
  host?: string;
  stackDir?: string;
  overwriteFiles?: boolean;
  replaceNetworks?: boolean;
  start?: boolean;
  envFile?: string;
  yes?: boolean;
  json?: boolean;
}

const promptContext = { output: process.stderr };

function describePlan(plan: RestorePlan): string {
  const what = plan.items.map((i) => `${i.kind} ${i.name}`).join(", ");
  const where = plan.toDir ? ` into ${plan.toDir}` : "";
  const stops = plan.stops.length > 0 ? `; stops and restarts ${plan.stops.join(", ")}` : "";
  const stack = plan.stackDir ? `; compose files into ${plan.stackDir}` : "";
  const networks = plan.networks?.length
    ? `; networks ${plan.networks.join(", ")} (created when missing)`
    : "";
  return `restore ${what} of ${plan.point.unit} from ${plan.point.time?.toISOString() ?? plan.point.backupId}${where}${stops}${stack}${networks}`;
}

export function registerRestore(program: Command, helpers: CommandHelpers): void {
  program
    .command("restore")
    .description("restore a unit's volumes and bind mounts from a restore point (the newest by default)")
    .option("--unit <name>", "the unit to restore (asked on a terminal when missing)")
    .option("--backup-id <id>", "the restore point (default: the newest of the unit)")
    .option("--volume <name>", "restore only this volume (repeatable)", collect, [])
    .option("--to-dir <dir>", "write one volume's content into an empty directory; no container is touched")
    .option("--host <name>", "restore points written by this Kopia hostname (default: this client's)")
    .option(
      "--stack-dir <dir>",
      "where a compose unit's files go (default: its original directory if it exists here, else restore.stacks_directory/<unit>)",
    )
    .option(
      "--overwrite-files",
      "replace compose and project files that already exist in the stack directory",
    )
    .option(
      "--replace-networks",
      "replace existing networks of the same name (when no container uses them) by the saved ones",
    )
    .option(
      "--start",
      "bring the unit up afterwards: docker compose for a compose unit, else its containers recreated",
    )
    .option("--env-file <file>", "KEY=VALUE lines for env values the backup holds redacted (with --start)")
    .option("--yes", "do not ask for confirmation (required without a terminal)")
    .option("--json", "print the result as JSON to stdout")
    .addHelpText(
      "after",
      "\nThe running containers that use the data, and those of their compose project\nthat depend on them (depends_on), are stopped for the swap and started again\nin start order; the confirmation names them.\n\nExamples:\n  kopi-docka restore --unit nextcloud --yes\n  kopi-docka restore --unit nextcloud --backup-id 3f0c... --volume nextcloud_db --yes\n  kopi-docka restore --unit nextcloud --volume nextcloud_db --to-dir /tmp/db-copy --yes\n  kopi-docka restore --host old-server --unit nextcloud --start --env-file secrets.env --yes\n\nExit codes: 0 restored (or cancelled), 1 failed (current data kept), 2 usage, 3 config, 4 environment, 5 busy (another run holds the lock), 130/143 interrupted.\n",
    )
    .action(
      helpers.action(async (options: RestoreOptions) => {
        const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
        if (!options.yes && !interactive)
          throw new UsageError("restore needs a confirmation: run it on a terminal, or pass --yes");
        if (options.toDir !== undefined && options.volume.length !== 1)
          throw new UsageError("--to-dir restores exactly one volume: name it with --volume NAME");
        if (!options.unit && !interactive) throw new UsageError("name the unit to restore with --unit NAME");
        const ctx = await buildContext(helpers.global(), { json: options.json === true });
        let unit = options.unit;
        let backupId = options.backupId;
        if (!unit || (!backupId && !options.yes)) {
          const { points } = await listRestorePoints(ctx, { unit, host: options.host });
          if (!unit) {
            const units = [...new Set(points.map((p) => p.unit))].sort();
            if (units.length === 0)
              throw new UsageError("the repository holds no restore points for this host");
            const { select } = await prompts();
            unit = await select(
              { message: "Unit to restore", choices: units.map((u) => ({ value: u })) },
              promptContext,
            );
          }
          const ofUnit = points.filter((p) => p.unit === unit);
          if (!backupId && ofUnit.length > 0) {
            const { select } = await prompts();
            backupId = await select(
              {
                message: "Restore point",
                choices: ofUnit.map((p) => ({
                  value: p.backupId,
                  name: `${p.time?.toISOString() ?? "(no time)"}  ${p.backupId}  (${p.items
                    .filter((i) => i.kind !== "fs_metadata")
                    .map((i) => `${i.kind} ${i.name ?? ""}`.trim())
                    .join(", ")})`,
                })),
              },
              promptContext,
            );
          }
        }
        const report = await runRestore(ctx, {
          unit,
          backupId,
          volumes: options.volume,
          toDir: options.toDir,
          host: options.host,
          stackDir: options.stackDir,
          overwriteFiles: options.overwriteFiles === true,
          replaceNetworks: options.replaceNetworks === true,
          start: options.start === true,
          envFile: options.envFile,
          confirm: async (plan) => {
            ctx.log.info(describePlan(plan));
            if (options.yes) return true;
            const { confirm } = await prompts();
            return confirm(
              { message: "Restore now? Current data is replaced.", default: false },
              promptContext,
            );
          },
        });
        if (options.json) printJson(report);
        else {
          const lines = [
            report.status === "ok"
              ? `${report.unit}: restored ${report.items.map((i) => `${i.kind} ${i.name}`).join(", ")} from ${report.backupId}`
              : report.status === "cancelled"
                ? "restore cancelled; nothing was changed"
                : `${report.unit}: ${report.status} - ${report.error ?? ""}`,
            ...report.notRestarted.map((p) => `  ${p.container} is not running again: ${p.reason}`),
          ];
          printLines(lines);
        }
        if (ctx.signal.aborted) {
          const reason = ctx.signal.reason;
          return reason instanceof InterruptedError ? reason.exitCode : ExitCode.interrupted;
        }
        return report.status === "ok" || report.status === "cancelled" ? ExitCode.ok : ExitCode.failure;
      }),
    );
}
