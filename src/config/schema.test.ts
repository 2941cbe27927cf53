import { describe, expect, it } from "vitest";
import { type Config, unknownKeys, validateConfig } from "./schema.js";

const DEFAULTS: Config = {
  kopia: {
    kopia_params: "filesystem --path /backup/kopia-repository",
    profile: "kopi-docka",
    compression: "zstd",
    binary: "kopia",
  },
  backup: {
    base_path: "/backup/kopi-docka",
    staging_directory: "/var/cache/kopi-docka/staging",
    state_directory: "/var/lib/kopi-docka",
    backup_scope: "standard",
    backup_format: "direct",
    stop_timeout: 30,
    start_timeout: 60,
    exclude_patterns: [],
    hooks: {},
  },
  docker: {
    daemon_json: "/etc/docker/daemon.json",
    service_dropin_dir: "/etc/systemd/system/docker.service.d",
  },
  restore: { stacks_directory: "/opt/stacks" },
  retention: { latest: 10, hourly: 0, daily: 7, weekly: 4, monthly: 12, annual: 3 },
  notifications: {},
};

function ok(input: unknown) {
  const result = validateConfig(input);
  if (!result.ok) throw new Error(`expected a valid config, got: ${result.problems.join("; ")}`);
  return result;
}

function problems(input: unknown): string[] {
  const result = validateConfig(input);
  if (result.ok) throw new Error("expected problems");
  return result.problems;
}

