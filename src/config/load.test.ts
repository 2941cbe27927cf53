import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../domain/errors.js";
import { type ConfigPlace, loadSettings, locateConfig, readPassword } from "./load.js";

let tmp: string;

beforeEach(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "kd-load-")));
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function writeJson(file: string, value: unknown, mode = 0o600): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, typeof value === "string" ? value : JSON.stringify(value, null, 2));
  await fs.chmod(file, mode);
  return file;
}

const place = (file: string, origin: ConfigPlace["origin"] = "--config"): ConfigPlace => ({
  path: file,
  origin,
  exists: true,
});

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function systemConfigExists(): Promise<boolean> {
  return fs.lstat("/etc/kopi-docka.json").then(
    () => true,
    () => false,
  );
}

describe("locateConfig", () => {
  it("prefers --config over the environment and the user file", async () => {
    const userFile = await writeJson(path.join(tmp, ".config", "kopi-docka", "config.json"), {});
    const explicit = await writeJson(path.join(tmp, "explicit.json"), {});
    const found = await locateConfig({
      explicit,
      env: { KOPI_DOCKA_CONFIG: userFile, HOME: tmp },
      home: tmp,
    });
    expect(found).toEqual({ path: explicit, origin: "--config", exists: true });
  });

  it("resolves a relative --config and reports a missing one", async () => {
    const found = await locateConfig({ explicit: "kd-surely-missing-config.json", env: {}, home: tmp });
    expect(found).toEqual({
      path: path.resolve("kd-surely-missing-config.json"),
      origin: "--config",
      exists: false,
    });
  });

  it("uses $KOPI_DOCKA_CONFIG before the user file", async () => {
    await writeJson(path.join(tmp, ".config", "kopi-docka", "config.json"), {});
    const fromEnv = path.join(tmp, "env.json");
    expect(await locateConfig({ env: { KOPI_DOCKA_CONFIG: fromEnv }, home: tmp })).toEqual({
      path: fromEnv,
      origin: "KOPI_DOCKA_CONFIG",
      exists: false,
    });
    await writeJson(fromEnv, {});
    expect(await locateConfig({ env: { KOPI_DOCKA_CONFIG: fromEnv }, home: tmp })).toEqual({
      path: fromEnv,
      origin: "KOPI_DOCKA_CONFIG",
      exists: true,
    });
  });

  it("ignores an empty --config and an empty $KOPI_DOCKA_CONFIG", async () => {
    const userFile = await writeJson(path.join(tmp, ".config", "kopi-docka", "config.json"), {});
    expect(await locateConfig({ explicit: "", env: { KOPI_DOCKA_CONFIG: "" }, home: tmp })).toEqual({
      path: userFile,
      origin: "user",
      exists: true,
    });
  });

  it("finds ~/.config/kopi-docka/config.json in the given home", async () => {
    const userFile = await writeJson(path.join(tmp, ".config", "kopi-docka", "config.json"), {});
    expect(await locateConfig({ env: {}, home: tmp })).toEqual({
      path: userFile,
      origin: "user",
      exists: true,
    });
  });

  it("takes the home from $HOME when no home is given", async () => {
    const userFile = await writeJson(path.join(tmp, ".config", "kopi-docka", "config.json"), {});
    expect(await locateConfig({ env: { HOME: tmp } })).toEqual({
      path: userFile,
      origin: "user",
      exists: true,
    });
  });

  it("points at the user file, not existing, when nothing is found", async () => {
    const found = await locateConfig({ env: {}, home: tmp });
    if (await systemConfigExists()) {
      expect(found).toEqual({ path: "/etc/kopi-docka.json", origin: "system", exists: true });
    } else {
      expect(found).toEqual({
        path: path.join(tmp, ".config", "kopi-docka", "config.json"),
        origin: "user",
        exists: false,
      });
    }
  });
});

