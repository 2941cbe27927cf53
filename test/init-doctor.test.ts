// init, doctor and dry-run against the real engine and a real repository.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, runCli, type Workspace } from "./helpers/cli.js";
import { containerStartedAt, createVolume, removeLabelled, runContainer } from "./helpers/docker.js";

const run = promisify(execFile);
const id = randomUUID().slice(0, 8);
const label = `init-${id}`;
const name = `kdt-${id}-web`;
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-init-"));
});

afterAll(async () => {
  await removeLabelled(label);
  await fs.rm(dir, { recursive: true, force: true });
});

/**
 * Runs an init whose new config has the default state directory, where init records the new
 * repository as maintained; returns that record, and puts back what this host had there.
 */
async function keepingHostMaintenance(
  init: () => ReturnType<typeof runCli>,
): Promise<{ result: Awaited<ReturnType<typeof runCli>>; recorded: unknown }> {
  const maintenance = "/var/lib/kopi-docka/maintenance.json";
  const hostRecord = await fs.readFile(maintenance).catch(() => undefined);
  try {
    const result = await init();
    return { result, recorded: JSON.parse(await fs.readFile(maintenance, "utf8").catch(() => "null")) };
  } finally {
    if (hostRecord) await fs.writeFile(maintenance, hostRecord, { mode: 0o600 });
    else {
      await fs.rm(maintenance, { force: true });
      await fs.rmdir(path.dirname(maintenance)).catch(() => undefined);
    }
  }
}

/** The key derivation a filesystem repository's format blob names. */
async function keyAlgorithm(repo: string): Promise<string> {
  return JSON.parse(await fs.readFile(path.join(repo, "kopia.repository.f"), "utf8")).keyAlgo;
}

describe("init", () => {
  it("creates a 0600 config with a random password in a 0600 file, and the repository", async () => {
    const configPath = path.join(dir, "etc", "config.json");
    // The new config has the default state directory: init records the new repository as
    // maintained there. What this host had there is put back afterwards. (HOME: Kopia's config
    // file for the profile lands in the test's directory, not in this host's.)
    const { result, recorded } = await keepingHostMaintenance(() =>
      runCli(["--config", configPath, "init", "--kopia-params", `filesystem --path ${dir}/repo`, "--json"], {
        env: { HOME: dir },
      }),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(recorded).toMatchObject({ quick: expect.any(String), full: expect.any(String) });
    expect(await fs.readdir(path.join(dir, ".config", "kopia"))).toContain("repository-kopi-docka.config");
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ configCreated: true, repository: "created", storage: "filesystem" });
    expect((await fs.stat(configPath)).mode & 0o777).toBe(0o600);
    const passwordFile = path.join(dir, "etc", "kopia-password");
    expect((await fs.stat(passwordFile)).mode & 0o777).toBe(0o600);
    const password = (await fs.readFile(passwordFile, "utf8")).trim();
    expect(password.length).toBeGreaterThanOrEqual(40);
    expect(result.stdout + result.stderr).not.toContain(password);
    // Kopia's status of the new repository: contents hashed with BLAKE3, not Kopia's default.
    const { stdout: status } = await run(
      "kopia",
      [
        `--config-file=${path.join(dir, ".config", "kopia", "repository-kopi-docka.config")}`,
        "repository",
        "status",
        "--json",
      ],
      { env: { ...process.env, KOPIA_PASSWORD: password } },
    );
    expect(JSON.parse(status).contentFormat.hash).toBe("BLAKE3-256-128");
    const config = JSON.parse(await fs.readFile(configPath, "utf8"));
    expect(config.kopia.kopia_params).toBe(`filesystem --path ${dir}/repo`);
    // The password init generated: the key is derived with PBKDF2, said in the config and in
    // the repository's format blob (plain JSON), where every Kopia reads it.
    expect(config.kopia.key_derivation).toBe("pbkdf2-sha256-600000");
    expect(await keyAlgorithm(path.join(dir, "repo"))).toBe("pbkdf2-sha256-600000");
  });

  it("keeps a password file that is already there, and Kopia's default key derivation for it", async () => {
    const own = path.join(dir, "own");
    await fs.mkdir(own, { mode: 0o700 });
    await fs.writeFile(path.join(own, "kopia-password"), "a password I chose\n", { mode: 0o600 });
    const { result } = await keepingHostMaintenance(() =>
      runCli(
        [
          "--config",
          path.join(own, "config.json"),
          "init",
          "--kopia-params",
          `filesystem --path ${own}/repo`,
        ],
        { env: { HOME: own } },
      ),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`keeping the existing password file ${path.join(own, "kopia-password")}`);
    expect(result.stdout + result.stderr).not.toContain("a password I chose");
    const config = JSON.parse(await fs.readFile(path.join(own, "config.json"), "utf8"));
    expect(config.kopia.key_derivation).toBeUndefined();
    expect(await keyAlgorithm(path.join(own, "repo"))).toBe("scrypt-65536-8-1");
  });

  it("is harmless to run again: the config is kept and the repository connected", async () => {
    const configPath = path.join(dir, "etc", "config.json");
    const before = await fs.readFile(configPath, "utf8");
    const result = await runCli(["--config", configPath, "init", "--json"], { env: { HOME: dir } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ configCreated: false, repository: "connected" });
    expect(await fs.readFile(configPath, "utf8")).toBe(before);
  });

  it("says clearly when the password does not open the existing repository", async () => {
    const configPath = path.join(dir, "other.json");
    await fs.writeFile(
      configPath,
      JSON.stringify({
        kopia: {
          kopia_params: `filesystem --path ${dir}/repo`,
          password: "wrong-password",
          config_file: path.join(dir, "other-kopia.config"),
        },
      }),
      { mode: 0o600 },
    );
    // HOME: Kopia's cache and log directories land in the test's directory, not in this host's.
    const result = await runCli(["--config", configPath, "init"], { env: { HOME: dir } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/password is wrong/);
    expect(result.stderr).not.toContain("wrong-password");
  });
});

