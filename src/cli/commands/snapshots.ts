// `kopi-docka snapshots`: restore points in the repository.
import type { Command } from "commander";
import { listRestorePoints } from "../../app/snapshots.js";
import { readPassword } from "../../config/load.js";
import type { RestorePoint } from "../../domain/restore-points.js";
import { formatBytes, printJson, printLines, table } from "../output.js";
import { loadConfigured, makeKopia } from "../runtime.js";
import type { CommandHelpers } from "./types.js";

export function restorePointJson(p: RestorePoint) {
  return {
    unit: p.unit,
    backupId: p.backupId,
    time: p.time?.toISOString() ?? null,
    host: p.host,
    user: p.user,
    scope: p.scope,
    snapshots: p.items.map((i) => ({
      id: i.snapshotId,
      type: i.kind,
      name: i.name ?? null,
      volume: i.kind === "volume" ? (i.name ?? null) : null,
      format: i.format ?? null,
      sizeBytes: i.sizeBytes,
      path: i.record.path,
    })),
  };
}

export function registerSnapshots(program: Command, helpers: CommandHelpers): void {
  program
    .command("snapshots")
    .description("list restore points: snapshots grouped by unit and backup id, newest first")
    .option("--unit <name>", "only this unit")
    .option("--all-hosts", "restore points of every host writing to the repository")
    .option("--host <name>", "restore points written by this Kopia hostname")
    .option("--json", "print JSON to stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  kopi-docka snapshots\n  kopi-docka snapshots --unit nextcloud --json\n",
    )
    .action(
      helpers.action(
        async (options: { unit?: string; allHosts?: boolean; host?: string; json?: boolean }) => {
          const settings = await loadConfigured(helpers.global());
          const kopia = makeKopia(settings, await readPassword(settings));
          const { host, points } = await listRestorePoints(
            { kopia },
            { unit: options.unit, allHosts: options.allHosts === true, host: options.host },
          );
          if (options.json) {
            printJson({ host: host ?? null, restorePoints: points.map(restorePointJson) });
            return 0;
          }
          if (points.length === 0) {
            printLines([
              `no restore points${options.unit ? ` for unit ${options.unit}` : ""}${host ? ` from host ${host}` : ""}`,
            ]);
            return 0;
          }
          const lines: string[] = [];
          for (const p of points) {
            lines.push(
              `${p.unit}  ${p.time?.toISOString() ?? "(no time)"}  ${p.backupId}  ${p.user}@${p.host}  scope ${p.scope}`,
            );
            lines.push(
              ...table(
                p.items
                  .filter((i) => i.kind !== "fs_metadata")
                  .map((i) => [
                    `    ${i.kind}`,
                    i.name ?? "",
                    i.format ?? "",
                    formatBytes(i.sizeBytes),
                    i.snapshotId,
                  ]),
              ),
            );
          }
          printLines(lines);
          return 0;
        },
      ),
    );
}
