// Test resources on the real Docker engine, all labelled so one call removes them.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
export const TEST_IMAGE = process.env.KOPI_DOCKA_TEST_IMAGE ?? "kopi-docka-test:latest";
export const TEST_LABEL = "kopi-docka-test";

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("docker", args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/**
 * Removes every container, volume and network carrying the test label with this value. Tried a
 * few times: an engine that has just restarted (a fault test does that) refuses for a moment.
 */
export async function removeLabelled(value: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await removeLabelledOnce(value);
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function removeLabelledOnce(value: string): Promise<void> {
  const filter = `label=${TEST_LABEL}=${value}`;
  const containers = (await docker("ps", "-aq", "--filter", filter)).split("\n").filter(Boolean);
  if (containers.length > 0) await docker("rm", "-f", "-v", ...containers);
  const volumes = (await docker("volume", "ls", "-q", "--filter", filter)).split("\n").filter(Boolean);
  if (volumes.length > 0) await docker("volume", "rm", "-f", ...volumes);
  const networks = (await docker("network", "ls", "-q", "--filter", filter)).split("\n").filter(Boolean);
  if (networks.length > 0) await docker("network", "rm", ...networks).catch(() => "");
}

export async function createVolume(name: string, label: string): Promise<string> {
  await docker("volume", "create", "--label", `${TEST_LABEL}=${label}`, name);
  return docker("volume", "inspect", "--format", "{{.Mountpoint}}", name);
}

export interface RunOptions {
  name: string;
  label: string;
  volumes?: string[];
  labels?: Record<string, string>;
  command?: string;
  start?: boolean;
  /** Its restart policy (`--restart`), e.g. "always". */
  restart?: string;
}

/** A container of the busybox test image; `--init` so it stops at once. */
export async function runContainer(options: RunOptions): Promise<string> {
  const args = [
    options.start === false ? "create" : "run",
    ...(options.start === false ? [] : ["-d"]),
    "--init",
    ...(options.restart ? ["--restart", options.restart] : []),
    "--name",
    options.name,
    "--label",
    `${TEST_LABEL}=${options.label}`,
    ...Object.entries(options.labels ?? {}).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    ...(options.volumes ?? []).flatMap((v) => ["-v", v]),
    TEST_IMAGE,
    "sh",
    "-c",
    options.command ?? "sleep 100000",
  ];
  return docker(...args);
}

export async function containerState(name: string): Promise<string> {
  return docker("inspect", "--format", "{{.State.Status}}", name);
}

/** Polls until every named container is in `state` (at most timeoutMs); false when they were not. */
export async function waitForState(
  names: readonly string[],
  state: string,
  timeoutMs = 10_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(names.map((n) => containerState(n)));
    if (states.every((s) => s === state)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function containerStartedAt(name: string): Promise<string> {
  return docker("inspect", "--format", "{{.State.StartedAt}}", name);
}

/** Runs Compose v1 (Debian's docker-compose) for a project whose docker-compose.yml is in dir. */
export async function composeIn(project: string, dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    "docker-compose",
    ["-p", project, "-f", `${dir}/docker-compose.yml`, ...args],
    {
      cwd: dir,
    },
  );
  return stdout;
}

/**
 * One service of a test compose file (2.4 format, indented under `services:`): the test image
 * sleeping under init, with the test label, then `extra` (lines indented by four spaces).
 */
export function composeService(label: string, extra = ""): string {
  return `    image: ${TEST_IMAGE}
    init: true
    command: ["sh", "-c", "sleep 100000"]
    labels:
      ${TEST_LABEL}: ${label}
${extra}`;
}

export interface ContainerEvent {
  action: string;
  name: string;
}

/**
 * Runs `run` and returns, beside its result, the engine's kill, die and start events of the
 * containers of compose project `project` meanwhile, in order (from the millisecond `run` began:
 * a start just before, such as the project's `up`, must not count as the run's).
 */
export async function withProjectEvents<R>(
  project: string,
  run: () => Promise<R>,
): Promise<{ result: R; events: ContainerEvent[] }> {
  const since = (Date.now() / 1000).toFixed(3);
  const result = await run();
  const out = await docker(
    "events",
    "--since",
    since,
    "--until",
    String(Math.ceil(Date.now() / 1000) + 1),
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--filter",
    "type=container",
    "--format",
    "{{.Action}} {{.Actor.Attributes.name}}",
  );
  const events = out
    .split("\n")
    .map((line) => line.trim().split(" "))
    .filter(([action]) => action === "kill" || action === "die" || action === "start")
    .map(([action = "", container = ""]) => ({ action, name: container }));
  return { result, events };
}
