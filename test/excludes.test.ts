// Excludes from the config and from a container label, in both formats; names that are not
// valid UTF-8 are never mangled.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { createVolume, removeLabelled, runContainer } from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `excl-${id}`;
const unit = `kdt-${id}-excl`;
const volume = `${unit}-data`;
const odd = `kdt-${id}-odd`;
let ws: Workspace;
let data: string;

async function listTree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    out.push(p);
    if (entry.isDirectory()) out.push(...(await listTree(dir, p)));
  }
  return out.sort();
}

beforeAll(async () => {
  ws = await createWorkspace();
  const config = JSON.parse(await fs.readFile(ws.configPath, "utf8"));
  config.backup.exclude_patterns = ["*.log"];
  await fs.writeFile(ws.configPath, JSON.stringify(config), { mode: 0o600 });
  data = await createVolume(volume, label);
  await fs.mkdir(path.join(data, "cache", "deep"), { recursive: true });
  await fs.mkdir(path.join(data, "keep", "cache"), { recursive: true });
  await fs.mkdir(path.join(data, "build"), { recursive: true });
  await fs.writeFile(path.join(data, "cache", "deep", "blob"), "cached\n");
  await fs.writeFile(path.join(data, "keep", "cache", "nested-cache.txt"), "cache below keep\n");
  await fs.writeFile(path.join(data, "keep", "app.db"), "db\n");
  await fs.writeFile(path.join(data, "keep", "app.log"), "log\n");
  await fs.writeFile(path.join(data, "build", "out.o"), "obj\n");
  await fs.writeFile(path.join(data, "scratch.tmp"), "tmp\n");
  await runContainer({
    name: unit,
    label,
    volumes: [`${volume}:/data`],
    labels: { "kopi-docka.exclude": "/cache/, *.tmp, build/" },
  });
});

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("excludes", () => {
  it("dry-run shows the patterns of the config and of the label", async () => {
    const plan = await ws.json<{ units: { items: { excludes: string[] }[] }[] }>([
      "backup",
      "--unit",
      unit,
      "--dry-run",
    ]);
    expect(plan.units[0]?.items[0]?.excludes).toEqual(["*.log", "/cache/", "*.tmp", "build/"]);
  });

  for (const format of ["direct", "tar"] as const) {
    it(`leaves excluded paths out of a ${format} backup`, async () => {
      const backup = await ws.run(["backup", "--unit", unit, "--backup-format", format, "--json"]);
      expect(backup.code, backup.stderr).toBe(0);
      const target = path.join(ws.dir, `restored-${format}`);
      const restore = await ws.run([
        "restore",
        "--unit",
        unit,
        "--volume",
        volume,
        "--to-dir",
        target,
        "--yes",
      ]);
      expect(restore.code, restore.stderr).toBe(0);
      expect(await listTree(target)).toEqual([
        "keep",
        "keep/app.db",
        "keep/cache",
        "keep/cache/nested-cache.txt",
      ]);
    });
  }
});

describe("names that are not valid UTF-8", () => {
  it("are detected before the backup: the volume is written as TAR, which keeps them, and says so", async () => {
    const dir = await createVolume(`${odd}-data`, label);
    await fs.writeFile(
      Buffer.concat([Buffer.from(`${dir}/latin1-`), Buffer.from([0xe9, 0x74, 0xe9])]),
      "été\n",
    );
    await runContainer({ name: odd, label, volumes: [`${odd}-data:/data`] });
    const result = await ws.run(["backup", "--unit", odd, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const unitReport = (
      JSON.parse(result.stdout) as {
        units: { items: { kind: string; format: string }[]; warnings: string[] }[];
      }
    ).units[0];
    expect(unitReport?.items.find((i) => i.kind === "volume")?.format).toBe("tar");
    expect(unitReport?.warnings.join("\n")).toMatch(/not valid UTF-8 \(latin1-\\xe9t\\xe9\)/);
    await fs.rm(Buffer.concat([Buffer.from(`${dir}/latin1-`), Buffer.from([0xe9, 0x74, 0xe9])]));
    const restore = await ws.run(["restore", "--unit", odd, "--yes"]);
    expect(restore.code, restore.stderr).toBe(0);
    const names = await fs.readdir(dir, { encoding: "buffer" });
    expect(names.map((n) => n.toString("hex"))).toEqual([
      Buffer.concat([Buffer.from("latin1-"), Buffer.from([0xe9, 0x74, 0xe9])]).toString("hex"),
    ]);
  });
});
