// The snapshot gate with the real kopia: a snapshot started ahead of the stop reads nothing until
// it is released, saves nothing when aborted or when kopi-docka dies, and is not trusted when
// Kopia did not wait at all.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GateMissedError, KopiaClient } from "../src/adapters/kopia/kopia-client.js";
import { createWorkspace, ROOT, type Workspace } from "./helpers/cli.js";
import { containerState, createVolume, docker, removeLabelled, runContainer } from "./helpers/docker.js";
import { processesMatching, waitForProcesses } from "./helpers/processes.js";

const execFileAsync = promisify(execFile);

const id = randomUUID().slice(0, 8);
const label = `gate-${id}`;
const unit = `kdg${id}`;

describe("snapshot gate (real kopia)", () => {
  let ws: Workspace;
  let client: KopiaClient;
  let source: string;

  /** The kopia snapshot processes of this workspace still running. */
  const kopiaProcesses = () => processesMatching((c) => c.includes(ws.dir) && c.includes("snapshot\0create"));
  /** How KopiaClient reaches the workspace's repository. */
  const clientOptions = () => ({
    location: {
      binary: "kopia",
      configFile: path.join(ws.dir, "kopia", "repository.config"),
      logDir: path.join(ws.dir, "kopia-logs"),
    },
    password: ws.password,
  });

  async function snapshotsOfSource(): Promise<string[]> {
    return (await client.listSnapshots()).filter((s) => s.path === source).map((s) => s.id);
  }

  beforeAll(async () => {
    ws = await createWorkspace(); // init puts the gate on the global policy
    client = new KopiaClient(clientOptions());
    source = path.join(ws.dir, "data");
    await fs.mkdir(source, { mode: 0o755 });
    await fs.writeFile(path.join(source, "a"), "before\n");
  });

  afterAll(async () => {
    await removeLabelled(label);
    await ws?.cleanup();
  });

  it("init put the gate on Kopia's global policy", async () => {
    expect((await client.policies()).global.gate).toBe(true);
  });

  it("waits before it reads anything: what changes while it waits is what it saves", async () => {
    const actionDirs = async () =>
      (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith("kopia-action")).sort();
    const actionDirsBefore = await actionDirs();
    const gate = await client.startGatedSnapshot(source, { tags: { type: "volume" } });
    expect(await gate.waiting).toBe(true);
    // As a container stopping would: files written and changed, the root's mode changed.
    await fs.writeFile(path.join(source, "a"), "written at the stop\n");
    await fs.writeFile(path.join(source, "b"), "new at the stop\n");
    await fs.chmod(source, 0o700);
    let read = false;
    void gate.read.then(() => {
      read = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(read).toBe(false);
    gate.release();
    await gate.read;
    const record = await gate.record;
    expect(record.tags.type).toBe("volume");
    const target = path.join(ws.dir, "restored");
    await client.restore(record.id, target);
    expect(await fs.readFile(path.join(target, "a"), "utf8")).toBe("written at the stop\n");
    expect(await fs.readFile(path.join(target, "b"), "utf8")).toBe("new at the stop\n");
    expect((await fs.stat(target)).mode & 0o777).toBe(0o700);
    await fs.chmod(source, 0o755);
    // Kopia's working directory for the actions went with the gate's own directory.
    expect(await actionDirs()).toEqual(actionDirsBefore);
  });

  it("kopi-docka backup: Kopia starts before the stop and reads what the container wrote as it stopped", async () => {
    const data = await createVolume(`${unit}-data`, label);
    await fs.writeFile(path.join(data, "before"), "written while running\n");
    // On SIGTERM the service takes a second, writes its last state (4 MiB and a marker), then exits.
    await runContainer({
      name: `${unit}-db`,
      label,
      volumes: [`${unit}-data:/data`],
      labels: { "com.docker.compose.project": unit, "com.docker.compose.service": "db" },
      command:
        "trap 'sleep 1; dd if=/dev/urandom of=/data/last-state.bin bs=1M count=4 2>/dev/null; echo clean > /data/shutdown; exit 0' TERM; while true; do sleep 0.1; done",
    });
    const result = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await containerState(`${unit}-db`)).toBe("running");
    // The kopia reading the volume is kopi-docka's own: not "a process outside the containers".
    const report = JSON.parse(result.stdout) as { units: { warnings: string[] }[] };
    expect(report.units[0]?.warnings).toEqual([]);
    const stoppedAt = Date.parse(await docker("inspect", "--format", "{{.State.FinishedAt}}", `${unit}-db`));
    const snapshot = (await client.listSnapshots()).find(
      (s) => s.tags.type === "volume" && s.tags.unit === unit,
    );
    // Kopia's snapshot began (repository open, policy loaded: its start time) while the container
    // was still stopping...
    expect(snapshot?.startTime?.getTime()).toBeLessThan(stoppedAt);
    // ...and read the volume only after it had: its last writes are in the snapshot.
    const target = path.join(ws.dir, "cold");
    await client.restore(snapshot?.id ?? "", target);
    expect(await fs.readFile(path.join(target, "shutdown"), "utf8")).toBe("clean\n");
    expect((await fs.stat(path.join(target, "last-state.bin"))).size).toBe(4 * 1024 * 1024);
    expect(await fs.readFile(path.join(target, "before"), "utf8")).toBe("written while running\n");
  });

  it("kopia reads four files at once where the machine has fewer than four processors, unless a policy says how many", async () => {
    // The unit of the test above: its container takes a second to stop, while the gated kopia waits.
    const data = (await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${unit}-data`)).trim();
    const parallelOfBackup = async () => {
      let argv: string[] | undefined;
      const running = ws.start(["backup", "--unit", unit, "--json"]);
      await waitForProcesses((c) => {
        const match = c.includes(ws.dir) && c.includes("snapshot\0create\0") && c.includes(`\0${data}\0`);
        if (match) argv = c.split("\0");
        return match;
      });
      const result = await running.done;
      expect(result.code, result.stderr).toBe(0);
      expect(argv, "the volume's kopia snapshot was not seen").toBeDefined();
      return (argv ?? []).filter((a) => a.startsWith("--parallel"));
    };
    expect(await parallelOfBackup()).toEqual(os.availableParallelism() < 4 ? ["--parallel=4"] : []);
    // A policy that says how many wins: kopi-docka leaves the number to it.
    const policy = (value: string) =>
      execFileAsync(
        "kopia",
        [
          `--config-file=${path.join(ws.dir, "kopia", "repository.config")}`,
          "policy",
          "set",
          "--global",
          `--max-parallel-file-reads=${value}`,
        ],
        { env: { ...process.env, KOPIA_PASSWORD: ws.password } },
      );
    await policy("1");
    try {
      expect((await client.policies()).global.maxParallelFileReads).toBe(1);
      expect(await parallelOfBackup()).toEqual([]);
    } finally {
      await policy("inherit");
    }
    expect((await client.policies()).global.maxParallelFileReads).toBeUndefined();
  });

  it("aborted at the gate: nothing read, nothing saved", async () => {
    const before = await snapshotsOfSource();
    const gate = await client.startGatedSnapshot(source, { tags: {} });
    expect(await gate.waiting).toBe(true);
    gate.abort();
    const error = await gate.record.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(error)).toMatch(/kopia failed \(exit 1\): upload error/);
    expect(String(error)).not.toMatch(/kopi-docka-gate/);
    expect(await snapshotsOfSource()).toEqual(before);
  });

  it("kopi-docka killed while kopia waits: kopia ends at once, nothing saved", async () => {
    const before = await snapshotsOfSource();
    // Another process (kopi-docka's stand-in) starting a gated snapshot, then doing `tail`.
    const client = path.join(ROOT, "dist", "adapters", "kopia", "kopia-client.js");
    const gatedScript = (tail: string) => `
      import { KopiaClient } from ${JSON.stringify(client)};
      const c = new KopiaClient(${JSON.stringify(clientOptions())});
      const gate = await c.startGatedSnapshot(${JSON.stringify(source)}, { tags: {} });
      ${tail}
    `;
    const script = gatedScript(
      'if (await gate.waiting) console.log("waiting"); setInterval(() => {}, 1000);',
    );
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("waiting")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`helper exited ${code}`)));
    });
    expect(await kopiaProcesses()).toHaveLength(1);
    child.kill("SIGKILL");
    const deadline = Date.now() + 10_000;
    while ((await kopiaProcesses()).length > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await kopiaProcesses()).toEqual([]);
    expect(await snapshotsOfSource()).toEqual(before);
    // Its gate directory stays behind (a killed process removes nothing) until the next
    // kopi-docka process's first gate removes it.
    const leftovers = async () =>
      (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith(`kopi-docka-gate-${child.pid}-`));
    expect(await leftovers()).toHaveLength(1);
    const next = gatedScript("await gate.waiting; gate.abort(); await gate.record.catch(() => undefined);");
    await execFileAsync(process.execPath, ["--input-type=module", "-e", next]);
    expect(await leftovers()).toEqual([]);
    expect(await snapshotsOfSource()).toEqual(before);
  });

  it("a kopia that did not wait (no gate on the policy) is not trusted: what it saved is deleted", async () => {
    const before = await snapshotsOfSource();
    await execFileAsync(
      "kopia",
      [
        `--config-file=${path.join(ws.dir, "kopia", "repository.config")}`,
        "policy",
        "set",
        "--global",
        "--before-snapshot-root-action=",
        "--after-snapshot-root-action=",
      ],
      { env: { ...process.env, KOPIA_PASSWORD: ws.password } },
    );
    expect((await client.policies()).global.gate).toBe(false);
    const gate = await client.startGatedSnapshot(source, { tags: {} });
    expect(await gate.waiting).toBe(false);
    await expect(gate.record).rejects.toBeInstanceOf(GateMissedError);
    expect(await snapshotsOfSource()).toEqual(before);
  });
});
