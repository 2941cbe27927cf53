// `kopi-docka list`: the units discovery finds, with containers, volumes, binds and formats.
import type { Command } from "commander";
import { DockerEngine } from "../../adapters/docker/engine.js";
import { discover } from "../../app/discover.js";
import { loadSettings, locateConfig } from "../../config/load.js";
import { isRunning } from "../../domain/model.js";
import { waves } from "../../domain/start-order.js";
import { printJson, printLines } from "../output.js";
import type { CommandHelpers } from "./types.js";

export function registerList(program: Command, helpers: CommandHelpers): void {
  program
    .command("list")
    .description("show the backup units on this host: containers, volumes, bind mounts, formats")
    .option("--json", "print JSON to stdout")
    .addHelpText("after", "\nExamples:\n  kopi-docka list\n  kopi-docka list --json | jq '.units[].name'\n")
    .action(
      helpers.action(async (options: { json?: boolean }) => {
        const place = await locateConfig({ explicit: helpers.global().config });
        // Without any config, list still works with the defaults; a named config must exist.
        const format =
          place.exists || place.origin !== "user"
            ? (await loadSettings(place)).config.backup.backup_format
            : "direct";
        const found = await discover(new DockerEngine(), format);
        if (options.json) {
          printJson({
            units: found.units.map((u) => ({
              name: u.name,
              kind: u.kind,
              containers: u.containers.map((c) => ({
                name: c.name,
                id: c.id,
                image: c.image,
                state: c.state,
              })),
              startOrder: u.containers.map((c) => c.name),
              // The dependency graph's levels: each container in the wave after the last it depends on.
              startWaves: waves(u.containers).map((wave) => wave.map((c) => c.name)),
              // A compose v1 project whose compose files could not be used: why its order is unknown
              // (left out of the JSON elsewhere: undefined).
              startOrderUnknown: found.orderProblems.get(u.name),
              volumes: u.volumes.map((v) => ({
                name: v.volume.name,
                driver: v.volume.driver,
                mountpoint: v.volume.mountpoint,
                labels: v.volume.labels,
                usedBy: v.usedBy,
                format: v.format,
                ...(v.formatReason ? { fallbackReason: v.formatReason } : {}),
              })),
              binds: u.binds,
              skipped: u.skipped,
            })),
          });
          return 0;
        }
        const lines: string[] = [];
        if (found.units.length === 0) lines.push("no units: no running containers and no compose projects");
        for (const u of found.units) {
          lines.push(`${u.name} (${u.kind})`);
          const orderProblem = found.orderProblems.get(u.name);
          if (orderProblem)
            lines.push(
              `  order     unknown, so one container at a time in the order of their names: ${orderProblem}`,
            );
          for (const c of u.containers)
            lines.push(`  container ${c.name}  ${isRunning(c) ? "running" : c.state}  ${c.image}`);
          for (const v of u.volumes)
            lines.push(
              `  volume    ${v.volume.name}  ${v.format}${v.formatReason ? ` (fallback: ${v.formatReason})` : ""}  ${v.volume.mountpoint}`,
            );
          for (const b of u.binds)
            lines.push(`  bind      ${b.source} -> ${b.destination}${b.readOnly ? " (ro)" : ""}  direct`);
          for (const s of u.skipped) lines.push(`  skipped   ${s.source} -> ${s.destination}: ${s.reason}`);
        }
        printLines(lines);
        return 0;
      }),
    );
}