describe("validateConfig", () => {
  it("fills every default into an empty object", () => {
    const result = ok({});
    expect(result.config).toStrictEqual(DEFAULTS);
    expect(result.warnings).toEqual([]);
  });

  it("fills defaults into empty sections", () => {
    expect(ok({ kopia: {}, backup: {}, retention: {}, notifications: {} }).config).toStrictEqual(DEFAULTS);
  });

  it("keeps given values and defaults the rest of a section", () => {
    const { config } = ok({
      kopia: { password_file: "secret.txt", hostname: "docker-1" },
      backup: { backup_format: "tar", stop_timeout: 0 },
      retention: { daily: 14 },
    });
    expect(config.kopia).toStrictEqual({
      ...DEFAULTS.kopia,
      password_file: "secret.txt",
      hostname: "docker-1",
    });
    expect(config.backup).toStrictEqual({ ...DEFAULTS.backup, backup_format: "tar", stop_timeout: 0 });
    expect(config.retention).toStrictEqual({ ...DEFAULTS.retention, daily: 14 });
  });

  it("reports several wrong values together, each with its dotted path", () => {
    const found = problems({
      kopia: { profile: "my profile", kopia_params: 5 },
      backup: { stop_timeout: -1, start_timeout: 1.5, backup_format: "zip", backup_scope: "all" },
      retention: { daily: "7" },
    });
    expect(found).toHaveLength(7);
    const paths = found.map((p) => p.slice(0, p.indexOf(":")));
    expect(paths.sort()).toEqual([
      "backup.backup_format",
      "backup.backup_scope",
      "backup.start_timeout",
      "backup.stop_timeout",
      "kopia.kopia_params",
      "kopia.profile",
      "retention.daily",
    ]);
    expect(found).toContain("kopia.profile: use letters, digits, '.', '_' or '-'");
    expect(found).toContain("kopia.kopia_params: Expected string, received number");
    expect(found).toContain("retention.daily: Expected number, received string");
    expect(found).toContain("backup.start_timeout: Expected integer, received float");
    expect(found).toContain("backup.stop_timeout: Number must be greater than or equal to 0");
    expect(found.find((p) => p.startsWith("backup.backup_format:"))).toMatch(/'direct' \| 'tar'/);
  });

  it("takes a key derivation Kopia knows, and names the choices for another", () => {
    expect(ok({ kopia: { key_derivation: "pbkdf2-sha256-600000" } }).config.kopia.key_derivation).toBe(
      "pbkdf2-sha256-600000",
    );
    expect(ok({}).config.kopia.key_derivation).toBeUndefined();
    const [problem] = problems({ kopia: { key_derivation: "argon2" } });
    expect(problem).toMatch(/^kopia\.key_derivation: .*'scrypt-65536-8-1' \| 'pbkdf2-sha256-600000'/);
  });

  it("reports a section of the wrong type", () => {
    expect(problems({ backup: "fast", notifications: [] })).toEqual([
      "backup: Expected object, received string",
      "notifications: Expected object, received array",
    ]);
  });

  it("reports items of lists with their index", () => {
    expect(problems({ backup: { exclude_patterns: ["*.log", 3] } })).toEqual([
      "backup.exclude_patterns.1: Expected string, received number",
    ]);
  });

  it.each([null, [], "config", 5, true])("rejects the non-object root %j", (input) => {
    expect(validateConfig(input)).toEqual({ ok: false, problems: ["(root): must be a JSON object"] });
  });

  it("warns about unknown keys with their dotted path", () => {
    const result = ok({
      extra: 1,
      kopia: { passwrod: "x" },
      backup: { stop_timeot: 5 },
      retention: { yearly: 1 },
    });
    expect(result.warnings).toEqual([
      "unknown key extra is ignored",
      "unknown key kopia.passwrod is ignored",
      "unknown key backup.stop_timeot is ignored",
      "unknown key retention.yearly is ignored",
    ]);
    expect(result.config).toStrictEqual(DEFAULTS);
  });

  it("does not warn about keys inside backup.hooks and notifications, and keeps them", () => {
    const hooks = { pre_backup: "/x.sh", post_backup: { command: "/y.sh", timeout: 5 } };
    const notifications = { enabled: true, service: "telegram", telegram: { token: "t", chat_id: 1 } };
    const result = ok({ backup: { hooks }, notifications });
    expect(result.warnings).toEqual([]);
    expect(result.config.backup.hooks).toEqual(hooks);
    expect(result.config.notifications).toEqual(notifications);
  });

  it("accepts an older Python kopi-docka config, warning at most about kopia.encryption", () => {
    const python = {
      kopia: {
        kopia_params: "filesystem --path /backup/kopia-repository",
        password: "x",
        profile: "kopi-docka",
        compression: "zstd",
        encryption: "AES256-GCM-HMAC-SHA256",
        cache_directory: "/var/cache/kopi-docka",
      },
      backup: {
        base_path: "/backup/kopi-docka",
        backup_scope: "standard",
        stop_timeout: 30,
        start_timeout: 60,
        exclude_patterns: [],
        hooks: { pre_backup: "/x.sh" },
      },
      retention: { latest: 10, hourly: 0, daily: 7, weekly: 4, monthly: 12, annual: 3 },
      notifications: { enabled: false },
    };
    const result = ok(python);
    expect(result.warnings.length).toBeLessThanOrEqual(1);
    for (const warning of result.warnings) expect(warning).toContain("kopia.encryption");
    expect(result.config).toStrictEqual({
      kopia: {
        kopia_params: "filesystem --path /backup/kopia-repository",
        password: "x",
        profile: "kopi-docka",
        compression: "zstd",
        cache_directory: "/var/cache/kopi-docka",
        binary: "kopia",
      },
      backup: {
        base_path: "/backup/kopi-docka",
        backup_scope: "standard",
        backup_format: "direct",
        staging_directory: "/var/cache/kopi-docka/staging",
        state_directory: "/var/lib/kopi-docka",
        stop_timeout: 30,
        start_timeout: 60,
        exclude_patterns: [],
        hooks: { pre_backup: "/x.sh" },
      },
      docker: {
        daemon_json: "/etc/docker/daemon.json",
        service_dropin_dir: "/etc/systemd/system/docker.service.d",
      },
      restore: { stacks_directory: "/opt/stacks" },
      retention: { latest: 10, hourly: 0, daily: 7, weekly: 4, monthly: 12, annual: 3 },
      notifications: { enabled: false },
    });
  });

  it("does not change its input", () => {
    const input = { backup: { stop_timeout: 5 } };
    ok(input);
    expect(input).toEqual({ backup: { stop_timeout: 5 } });
  });
});

describe("unknownKeys", () => {
  it("lists nothing for non-objects", () => {
    expect(unknownKeys(null)).toEqual([]);
    expect(unknownKeys([1, 2])).toEqual([]);
    expect(unknownKeys("x")).toEqual([]);
  });

  it("lists unknown keys at every depth of known sections, not below unknown ones", () => {
    expect(
      unknownKeys({ a: { b: 1 }, kopia: { binary: "k", x: { y: 1 } }, notifications: { z: 1 } }),
    ).toEqual(["a", "kopia.x"]);
  });
});
