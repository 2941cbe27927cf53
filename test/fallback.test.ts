// Volumes whose data has no readable host path: backed up through the Engine API in the TAR
// format. Simulated for real by running kopi-docka in a mount namespace where /var/lib/docker
// is hidden, as when kopi-docka runs in a container without it.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type CliResult, createWorkspace, type Workspace } from "./helpers/cli.js";
import { createVolume, docker, removeLabelled, runContainer } from "./helpers/docker.js";
import { manifest } from "./helpers/tree.js";

const id = randomUUID().slice(0, 8);
const label = `fallback-${id}`;
const unit = `kdt-${id}-remote`;
const volume = `${unit}-data`;
let ws: Workspace;
let data: string;
let before: Awaited<ReturnType<typeof manifest>>;
let tarBackupId = "";

/** Runs kopi-docka where /var/lib/docker is not visible (a private mount namespace with a tmpfs over it). */
function runHidden(args: string[]): Promise<CliResult> {
  const command = `mount -t tmpfs none /var/lib/docker && exec "$0" "$@"`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        command,
        process.execPath,
        CLI,
        "--config",
        ws.configPath,
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  ws = await createWorkspace();
  data = await createVolume(volume, label);
  await fs.mkdir(path.join(data, "db", "cache"), { recursive: true });
  await fs.writeFile(path.join(data, "db", "table.dat"), "rows\n");
  await fs.writeFile(path.join(data, "db", "cache", "hot.bin"), "cached\n");
  await fs.writeFile(path.join(data, "debug.log"), "noise\n");
  await fs.writeFile(path.join(data, ".env"), "SECRET=1\n");
  await fs.chown(path.join(data, "db", "table.dat"), 1000, 1000);
  await fs.chmod(path.join(data, "db", "table.dat"), 0o640);
  await fs.symlink("db/table.dat", path.join(data, "current"));
  await fs.link(path.join(data, "db", "table.dat"), path.join(data, "hardlink.dat"));
  before = await manifest(data, { times: false });
  await runContainer({
    name: unit,
    label,
    volumes: [`${volume}:/var/lib/app`],
    labels: { "kopi-docka.exclude": "*.log" },
  });
});

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("volumes without a readable host path", () => {
  it("list says the volume falls back and why", async () => {
    const result = await runHidden(["list", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const units = JSON.parse(result.stdout).units as {
      name: string;
      volumes: { format: string; fallbackReason?: string }[];
    }[];
    const volumeInfo = units.find((u) => u.name === unit)?.volumes[0];
    expect(volumeInfo?.format).toBe("tar");
    expect(volumeInfo?.fallbackReason).toMatch(/not visible here/);
  });

  it("backs it up through the Engine API as TAR, with the label's excludes, and starts the container again", async () => {
    const result = await runHidden(["backup", "--unit", unit, "--json"]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const report = JSON.parse(result.stdout) as {
      units: {
        status: string;
        items: { kind: string; format: string; fallbackReason?: string; excludes: string[] }[];
      }[];
    };
    expect(report.units[0]?.status).toBe("ok");
    tarBackupId = (report.units[0] as unknown as { backupId: string }).backupId;
    expect(report.units[0]?.items.find((i) => i.kind === "volume")).toMatchObject({
      format: "tar",
      excludes: ["*.log"],
    });
    expect(report.units[0]?.items.find((i) => i.kind === "volume")?.fallbackReason).toMatch(/not visible/);
    expect(await docker("inspect", "--format", "{{.State.Status}}", unit)).toBe("running");
  });

  it("restores it the same way, through the Engine API, where the data is not visible", async () => {
    await fs.writeFile(path.join(data, "db", "table.dat"), "changed\n");
    await fs.writeFile(path.join(data, ".stray"), "not in the backup\n");
    const result = await runHidden(["restore", "--unit", unit, "--yes", "--json"]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).items[0]).toMatchObject({
      via: "engine",
      format: "tar",
      restored: true,
    });
    const { "debug.log": _excluded, ...expected } = before;
    expect(await manifest(data, { times: false })).toEqual(expected);
    expect(await docker("inspect", "--format", "{{.State.Status}}", unit)).toBe("running");
    expect(await docker("ps", "-aq", "--filter", "label=kopi-docka.helper")).toBe("");
  });

  it("restores a direct snapshot through the Engine API too", async () => {
    const backup = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(backup.code, backup.stderr).toBe(0);
    await fs.writeFile(path.join(data, "db", "table.dat"), "changed again\n");
    await fs.rm(path.join(data, "current"));
    const result = await runHidden(["restore", "--unit", unit, "--yes", "--json"]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).items[0]).toMatchObject({
      via: "engine",
      format: "direct",
      restored: true,
    });
    const { "debug.log": _excluded, ...expected } = before;
    expect(await manifest(data, { times: false })).toEqual(expected);
  });

  it("restores that TAR snapshot into the local volume: same tree without the excluded log", async () => {
    await fs.writeFile(path.join(data, "db", "table.dat"), "changed\n");
    const result = await ws.run(["restore", "--unit", unit, "--backup-id", tarBackupId, "--yes"]);
    expect(result.code, result.stderr).toBe(0);
    const { "debug.log": _excluded, ...expected } = before;
    expect(await manifest(data, { times: false })).toEqual(expected);
    const linked = await Promise.all([
      fs.stat(path.join(data, "db", "table.dat")),
      fs.stat(path.join(data, "hardlink.dat")),
    ]);
    expect(linked[0].ino).toBe(linked[1].ino);
  });
});
