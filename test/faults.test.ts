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
  removeLabelled,
  runContainer,
  TEST_IMAGE,
  TEST_LABEL,
} from "./helpers/docker.js";

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

  it("a container that fails to start afterwards is reported; the others are started; exit 1", async () => {
    // Runs the first time; exits at once on every later start.
    await docker(
      "run",
      "-d",
      "--init",
      "--name",
      `${unit}-fragile`,
      "--label",
      `${TEST_LABEL}=${label}`,
      "--label",
      `com.docker.compose.project=${unit}`,
      "--label",
      "com.docker.compose.service=a-fragile",
      "-v",
      `${unit}-data:/data`,
      TEST_IMAGE,
      "sh",
      "-c",
      "if [ -f /tmp/ran ]; then exit 3; fi; touch /tmp/ran; exec sleep 100000",
    );
    const result = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      units: { status: string; error: string; notRestarted: { container: string; reason: string }[] }[];
    };
    expect(report.units[0]?.status).toBe("failed");
    expect(report.units[0]?.notRestarted).toEqual([
      { container: `${unit}-fragile`, reason: expect.stringMatching(/exited \(code 3\)/) },
    ]);
    expect(report.units[0]?.error).toMatch(/snapshots saved, but .*fragile.* did not come back/);
    expect(await containerState(`${unit}-web`)).toBe("running");
    // It was left stopped by its own failure: the next backup neither stops nor starts it.
    const next = await ws.run(["backup", "--unit", unit]);
    expect(next.code).toBe(0);
    expect(await containerState(`${unit}-fragile`)).toBe("exited");
    await docker("rm", "-f", `${unit}-fragile`);
  });
});
