// One run at a time, and containers brought back after kopi-docka itself died mid-backup.
import { spawn } from "node:child_process";
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
  waitForState,
} from "./helpers/docker.js";
import { pseudoRandom } from "./helpers/fixtures.js";
import { waitForProcesses } from "./helpers/processes.js";

const id = randomUUID().slice(0, 8);
const label = `crash-${id}`;
const unit = `kdt${id}`;
const first = `${unit}-first`;
const second = `${unit}-second`;
let ws: Workspace;

beforeAll(async () => {
  ws = await createWorkspace();
  const data = await createVolume(`${unit}-data`, label);
  await fs.writeFile(path.join(data, "big.bin"), pseudoRandom(`crash-${id}`)(200 * 1024 * 1024));
  const labels = { "com.docker.compose.project": unit };
  await runContainer({
    name: first,
    label,
    volumes: [`${unit}-data:/data`],
    labels: { ...labels, "com.docker.compose.service": "first" },
  });
  await runContainer({
    name: second,
    label,
    volumes: [`${unit}-data:/data`],
    labels: { ...labels, "com.docker.compose.service": "second" },
  });
}, 120_000);

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("one run at a time", () => {
  it("a second run exits 5 while another holds the lock, stopping nothing; a stale lock is taken over", async () => {
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    const lockFile = path.join(ws.dir, "state", "kopi-docka.lock");
    await fs.mkdir(path.dirname(lockFile), { recursive: true });
    await fs.writeFile(
      lockFile,
      JSON.stringify({ pid: holder.pid, command: "backup", since: new Date().toISOString() }),
    );
    const startedAt = await containerStartedAt(first);
    try {
      const busy = await ws.run(["backup", "--unit", unit]);
      expect(busy.code).toBe(5);
      expect(busy.stderr).toMatch(new RegExp(`another kopi-docka run \\(pid ${holder.pid}, backup`));
      expect(await containerStartedAt(first)).toBe(startedAt);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.on("close", r));
    }
    const result = await ws.run(["backup", "--unit", unit, "--dry-run"]);
    expect(result.code).toBe(0);
    const recovered = await ws.run(["recover"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(recovered.stderr).toMatch(/took over the stale lock/);
    await expect(fs.stat(lockFile)).rejects.toThrow();
  });
});

describe("kopi-docka killed mid-backup", () => {
  it("leaves a journal; recover starts what it stopped, unless someone started it since", async () => {
    const running = ws.start(["backup", "--unit", unit]);
    const kopia = await waitForProcesses(
      (c) => c.includes("kopia") && c.includes("snapshot\0create") && c.includes(`${unit}-data/_data`),
    );
    expect(kopia.length).toBeGreaterThan(0);
    // Kopia starts before the stop and waits: kopi-docka is killed once it has stopped them.
    expect(await waitForState([first, second], "exited")).toBe(true);
    running.child.kill("SIGKILL");
    await running.done;
    for (const pid of kopia) process.kill(pid, "SIGKILL");
    expect(await containerState(first)).toBe("exited");
    expect(await containerState(second)).toBe("exited");
    const journal = await fs.readdir(path.join(ws.dir, "state", "journal"));
    expect(journal).toHaveLength(1);

    // Someone starts and stops `second` meanwhile: recover must leave it alone.
    await docker("start", second);
    await docker("stop", "-t", "1", second);

    const result = await ws.run(["recover", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      started: { container: string }[];
      skipped: { container: string; reason: string }[];
    };
    expect(report.started.map((s) => s.container)).toEqual([first]);
    expect(report.skipped).toEqual([
      { container: second, unit, reason: "started by someone else since, and stopped again" },
    ]);
    expect(await containerState(first)).toBe("running");
    expect(await containerState(second)).toBe("exited");
    expect(await fs.readdir(path.join(ws.dir, "state", "journal"))).toEqual([]);
    await docker("start", second);
  });

  it("the next backup recovers first, then backs up", async () => {
    const running = ws.start(["backup", "--unit", unit]);
    const kopia = await waitForProcesses(
      (c) => c.includes("kopia") && c.includes("snapshot\0create") && c.includes(`${unit}-data/_data`),
    );
    expect(await waitForState([first, second], "exited")).toBe(true);
    running.child.kill("SIGKILL");
    await running.done;
    for (const pid of kopia) process.kill(pid, "SIGKILL");
    expect(await containerState(first)).toBe("exited");
    const result = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      recovered: { started: { container: string }[] };
      units: { status: string; stopped: string[] }[];
    };
    expect(report.recovered.started.map((s) => s.container)).toEqual([first, second]);
    expect(report.units[0]?.status).toBe("ok");
    expect(report.units[0]?.stopped.sort()).toEqual([first, second].sort());
    expect(await containerState(first)).toBe("running");
    expect(await containerState(second)).toBe("running");
  });
});

describe("a signal during a restore", () => {
  it("SIGINT while kopia restores: exit 130, the current data untouched, the containers running again", async () => {
    const data = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${unit}-data`);
    await fs.writeFile(path.join(data, "marker"), "current data\n");
    const running = ws.start(["restore", "--unit", unit, "--yes"]);
    const kopia = await waitForProcesses(
      (c) => c.includes("kopia") && c.includes("\0restore\0") && c.includes("_data.kopi-docka-new"),
    );
    expect(kopia.length).toBeGreaterThan(0);
    running.child.kill("SIGINT");
    expect((await running.done).code).toBe(130);
    expect(await fs.readFile(path.join(data, "marker"), "utf8")).toBe("current data\n");
    expect((await fs.readdir(path.dirname(data))).sort()).toEqual(["_data"]);
    expect(await containerState(first)).toBe("running");
    expect(await containerState(second)).toBe("running");
    const history = await ws.json<{ runs: { operation: string; status: string }[] }>([
      "history",
      "--unit",
      unit,
      "--last",
      "1",
    ]);
    expect(history.runs[0]).toMatchObject({ operation: "restore", status: "interrupted" });
  });
});
