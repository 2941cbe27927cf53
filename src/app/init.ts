// The init use case: a config (with a generated password) when there is none, and a connected repository.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { writePrivateFile } from "../adapters/fs/private-file.js";
import { GENERATED_PASSWORD_KEY_DERIVATION } from "../adapters/kopia/argv.js";
import type { KopiaClient } from "../adapters/kopia/kopia-client.js";
import { type ConfigPlace, loadSettings, readPassword, type Settings } from "../config/load.js";
import { errorMessage } from "../domain/errors.js";
import type { Logger } from "./context.js";
import { recordMaintained } from "./maintenance.js";
import { applyGlobalPolicy } from "./policy.js";

export interface InitRequest {
  place: ConfigPlace;
  /** Storage for a new config (default: a filesystem repository at /backup/kopia-repository). */
  kopiaParams?: string | undefined;
}

export interface InitReport {
  configPath: string;
  configCreated: boolean;
  passwordFile: string | undefined;
  repository: "created" | "connected";
  storage: string;
  kopiaConfigFile: string;
}

export const DEFAULT_KOPIA_PARAMS = "filesystem --path /backup/kopia-repository";

export function newConfigDocument(
  passwordFile: string,
  kopiaParams: string,
  options: { generatedPassword: boolean } = { generatedPassword: false },
): unknown {
  return {
    kopia: {
      kopia_params: kopiaParams,
      password_file: passwordFile,
      profile: "kopi-docka",
      compression: "zstd",
      // A password init generated is 256 random bits: the repository's key need not be derived
      // slowly (see GENERATED_PASSWORD_KEY_DERIVATION). One the user chose keeps Kopia's default.
      ...(options.generatedPassword ? { key_derivation: GENERATED_PASSWORD_KEY_DERIVATION } : {}),
    },
    backup: {
      backup_scope: "standard",
      backup_format: "direct",
      stop_timeout: 30,
      start_timeout: 60,
      exclude_patterns: [],
    },
    retention: { latest: 10, hourly: 0, daily: 7, weekly: 4, monthly: 12, annual: 3 },
  };
}

export async function runInit(
  request: InitRequest,
  deps: { log: Logger; makeKopia: (settings: Settings, password: string) => KopiaClient },
): Promise<InitReport> {
  let configCreated = false;
  let place = request.place;
  if (!place.exists) {
    const passwordFile = path.join(path.dirname(place.path), "kopia-password");
    let generatedPassword = false;
    try {
      await fs.lstat(passwordFile);
      deps.log.info(`keeping the existing password file ${passwordFile}`);
    } catch {
      await writePrivateFile(passwordFile, `${randomBytes(32).toString("base64url")}\n`);
      generatedPassword = true;
      deps.log.info(
        `wrote a new random repository password to ${passwordFile} (mode 0600): keep a copy somewhere safe`,
      );
    }
    const document = newConfigDocument(passwordFile, request.kopiaParams ?? DEFAULT_KOPIA_PARAMS, {
      generatedPassword,
    });
    await writePrivateFile(place.path, `${JSON.stringify(document, null, 2)}\n`);
    deps.log.info(`wrote the configuration ${place.path} (mode 0600)`);
    configCreated = true;
    place = { ...place, exists: true };
  }
  const settings = await loadSettings(place);
  for (const warning of settings.warnings) deps.log.warn(warning);
  const password = await readPassword(settings);
  const kopia = deps.makeKopia(settings, password);
  if (settings.storage.localPath)
    await fs.mkdir(settings.storage.localPath, { recursive: true, mode: 0o700 });
  await fs.mkdir(path.dirname(settings.kopiaConfigFile), { recursive: true, mode: 0o700 });
  const repository = await kopia.connectOrCreate({
    storage: settings.storage.argv,
    cacheDirectory: settings.cacheDirectory,
    ...(settings.config.kopia.hostname ? { hostname: settings.config.kopia.hostname } : {}),
    ...(settings.config.kopia.key_derivation ? { keyDerivation: settings.config.kopia.key_derivation } : {}),
  });
  deps.log.info(
    `repository ${repository}: ${settings.storage.kind}${settings.storage.localPath ? ` at ${settings.storage.localPath}` : ""}`,
  );
  await applyGlobalPolicy({ kopia, settings, log: deps.log }, (await kopia.policies()).global);
  // A new repository holds nothing to maintain: the first backup need not run Kopia's maintenance.
  if (repository === "created")
    await recordMaintained({ settings }, new Date()).catch((error: unknown) =>
      deps.log.warn(
        `could not record the new repository's maintenance time (the first backup runs it): ${errorMessage(error)}`,
      ),
    );
  return {
    configPath: place.path,
    configCreated,
    passwordFile: settings.passwordFile,
    repository,
    storage: settings.storage.kind,
    kopiaConfigFile: settings.kopiaConfigFile,
  };
}
