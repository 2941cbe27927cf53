// Stopping and starting the host's Docker engine, for the test that restarts it during a backup,
// and the one clean-up such a restart can need.
import { execFile, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import { promisify } from "node:util";
import { docker } from "./docker.js";
import { processesMatching } from "./processes.js";

const execFileAsync = promisify(execFile);
const DOCKERD_LOG = "/var/log/kopi-docka-dockerd.log";

const isDockerd = (cmdline: string) => cmdline.split("\0")[0]?.endsWith("dockerd") === true;

/** The running dockerd's pid and command line. */
export async function dockerdProcess(): Promise<{ pid: number; argv: string[] } | undefined> {
  const pid = (await processesMatching(isDockerd))[0];
  if (pid === undefined) return undefined;
  const argv = (await fs.readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
  return { pid, argv };
}

/** SIGTERM to dockerd, then waits (up to 30 s) until no dockerd runs. */
export async function stopEngine(pid: number): Promise<void> {
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 300 && (await processesMatching(isDockerd)).length > 0; i++)
    await new Promise((r) => setTimeout(r, 100));
}

/** Starts dockerd with this command line, detached, its output appended to the usual log. */
export async function startEngine(argv: readonly string[]): Promise<void> {
  const log = await fs.open(DOCKERD_LOG, "a");
  spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", log.fd, log.fd] }).unref();
  await log.close();
}

/** Waits (up to 60 s) until the engine answers. */
export async function waitForEngine(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (
      await docker("version", "--format", "{{.Server.Version}}").then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the Docker engine did not answer within 60 s");
}

/**
 * Container root file systems (overlay mounts under /var/lib/docker) that no path reaches any
 * more. Docker 20.10 bind-mounts its root directory onto itself while it runs; a restart can
 * leave a container's root file system mounted beneath that bind mount, where the engine can
 * neither unmount nor remove it ("failed to remove root filesystem: unlinkat …/merged: device or
 * resource busy"): the container then stays "Removal In Progress" for good.
 */
export async function hiddenOverlayMounts(): Promise<string[]> {
  const hidden: string[] = [];
  for (const line of (await fs.readFile("/proc/self/mountinfo", "utf8")).split("\n")) {
    const fields = line.split(" ");
    const mountpoint = fields[4];
    const fsType = fields[fields.indexOf("-") + 1];
    if (fsType !== "overlay" || !mountpoint?.startsWith("/var/lib/docker/")) continue;
    const [major, minor] = (fields[2] ?? "").split(":").map(Number);
    const device = ((major ?? 0) << 8) | ((minor ?? 0) & 0xff) | (((minor ?? 0) & ~0xff) << 12);
    const stat = await fs.stat(mountpoint).catch(() => undefined);
    if (stat?.dev !== device) hidden.push(mountpoint);
  }
  return hidden;
}

/**
 * Unmounts the hidden root file systems of `hiddenOverlayMounts`: only possible while the engine
 * is down (its bind mount is gone then), so it is stopped, they are unmounted, and it is started
 * again with the same command line.
 */
export async function releaseHiddenOverlayMounts(): Promise<string[]> {
  const hidden = await hiddenOverlayMounts();
  const engine = await dockerdProcess();
  if (hidden.length === 0 || !engine) return [];
  await stopEngine(engine.pid);
  for (const mountpoint of hidden) await execFileAsync("umount", [mountpoint]).catch(() => undefined);
  await startEngine(engine.argv);
  await waitForEngine();
  return hidden;
}