describe("doctor and dry-run", () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await createWorkspace();
    await createVolume(`${name}-data`, label);
    await runContainer({ name, label, volumes: [`${name}-data:/data`] });
  });
  afterAll(async () => ws?.cleanup());

  it("doctor reports engine, kopia, repository, free space and format", async () => {
    const result = await ws.run(["doctor", "--json"]);
    expect(result.code, result.stdout).toBe(0);
    const checks = JSON.parse(result.stdout).checks as { name: string; status: string; detail: string }[];
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName.docker?.status).toBe("ok");
    expect(byName.docker?.detail).toMatch(/API 1\.\d+/);
    expect(byName.kopia?.detail).toMatch(/kopia 0\.23\.1/);
    expect(byName.repository?.detail).toMatch(/connected: filesystem/);
    expect(byName["free space"]?.detail).toMatch(/GiB free/);
    expect(byName["backup format"]?.detail).toMatch(/direct/);
    expect(byName.tools?.status).toBe("ok");
    expect(byName.tools?.detail).toMatch(/GNU tar.*getfattr.*setfattr.*GNU findutils/);
  });

  it("doctor fails (4) when the repository is not connected", async () => {
    await fs.rm(path.join(ws.dir, "kopia"), { recursive: true, force: true });
    const result = await ws.run(["doctor"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/FAIL\s+repository\s+.*kopi-docka init/);
    expect((await ws.run(["init"])).code).toBe(0);
  });

  it("backup --dry-run prints the plan and touches nothing", async () => {
    const startedAt = await containerStartedAt(name);
    const result = await ws.run(["backup", "--unit", name, "--dry-run", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.dryRun).toBe(true);
    expect(report.units[0].stopped).toEqual([name]);
    expect(report.units[0].items[0]).toMatchObject({
      kind: "volume",
      name: `${name}-data`,
      format: "direct",
    });
    expect(await containerStartedAt(name)).toBe(startedAt);
    const points = await ws.json<{ restorePoints: unknown[] }>(["snapshots"]);
    expect(points.restorePoints).toEqual([]);
  });
});
