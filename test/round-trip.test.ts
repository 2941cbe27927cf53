// One round-trip suite, run once per format over the same fixture tree: every kind of entry comes
// back with the same bytes and metadata, into a changed volume and into a volume that is gone.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { createVolume, docker, removeLabelled, runContainer, TEST_LABEL } from "./helpers/docker.js";
import { type FidelityEntry, fidelityManifest, writeFidelityTree } from "./helpers/fidelity.js";
import { allocatedBytes } from "./helpers/tree.js";

const id = randomUUID().slice(0, 8);
const label = `rt-${id}`;
const unit = `kdt-${id}-fidelity`;
const volume = `${unit}-data`;
const emptyVolume = `${unit}-empty`;
const largeBytes = Number(process.env.KOPI_DOCKA_FIDELITY_LARGE_MB ?? 1024) * 1024 * 1024;
const smallFiles = Number(process.env.KOPI_DOCKA_FIDELITY_SMALL_FILES ?? 20_000);

let ws: Workspace;
let data: string;
let before: Record<string, FidelityEntry>;
let emptyData: string;
let emptyBefore: Record<string, FidelityEntry>;
let sparseAllocated: number;

async function mountpoint(): Promise<string> {
  return docker("volume", "inspect", "--format", "{{.Mountpoint}}", volume);
}

function expectSameTree(
  actual: Record<string, FidelityEntry>,
  expected: Record<string, FidelityEntry>,
): void {
  const missing = Object.keys(expected).filter((k) => !(k in actual));
  const extra = Object.keys(actual).filter((k) => !(k in expected));
  expect({ missing, extra }).toEqual({ missing: [], extra: [] });
  const differing = Object.keys(expected).filter(
    (k) => JSON.stringify(actual[k]) !== JSON.stringify(expected[k]),
  );
  expect(
    Object.fromEntries(differing.slice(0, 10).map((k) => [k, { actual: actual[k], expected: expected[k] }])),
  ).toEqual({});
}

beforeAll(async () => {
  ws = await createWorkspace();
  data = await createVolume(volume, label);
  await writeFidelityTree(data, { largeBytes, smallFiles });
  before = await fidelityManifest(data);
  sparseAllocated = await allocatedBytes(path.join(data, "sparse.img"));
  emptyData = await createVolume(emptyVolume, label);
  emptyBefore = await fidelityManifest(emptyData);
  await runContainer({ name: unit, label, volumes: [`${volume}:/data`, `${emptyVolume}:/empty`] });
}, 900_000);

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe.each(["direct", "tar"] as const)("round trip in the %s format", (format) => {
  let backupId = "";

  it("backs up the volume in this format", async () => {
    const result = await ws.run(["backup", "--unit", unit, "--backup-format", format, "--json"], {
      timeoutMs: 900_000,
    });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const report = JSON.parse(result.stdout) as {
      units: { status: string; backupId: string; items: { kind: string; format: string }[] }[];
    };
    expect(report.units[0]?.status).toBe("ok");
    expect(report.units[0]?.items.filter((i) => i.kind === "volume").map((i) => i.format)).toEqual([
      format,
      format,
    ]);
    backupId = report.units[0]?.backupId ?? "";
    const points = await ws.json<{
      restorePoints: { backupId: string; snapshots: { type: string; format: string }[] }[];
    }>(["snapshots", "--unit", unit]);
    const point = points.restorePoints.find((p) => p.backupId === backupId);
    expect(point?.snapshots.filter((s) => s.type === "volume").map((s) => s.format)).toEqual([
      format,
      format,
    ]);
  });

  it("restores into the changed volume: same tree, old files gone, sparse file still sparse", async () => {
    await fs.writeFile(path.join(data, "added-later.txt"), "must vanish\n");
    await fs.writeFile(path.join(data, ".hidden-added-later"), "must vanish too\n");
    await fs.writeFile(path.join(emptyData, "not-empty-any-more"), "must vanish\n");
    await fs.rm(path.join(data, "small", "d000"), { recursive: true });
    await fs.writeFile(path.join(data, "target.txt"), "changed\n");
    const result = await ws.run(["restore", "--unit", unit, "--backup-id", backupId, "--yes", "--json"], {
      timeoutMs: 900_000,
    });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expectSameTree(await fidelityManifest(data), before);
    expectSameTree(await fidelityManifest(emptyData), emptyBefore);
    expect(await allocatedBytes(path.join(data, "sparse.img"))).toBeLessThanOrEqual(sparseAllocated);
    expect(await docker("inspect", "--format", "{{.State.Status}}", unit)).toBe("running");
  });

  it("restores into a volume that no longer exists", async () => {
    await docker("rm", "-f", unit);
    await docker("volume", "rm", volume, emptyVolume);
    const result = await ws.run(["restore", "--unit", unit, "--backup-id", backupId, "--yes"], {
      timeoutMs: 900_000,
    });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    data = await mountpoint();
    expect(
      JSON.parse(await docker("volume", "inspect", "--format", "{{json .Labels}}", volume))[TEST_LABEL],
    ).toBe(label);
    expectSameTree(await fidelityManifest(data), before);
    emptyData = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", emptyVolume);
    expectSameTree(await fidelityManifest(emptyData), emptyBefore);
    await runContainer({ name: unit, label, volumes: [`${volume}:/data`, `${emptyVolume}:/empty`] });
  });
});
