// `kopi-docka recover`: start what a crashed backup or restore left stopped.
import type { Command } from "commander";
import { exclusiveRun } from "../../app/run-guard.js";
import { ExitCode } from "../../domain/errors.js";
import { printJson, printLines } from "../output.js";
import { buildContext } from "../runtime.js";
import type { CommandHelpers } from "./types.js";

export function registerRecover(program: Command, helpers: CommandHelpers): void {
  program
    .command("recover")
    .description(
      "start the containers a crashed backup or restore left stopped (also done at the start of every run)",
    )
    .option("--json", "print the result as JSON to stdout")
    .addHelpText(
      "after",
      `
Before it stops a container, a run writes a journal of what it stops (in backup.state_directory).
If kopi-docka itself dies (SIGKILL, out of memory, power loss), recover starts those containers in
start order, unless someone has started or removed them since. Run it at boot, for example with
a systemd unit:

  [Unit]
  Description=Start containers a crashed kopi-docka run left stopped
  After=docker.service
  Requires=docker.service

  [Service]
  Type=oneshot
  ExecStart=/usr/local/bin/kopi-docka recover

  [Install]
  WantedBy=multi-user.target

Exit codes: 0 nothing to do or all started, 1 a container could not be started, 5 another run holds the lock.
`,
    )
    .action(
      helpers.action(async (options: { json?: boolean }) => {
        const ctx = await buildContext(helpers.global(), { json: options.json === true });
        const report = await exclusiveRun(ctx, "recover", async (recovered) => recovered);
        if (options.json) printJson(report);
        else {
          const lines = [
            ...report.started.map((s) => `started ${s.container} (${s.unit})`),
            ...report.skipped.map((s) => `left ${s.container} (${s.unit}): ${s.reason}`),
            ...report.failed.map((s) => `could not start ${s.container} (${s.unit}): ${s.reason}`),
          ];
          printLines(lines.length > 0 ? lines : ["nothing to recover"]);
        }
        return report.failed.length > 0 ? ExitCode.failure : ExitCode.ok;
      }),
    );
}
