// Finding, reading and resolving the configuration file into the settings the adapters need.
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseStorageParams, type StorageParams } from "../adapters/kopia/storage-params.js";
import { ConfigError, errorMessage, KopiDockaError } from "../domain/errors.js";
import { type Config, validateConfig } from "./schema.js";

export interface ConfigLookup {
  /** `--config` from the command line. */
  explicit?: string | undefined;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

export interface ConfigPlace {
  path: string;
  /** Where the path came from: an explicit choice must exist (except for init). */
  origin: "--config" | "KOPI_DOCKA_CONFIG" | "user" | "system";
  exists: boolean;
}

export function homeDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOME && env.HOME.length > 0 ? env.HOME : os.homedir();
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** --config, else $KOPI_DOCKA_CONFIG, else ~/.config/kopi-docka/config.json, else /etc/kopi-docka.json. */
export async function locateConfig(lookup: ConfigLookup = {}): Promise<ConfigPlace> {
  const env = lookup.env ?? process.env;
  if (lookup.explicit) {
    const p = path.resolve(lookup.explicit);
    return { path: p, origin: "--config", exists: await exists(p) };
  }
  if (env.KOPI_DOCKA_CONFIG) {
    const p = path.resolve(env.KOPI_DOCKA_CONFIG);
    return { path: p, origin: "KOPI_DOCKA_CONFIG", exists: await exists(p) };
  }
  const user = path.join(lookup.home ?? homeDirectory(env), ".config", "kopi-docka", "config.json");
  if (await exists(user)) return { path: user, origin: "user", exists: true };
  const system = "/etc/kopi-docka.json";
  if (await exists(system)) return { path: system, origin: "system", exists: true };
  return { path: user, origin: "user", exists: false };
}

/** Settings resolved from the config: absolute paths and parsed storage parameters. */
export interface Settings {
  config: Config;
  configPath: string;
  warnings: string[];
  kopiaConfigFile: string;
  cacheDirectory: string;
  logDirectory: string;
  storage: StorageParams;
  passwordFile: string | undefined;
}

function expandHome(p: string, home: string): string {
  return p === "~" ? home : p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}

async function permissionWarning(file: string, what: string): Promise<string | undefined> {
  try {
    const stat = await fs.stat(file);
    if ((stat.mode & 0o077) !== 0)
      return `${what} ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}): run chmod 600 ${file}`;
  } catch {
    // reported where the file is read
  }
  return undefined;
}

export function resolveSettings(
  config: Config,
  configPath: string,
  warnings: string[],
  env = process.env,
): Settings {
  const home = homeDirectory(env);
  const configDir = path.dirname(configPath);
  const abs = (p: string) => path.resolve(configDir, expandHome(p, home));
  let storage: StorageParams;
  try {
    storage = parseStorageParams(config.kopia.kopia_params);
  } catch (error) {
    throw new ConfigError(`invalid configuration in ${configPath}`, [
      `kopia.kopia_params: ${errorMessage(error)}`,
    ]);
  }
  const kopiaConfigFile = config.kopia.config_file
    ? abs(config.kopia.config_file)
    : path.join(home, ".config", "kopia", `repository-${config.kopia.profile}.config`);
  // Kopia caches a repository's format blob in its cache directory: two repositories sharing
  // one cache directory fail with "invalid repository password". The default is per storage.
  const storageKey = createHash("sha256").update(storage.argv.join("\0")).digest("hex").slice(0, 12);
  const cacheDirectory = config.kopia.cache_directory
    ? abs(config.kopia.cache_directory)
    : path.join(home, ".cache", "kopi-docka", "kopia", `${config.kopia.profile}-${storageKey}`);
  return {
    config,
    configPath,
    warnings,
    kopiaConfigFile,
    cacheDirectory,
    logDirectory: path.join(path.dirname(cacheDirectory), `${path.basename(cacheDirectory)}-logs`),
    storage,
    passwordFile: config.kopia.password_file ? abs(config.kopia.password_file) : undefined,
  };
}

/** Reads and validates a config file. Every problem is reported at once, with its path. */
export async function loadSettings(place: ConfigPlace, env = process.env): Promise<Settings> {
  if (!place.exists) {
    const hint =
      place.origin === "user"
        ? `no configuration found (looked for --config, $KOPI_DOCKA_CONFIG, ${place.path}, /etc/kopi-docka.json): run \`kopi-docka init\``
        : `the configuration file ${place.path} (from ${place.origin}) does not exist: create it with \`kopi-docka init --config ${place.path}\``;
    throw new ConfigError(hint);
  }
  let text: string;
  try {
    text = await fs.readFile(place.path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read the configuration file ${place.path}: ${errorMessage(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`the configuration file ${place.path} is not valid JSON: ${errorMessage(error)}`);
  }
  const result = validateConfig(json);
  if (!result.ok) throw new ConfigError(`invalid configuration in ${place.path}`, result.problems);
  const warnings = [...result.warnings];
  const settings = resolveSettings(result.config, place.path, warnings, env);
  const configWarning = await permissionWarning(place.path, "the configuration file");
  if (configWarning && result.config.kopia.password !== undefined) warnings.push(configWarning);
  if (settings.passwordFile) {
    const w = await permissionWarning(settings.passwordFile, "the password file");
    if (w) warnings.push(w);
  }
  return settings;
}

/** The repository password, from kopia.password or kopia.password_file. */
export async function readPassword(settings: Settings): Promise<string> {
  if (settings.config.kopia.password !== undefined && settings.config.kopia.password !== "")
    return settings.config.kopia.password;
  if (!settings.passwordFile)
    throw new ConfigError(
      `no repository password in ${settings.configPath}: set kopia.password_file (or kopia.password)`,
    );
  try {
    const text = await fs.readFile(settings.passwordFile, "utf8");
    const password = text.replace(/\r?\n$/, "");
    if (password.length === 0) throw new ConfigError(`the password file ${settings.passwordFile} is empty`);
    return password;
  } catch (error) {
    if (error instanceof KopiDockaError) throw error;
    throw new ConfigError(`cannot read the password file ${settings.passwordFile}: ${errorMessage(error)}`);
  }
}
