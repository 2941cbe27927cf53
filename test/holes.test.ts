// Files with holes (sparse files) and files written out in full, through a direct backup and a
// restore: each comes back as it was. A tree with no holes is restored without Kopia's
// hole-writing (faster), so a file of zeros written out in full stays written out in full.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { createVolume, docker, removeLabelled, runContainer } from "./helpers/docker.js";
import { allocatedBytes } from "./helpers/tree.js";

const id = randomUUID().slice(0, 8);
const label = `holes-${id}`;
const unit = `kdt-${id}-holes`;
const volume = `${unit}-data`;
const MiB = 1024 * 1024;
let ws: Workspace;
let data: string;

async function backup(): Promise<string> {
  const result = await ws.run(["backup", "--unit", unit, "--json"]);
  expect(result.code, result.stderr + result.stdout).toBe(0);
  const report = JSON.parse(result.stdout) as { units: { status: string; backupId: string }[] };
  expect(report.units[0]?.status).toBe("ok");
  return report.units[0]?.backupId ?? "";
}

async function restore(backupId: string): Promise<void> {
  const result = await ws.run(["restore", "--unit", unit, "--backup-id", backupId, "--yes", "--json"]);
  expect(result.code, result.stderr + result.stdout).toBe(0);
  expect(await docker("inspect", "--format", "{{.State.Status}}", unit)).toBe("running");
}

beforeAll(async () => {
  ws = await createWorkspace();
  data = await createVolume(volume, label);
  await fs.writeFile(path.join(data, "zeros.bin"), Buffer.alloc(8 * MiB));
  await fs.writeFile(path.join(data, "notes.txt"), "kept\n");
  await runContainer({ name: unit, label, volumes: [`${volume}:/data`] });
});

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("holes through a direct backup and restore", () => {
  let fullId = "";

  it("a tree without holes: a file of zeros written out in full comes back written out in full", async () => {
    expect(await allocatedBytes(path.join(data, "zeros.bin"))).toBeGreaterThanOrEqual(8 * MiB);
    fullId = await backup();
    await fs.rm(path.join(data, "zeros.bin"));
    await restore(fullId);
    const zeros = path.join(data, "zeros.bin");
    expect((await fs.stat(zeros)).size).toBe(8 * MiB);
    expect(await allocatedBytes(zeros)).toBeGreaterThanOrEqual(8 * MiB);
    expect(await fs.readFile(path.join(data, "notes.txt"), "utf8")).toBe("kept\n");
  });

  it("a tree with a file with holes: the holes stay holes", async () => {
    const sparse = path.join(data, "disk.img");
    const handle = await fs.open(sparse, "w");
    await handle.write("head");
    await handle.write("tail", 256 * MiB);
    await handle.close();
    const sparseId = await backup();
    await fs.rm(sparse);
    await restore(sparseId);
    expect((await fs.stat(sparse)).size).toBe(256 * MiB + 4);
    expect(await allocatedBytes(sparse)).toBeLessThan(MiB);
    const bytes = Buffer.alloc(4);
    const read = await fs.open(sparse, "r");
    await read.read(bytes, 0, 4, 256 * MiB);
    await read.close();
    expect(bytes.toString()).toBe("tail");
  });
});
