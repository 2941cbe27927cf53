// `kopi-docka init`: config and repository.
import type { Command } from "commander";
import { runInit } from "../../app/init.js";
import { locateConfig } from "../../config/load.js";
import { makeLogger, printJson, printLines } from "../output.js";
import { makeKopia } from "../runtime.js";
import type { CommandHelpers } from "./types.js";

export function registerInit(program: Command, helpers: CommandHelpers): void {
  program
    .command("init")
    .description(
      "create the config (with a random password) when missing, and create or connect the repository",
    )
    .option(
      "--kopia-params <words>",
      'storage for a new config, as kopia repository create words (default "filesystem --path /backup/kopia-repository")',
    )
    .option("--json", "print the result as JSON to stdout")
    .addHelpText(
      "after",
      '\nExamples:\n  kopi-docka init\n  kopi-docka --config /etc/kopi-docka.json init --kopia-params "filesystem --path /mnt/backup/kopia"\n  kopi-docka init --kopia-params "sftp --path /srv/kopia --host backup.example --username kopia --keyfile /root/.ssh/id_ed25519 --known-hosts /root/.ssh/known_hosts"\n\nA new repository hashes its contents with BLAKE3-256-128 (Kopia defaults to BLAKE2B-256-128, about half as fast); any Kopia since 0.8 (2021) reads it. With the password init generates (256 random bits) its key is derived with PBKDF2-SHA256 instead of scrypt (kopia.key_derivation in the new config): every kopia command opens it about 0.15 s sooner; Kopia 0.19 and later read it. Re-running it is harmless: an existing config is used as it is and an existing repository is connected as it is.\n',
    )
    .action(
      helpers.action(async (options: { kopiaParams?: string; json?: boolean }) => {
        const log = makeLogger({ json: options.json === true });
        const place = await locateConfig({ explicit: helpers.global().config });
        const report = await runInit({ place, kopiaParams: options.kopiaParams }, { log, makeKopia });
        if (options.json) printJson(report);
        else
          printLines([
            `config: ${report.configPath}${report.configCreated ? " (created)" : ""}`,
            `repository: ${report.storage}, ${report.repository}`,
          ]);
        return 0;
      }),
    );
}
