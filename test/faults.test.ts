// Faults provoked for real: in every case every container ends in the state it started in (or
// the summary says which could not be and why), the exit code is not 0, and the message is one line.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import {
  containerStartedAt,
  containerState,
  createVolume,
  docker,
  type RunOptions,
  removeLabelled,
  runContainer,
  TEST_IMAGE,
  TEST_LABEL,
  waitForState,
} from "./helpers/docker.js";
import { dockerdProcess, releaseHiddenOverlayMounts, startEngine, stopEngine } from "./helpers/engine.js";
import { pseudoRandom } from "./helpers/fixtures.js";
import { waitForProcesses } from "./helpers/processes.js";

const id = randomUUID().slice(0, 8);
const label = `faults-${id}`;
const unit = `kdt${id}`;
let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace();
  const config = JSON.parse(await fs.readFile(ws.configPath, "utf8"));
  config.backup.stop_timeout = 2;
  config.backup.start_timeout = 5;
  await fs.writeFile(ws.configPath, JSON.stringify(config), { mode: 0o600 });
  const data = await createVolume(`${unit}-data`, label);
  await fs.writeFile(path.join(data, "f"), "data\n");
  const compose = { "com.docker.compose.project": unit };
  await runContainer({
    name: `${unit}-web`,
    label,
    volumes: [`${unit}-data:/data`],
    labels: { ...compose, "com.docker.compose.service": "web" },
  });
});

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("faults before anything is stopped", () => {
  it("an unreachable repository (its directory gone) is exit 4, nothing stopped", async () => {
    const startedAt = await containerStartedAt(`${unit}-web`);
    await fs.rename(ws.repoDir, `${ws.repoDir}.away`);
    try {
      const result = await ws.run(["backup", "--unit", unit]);
      expect(result.code).toBe(4);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/not reachable/);
      expect(await containerStartedAt(`${unit}-web`)).toBe(startedAt);
    } finally {
      await fs.rename(`${ws.repoDir}.away`, ws.repoDir);
    }
  });

  it("a repository whose storage was emptied is exit 4, nothing stopped", async () => {
    const startedAt = await containerStartedAt(`${unit}-web`);
    await fs.rename(ws.repoDir, `${ws.repoDir}.saved`);
    await fs.mkdir(ws.repoDir);
    try {
      const result = await ws.run(["backup", "--unit", unit]);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/no Kopia repository/);
      expect(await containerStartedAt(`${unit}-web`)).toBe(startedAt);
    } finally {
      await fs.rm(ws.repoDir, { recursive: true });
      await fs.rename(`${ws.repoDir}.saved`, ws.repoDir);
    }
  });
});

