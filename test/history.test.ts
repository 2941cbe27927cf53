// Run records: one per unit and run, in the older tool's layout with our fields, read back by
// `history`, which tolerates older and corrupt files.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { containerState, createVolume, removeLabelled, runContainer } from "./helpers/docker.js";
import { pseudoRandom } from "./helpers/fixtures.js";
import { mountSmallFilesystem } from "./helpers/loopfs.js";

const id = randomUUID().slice(0, 8);
const label = `hist-${id}`;
const unit = `kdt-${id}-hist`;
let ws: Workspace;
let metadataDir: string;

interface Run {
  unit: string;
  operation: string;
  status: string;
  success: boolean;
  errors: string[];
  errorDetails: { phase: string; message: string; exit_code?: number; stderr_tail?: string }[];
}

let unmount: (() => Promise<void>) | undefined;

beforeAll(async () => {
  // The repository on a small file system: the second backup fills it up mid-snapshot.
  ws = await createWorkspace({ init: false });
  unmount = await mountSmallFilesystem(path.join(ws.dir, "repo.img"), ws.repoDir, 96);
  expect((await ws.run(["init"])).code).toBe(0);
  metadataDir = path.join(ws.dir, "base", "metadata");
  const data = await createVolume(`${unit}-data`, label);
  await fs.writeFile(path.join(data, "x"), pseudoRandom("history-x")(8 * 1024 * 1024));
  await runContainer({ name: unit, label, volumes: [`${unit}-data:/data`] });
  expect((await ws.run(["backup", "--unit", unit])).code).toBe(0);
  // Rewritten in place: the estimate (1% of a known source) passes, the real new data does not fit.
  await fs.writeFile(path.join(data, "x"), pseudoRandom("history-y")(120 * 1024 * 1024));
  const failing = await ws.run(["backup", "--unit", unit]);
  expect(failing.code, failing.stderr).toBe(1);
  expect(failing.stdout).toMatch(/failed - kopia failed/);
  // The repository's disk filled up mid-snapshot: the container runs again all the same.
  expect(await containerState(unit)).toBe("running");
  await fs.writeFile(path.join(data, "x"), "small again\n");
  expect((await ws.run(["restore", "--unit", unit, "--yes"])).code).toBe(0);
}, 300_000);

afterAll(async () => {
  await removeLabelled(label);
  await unmount?.();
  await ws?.cleanup();
});

describe("run records and history", () => {
  it("writes one 0600 record per unit and run in <base_path>/metadata, in the older tool's layout", async () => {
    const files = (await fs.readdir(metadataDir)).filter((f) => f.startsWith(`${unit}_`));
    expect(files).toHaveLength(3);
    for (const f of files) {
      expect(f).toMatch(new RegExp(`^${unit}_\\d{8}_\\d{6}(_\\d+)?\\.json$`));
      expect((await fs.stat(path.join(metadataDir, f))).mode & 0o777).toBe(0o600);
    }
    const records = await Promise.all(
      files.map(async (f) => JSON.parse(await fs.readFile(path.join(metadataDir, f), "utf8"))),
    );
    const ok = records.find((r) => r.operation === "backup" && r.success);
    expect(ok).toMatchObject({
      unit_name: unit,
      volumes_backed_up: 1,
      backup_format: "direct",
      backup_scope: "standard",
      exit_code: 0,
    });
    // The volume, the recipe and the networks (scope standard).
    expect(ok.kopia_snapshot_ids).toHaveLength(3);
  });

  it("history lists the runs newest first; --failed shows the phase, exit code and stderr of the failure", async () => {
    const all = await ws.json<{ runs: Run[] }>(["history", "--unit", unit]);
    expect(all.runs.map((r) => `${r.operation}:${r.status}`)).toEqual([
      "restore:ok",
      "backup:failed",
      "backup:ok",
    ]);
    const failed = await ws.json<{ runs: Run[] }>(["history", "--unit", unit, "--failed"]);
    expect(failed.runs).toHaveLength(1);
    const detail = failed.runs[0]?.errorDetails[0];
    expect(detail?.phase).toBe("snapshot");
    expect(detail?.exit_code).toBe(1);
    expect(detail?.stderr_tail).toMatch(/no space left on device/);
    expect((await ws.json<{ runs: Run[] }>(["history", "--last", "1"])).runs).toHaveLength(1);
  });

  it("reads records of the older tool and skips corrupt files with a warning", async () => {
    await fs.writeFile(
      path.join(metadataDir, "legacy-app_20240102_030405.json"),
      JSON.stringify({
        unit_name: "legacy-app",
        timestamp: "2024-01-02T03:04:05",
        duration_seconds: 12.5,
        backup_id: "20240102-030405",
        success: true,
        kopia_snapshot_ids: ["abc"],
        volumes_backed_up: 2,
      }),
    );
    await fs.writeFile(path.join(metadataDir, "broken_20240101_000000.json"), "{ not json");
    const result = await ws.run(["history", "--json"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/skipped .*broken_20240101_000000\.json/);
    const runs = JSON.parse(result.stdout).runs as {
      unit: string;
      time: string;
      operation: string;
      status: string;
    }[];
    expect(runs.find((r) => r.unit === "legacy-app")).toMatchObject({
      time: "2024-01-02T03:04:05.000Z",
      operation: "backup",
      status: "ok",
    });
  });

  it("bad --last is a usage error", async () => {
    expect((await ws.run(["history", "--last", "zero"])).code).toBe(2);
  });

  it("no record holds the repository password", async () => {
    for (const f of await fs.readdir(metadataDir)) {
      expect(await fs.readFile(path.join(metadataDir, f), "utf8")).not.toContain(ws.password);
    }
  });
});