describe("loadSettings", () => {
  const env = () => ({ HOME: tmp });

  it("fails with ConfigError (exit code 3) when the file is missing", async () => {
    const missing = path.join(tmp, "missing.json");
    const error = await catchError(loadSettings({ path: missing, origin: "--config", exists: false }, env()));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(3);
    expect((error as ConfigError).message).toBe(
      `the configuration file ${missing} (from --config) does not exist: create it with \`kopi-docka init --config ${missing}\``,
    );
  });

  it("tells to run init when no configuration was found at all", async () => {
    const user = path.join(tmp, ".config", "kopi-docka", "config.json");
    const error = await catchError(loadSettings({ path: user, origin: "user", exists: false }, env()));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain("no configuration found");
    expect((error as ConfigError).message).toContain(user);
    expect((error as ConfigError).message).toContain("kopi-docka init");
  });

  it("fails with a ConfigError naming the file when the JSON is invalid", async () => {
    const file = await writeJson(path.join(tmp, "bad.json"), "{ kopia: ");
    const error = await catchError(loadSettings(place(file), env()));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(3);
    expect((error as ConfigError).message).toContain(`the configuration file ${file} is not valid JSON`);
  });

  it("fails with a ConfigError when the path cannot be read as a file", async () => {
    const dir = path.join(tmp, "a-directory.json");
    await fs.mkdir(dir);
    const error = await catchError(loadSettings(place(dir), env()));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`cannot read the configuration file ${dir}`);
  });

  it("lists every problem of an invalid configuration", async () => {
    const file = await writeJson(path.join(tmp, "invalid.json"), {
      backup: { stop_timeout: -5 },
      retention: { daily: "x" },
    });
    const error = (await catchError(loadSettings(place(file), env()))) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual([
      "backup.stop_timeout: Number must be greater than or equal to 0",
      "retention.daily: Expected number, received string",
    ]);
    expect(error.message).toBe(
      `invalid configuration in ${file}:\n  - backup.stop_timeout: Number must be greater than or equal to 0\n  - retention.daily: Expected number, received string`,
    );
  });

  it("reports unusable kopia_params as a configuration problem", async () => {
    const file = await writeJson(path.join(tmp, "params.json"), {
      kopia: { kopia_params: 'filesystem --path "/x' },
    });
    const error = (await catchError(loadSettings(place(file), env()))) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual(['kopia.kopia_params: kopia.kopia_params has an unclosed " quote']);
  });

  it("resolves defaults below the home directory", async () => {
    const file = await writeJson(path.join(tmp, "cfg", "config.json"), {});
    const settings = await loadSettings(place(file), env());
    expect(settings.configPath).toBe(file);
    expect(settings.warnings).toEqual([]);
    expect(settings.kopiaConfigFile).toBe(path.join(tmp, ".config", "kopia", "repository-kopi-docka.config"));
    const cacheParent = path.join(tmp, ".cache", "kopi-docka", "kopia");
    expect(path.dirname(settings.cacheDirectory)).toBe(cacheParent);
    // one cache directory per profile and storage
    expect(path.basename(settings.cacheDirectory)).toMatch(/^kopi-docka-[0-9a-f]{12}$/);
    expect(settings.logDirectory).toBe(`${settings.cacheDirectory}-logs`);
    expect(settings.passwordFile).toBeUndefined();
    expect(settings.storage).toStrictEqual({
      kind: "filesystem",
      argv: ["filesystem", "--path", "/backup/kopia-repository"],
      env: {},
      secrets: [],
      localPath: "/backup/kopia-repository",
    });
  });

  it("gives each storage its own default cache directory, the same one every time", async () => {
    const a = await writeJson(path.join(tmp, "a.json"), {
      kopia: { kopia_params: "filesystem --path /repo/a" },
    });
    const a2 = await writeJson(path.join(tmp, "a2.json"), {
      kopia: { kopia_params: "filesystem  --path  /repo/a" },
    });
    const b = await writeJson(path.join(tmp, "b.json"), {
      kopia: { kopia_params: "filesystem --path /repo/b" },
    });
    const p = await writeJson(path.join(tmp, "p.json"), {
      kopia: { kopia_params: "filesystem --path /repo/a", profile: "other" },
    });
    const cacheOf = async (file: string) => (await loadSettings(place(file), env())).cacheDirectory;
    const cacheA = await cacheOf(a);
    expect(await cacheOf(a)).toBe(cacheA);
    expect(await cacheOf(a2)).toBe(cacheA);
    expect(await cacheOf(b)).not.toBe(cacheA);
    expect(path.basename(await cacheOf(p))).toMatch(/^other-[0-9a-f]{12}$/);
  });

  it("resolves relative paths against the config's directory and ~ against the home", async () => {
    const file = await writeJson(path.join(tmp, "cfg", "config.json"), {
      kopia: {
        profile: "prod",
        config_file: "kopia/repo.config",
        cache_directory: "~/cache/kopia",
        password_file: "secret.txt",
      },
    });
    await writeJson(path.join(tmp, "cfg", "secret.txt"), "pw\n");
    const settings = await loadSettings(place(file), env());
    expect(settings.kopiaConfigFile).toBe(path.join(tmp, "cfg", "kopia", "repo.config"));
    expect(settings.cacheDirectory).toBe(path.join(tmp, "cache", "kopia"));
    expect(settings.logDirectory).toBe(path.join(tmp, "cache", "kopia-logs"));
    expect(settings.passwordFile).toBe(path.join(tmp, "cfg", "secret.txt"));
  });

  it("warns with chmod 600 when a config holding a password is readable by others", async () => {
    const file = await writeJson(path.join(tmp, "open.json"), { kopia: { password: "pw" } }, 0o644);
    const settings = await loadSettings(place(file), env());
    expect(settings.warnings).toHaveLength(1);
    expect(settings.warnings[0]).toContain("chmod 600");
    expect(settings.warnings[0]).toBe(
      `the configuration file ${file} is readable by others (mode 644): run chmod 600 ${file}`,
    );
  });

  it("does not warn about a private config with a password, or an open one without", async () => {
    const closed = await writeJson(path.join(tmp, "closed.json"), { kopia: { password: "pw" } }, 0o600);
    expect((await loadSettings(place(closed), env())).warnings).toEqual([]);
    const open = await writeJson(path.join(tmp, "nopw.json"), { backup: {} }, 0o644);
    expect((await loadSettings(place(open), env())).warnings).toEqual([]);
  });

  it("warns about an open password file", async () => {
    const file = await writeJson(path.join(tmp, "c.json"), { kopia: { password_file: "pw.txt" } }, 0o644);
    const pwFile = await writeJson(path.join(tmp, "pw.txt"), "pw", 0o640);
    const settings = await loadSettings(place(file), env());
    expect(settings.warnings).toEqual([
      `the password file ${pwFile} is readable by others (mode 640): run chmod 600 ${pwFile}`,
    ]);
  });

  it("passes unknown-key warnings on", async () => {
    const file = await writeJson(path.join(tmp, "c.json"), {
      kopia: { encryption: "AES256-GCM-HMAC-SHA256" },
    });
    expect((await loadSettings(place(file), env())).warnings).toEqual([
      "unknown key kopia.encryption is ignored",
    ]);
  });
});