describe("faults of containers", () => {
  it("a container that does not stop within the timeout is killed by the engine, reported, and started again", async () => {
    // No --init and a shell that ignores SIGTERM: only SIGKILL stops it.
    await docker(
      "run",
      "-d",
      "--name",
      `${unit}-stubborn`,
      "--label",
      `${TEST_LABEL}=${label}`,
      "--label",
      `com.docker.compose.project=${unit}`,
      "--label",
      "com.docker.compose.service=stubborn",
      "-v",
      `${unit}-data:/data`,
      TEST_IMAGE,
      "sh",
      "-c",
      "trap '' TERM; while true; do sleep 1; done",
    );
    const result = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { units: { status: string; warnings: string[] }[] };
    expect(report.units[0]?.warnings.join("\n")).toMatch(
      new RegExp(`${unit}-stubborn did not stop within 2 s`),
    );
    expect(await containerState(`${unit}-stubborn`)).toBe("running");
    expect(await containerState(`${unit}-web`)).toBe("running");
    await docker("rm", "-f", `${unit}-stubborn`);
  });

  /** What a backup reports of its one unit when a container did not come back. */
  interface UnitReport {
    status: string;
    error: string;
    notRestarted: { container: string; reason: string }[];
  }

  /**
   * A container of the unit that runs the first time and leaves its mark, then runs `later` at
   * every later start; returned once the mark is there (before the backup stops it).
   */
  async function runOnceThen(
    service: string,
    later: string,
    options: Pick<RunOptions, "volumes" | "restart"> = {},
  ): Promise<string> {
    const name = `${unit}-${service}`;
    await runContainer({
      name,
      label,
      labels: { "com.docker.compose.project": unit, "com.docker.compose.service": `a-${service}` },
      command: `if [ -f /tmp/ran ]; then ${later}; fi; touch /tmp/ran; exec sleep 100000`,
      ...options,
    });
    for (let i = 0; i < 100; i++) {
      const marked = await docker("exec", name, "test", "-f", "/tmp/ran").then(
        () => true,
        () => false,
      );
      if (marked) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return name;
  }

  /** A backup of the unit that fails (exit 1) for what did not come back: its one unit's report. */
  async function failedBackup(): Promise<UnitReport> {
    const result = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const report = (JSON.parse(result.stdout) as { units: UnitReport[] }).units[0];
    expect(report?.status).toBe("failed");
    expect(await containerState(`${unit}-web`)).toBe("running");
    return report as UnitReport;
  }

  it("a container that fails to start afterwards is reported; the others are started; exit 1", async () => {
    // Exits at once on every later start.
    const fragile = await runOnceThen("fragile", "exit 3", { volumes: [`${unit}-data:/data`] });
    const report = await failedBackup();
    expect(report.notRestarted).toEqual([
      { container: fragile, reason: expect.stringMatching(/exited.*\(code 3\)/) },
    ]);
    expect(report.error).toMatch(/snapshots saved, but .*fragile.* did not come back/);
    // It was left stopped by its own failure: the next backup neither stops nor starts it.
    const next = await ws.run(["backup", "--unit", unit]);
    expect(next.code).toBe(0);
    expect(await containerState(fragile)).toBe("exited");
    await docker("rm", "-f", fragile);
  });

  it("a container that crashes after the backup's start and is started again by its restart policy is reported; exit 1", async () => {
    // On every later start it runs a moment, then exits 3, and the engine starts it again
    // (`--restart always`): a crash loop the engine calls running.
    const looping = await runOnceThen("looping", "sleep 0.1; exit 3", { restart: "always" });
    const report = await failedBackup();
    expect(report.notRestarted).toEqual([
      {
        container: looping,
        reason: expect.stringMatching(
          /exited right after it was started; its restart policy has started it again/,
        ),
      },
    ]);
    expect(report.error).toMatch(/snapshots saved, but .*looping.* did not come back/);
    await docker("rm", "-f", looping);
  });
});

describe("a volume removed between discovery and its snapshot", () => {
  it("that unit fails with one line, nothing of it stopped; the other unit is backed up; exit 1", async () => {
    const late = `${unit}-late`;
    await createVolume(`${late}-data`, label);
    await runContainer({ name: late, label, volumes: [`${late}-data:/data`] });
    const data = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${unit}-data`);
    await fs.writeFile(path.join(data, "slow.bin"), pseudoRandom(`slow-${id}`)(150 * 1024 * 1024));
    const running = ws.start(["backup", "--unit", unit, "--unit", late, "--json"]);
    const kopia = await waitForProcesses(
      (c) => c.includes("snapshot\0create") && c.includes(ws.dir) && c.includes("/_data"),
    );
    expect(kopia.length).toBeGreaterThan(0);
    await docker("rm", "-f", late);
    await docker("volume", "rm", `${late}-data`);
    const { code, stdout, stderr } = await running.done;
    expect(code, stderr).toBe(1);
    expect(stdout, stderr).not.toBe("");
    const report = JSON.parse(stdout) as {
      units: { unit: string; status: string; error?: string; stopped: string[] }[];
    };
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([
      [unit, "ok"],
      [late, "failed"],
    ]);
    expect(report.units[1]?.error).toBe(
      `volume ${late}-data no longer exists (removed after discovery); nothing was stopped`,
    );
    expect(report.units[1]?.stopped).toEqual([]);
    expect(await containerState(`${unit}-web`)).toBe("running");
    await fs.rm(path.join(data, "slow.bin"));
  });
});

describe("the Docker engine restarted during a backup", () => {
  it("the containers are started again once the engine answers", async () => {
    const data = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${unit}-data`);
    await fs.writeFile(path.join(data, "big.bin"), pseudoRandom(`engine-${id}`)(150 * 1024 * 1024));
    const engine = await dockerdProcess();
    expect(engine).toBeDefined();
    // The engine's restart stops every container on this host: the others running now are
    // started again at the end (the unit's own are kopi-docka's to start).
    const othersRunning = (await docker("ps", "--format", "{{.Names}}"))
      .split("\n")
      .filter((name) => name !== "" && name !== `${unit}-web`);
    try {
      await restartEngineDuringBackup(engine?.pid ?? 0, engine?.argv ?? [], data);
    } finally {
      // A root file system the restart left where the engine cannot remove it (Docker's, seen
      // once in many runs) would keep the unit's container from being removed.
      const released = await releaseHiddenOverlayMounts();
      if (released.length > 0) console.warn(`engine restarted again to unmount ${released.join(", ")}`);
      const runningNow = new Set((await docker("ps", "--format", "{{.Names}}").catch(() => "")).split("\n"));
      const stopped = othersRunning.filter((name) => !runningNow.has(name));
      if (stopped.length > 0) await docker("start", ...stopped).catch(() => undefined);
    }
  });

  async function restartEngineDuringBackup(dockerd: number, argv: string[], data: string): Promise<void> {
    const running = ws.start(["backup", "--unit", unit, "--json"]);
    const kopia = await waitForProcesses(
      (c) => c.includes("snapshot\0create") && c.includes(ws.dir) && c.includes("/_data"),
    );
    expect(kopia.length).toBeGreaterThan(0);
    expect(await waitForState([`${unit}-web`], "exited")).toBe(true);
    // Restart the engine with the same command line while kopia reads.
    await stopEngine(dockerd);
    await startEngine(argv);
    const { code, stdout } = await running.done;
    expect(code, stdout).toBe(0);
    const report = JSON.parse(stdout) as { units: { status: string }[] };
    expect(report.units[0]?.status).toBe("ok");
    expect(await containerState(`${unit}-web`)).toBe("running");
    await fs.rm(path.join(data, "big.bin"));
  }
});