describe("readPassword", () => {
  async function settingsWith(kopia: Record<string, unknown>) {
    const file = await writeJson(path.join(tmp, "cfg", "config.json"), { kopia });
    return loadSettings(place(file), { HOME: tmp });
  }

  it("reads the password file relative to the config's directory, without the trailing newline", async () => {
    await writeJson(path.join(tmp, "cfg", "pw.txt"), "correct horse battery staple\n");
    expect(await readPassword(await settingsWith({ password_file: "pw.txt" }))).toBe(
      "correct horse battery staple",
    );
  });

  it("strips only one trailing newline, also CRLF", async () => {
    await writeJson(path.join(tmp, "cfg", "pw.txt"), "pw\r\n");
    expect(await readPassword(await settingsWith({ password_file: "pw.txt" }))).toBe("pw");
    await writeJson(path.join(tmp, "cfg", "pw.txt"), " pw \n\n");
    expect(await readPassword(await settingsWith({ password_file: "pw.txt" }))).toBe(" pw \n");
  });

  it("prefers kopia.password over the password file", async () => {
    expect(await readPassword(await settingsWith({ password: "inline", password_file: "missing.txt" }))).toBe(
      "inline",
    );
  });

  it("uses the password file when kopia.password is empty", async () => {
    await writeJson(path.join(tmp, "cfg", "pw.txt"), "from-file");
    expect(await readPassword(await settingsWith({ password: "", password_file: "pw.txt" }))).toBe(
      "from-file",
    );
  });

  it("fails when there is no password at all", async () => {
    const settings = await settingsWith({});
    const error = await catchError(readPassword(settings));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      `no repository password in ${settings.configPath}: set kopia.password_file (or kopia.password)`,
    );
  });

  it("fails on a missing or empty password file", async () => {
    const missing = await settingsWith({ password_file: "nope.txt" });
    const e1 = await catchError(readPassword(missing));
    expect(e1).toBeInstanceOf(ConfigError);
    expect((e1 as ConfigError).message).toContain(
      `cannot read the password file ${path.join(tmp, "cfg", "nope.txt")}`,
    );
    await writeJson(path.join(tmp, "cfg", "empty.txt"), "\n");
    const e2 = await catchError(readPassword(await settingsWith({ password_file: "empty.txt" })));
    expect(e2).toBeInstanceOf(ConfigError);
    expect((e2 as ConfigError).message).toBe(
      `the password file ${path.join(tmp, "cfg", "empty.txt")} is empty`,
    );
  });
});
