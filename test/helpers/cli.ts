// Runs the built kopi-docka CLI as a user would, in a throwaway workspace with its own repository.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = path.join(ROOT, "dist/cli/main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Workspace {
  dir: string;
  configPath: string;
  repoDir: string;
  password: string;
  run(args: readonly string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  /** Starts the CLI with this workspace's config, without waiting for it. */
  start(args: readonly string[]): RunningCli;
  json<T = unknown>(args: readonly string[]): Promise<T>;
  cleanup(): Promise<void>;
}

export interface RunningCli {
  child: ChildProcess;
  /** Settles when it has exited, with its exit code and everything it printed. */
  done: Promise<CliResult>;
}

/** Starts the CLI without waiting for it: for tests that act while it runs (signals, faults). */
export function startCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return startCli(args, options).done;
}

/** A workspace: config, password file, Kopia config, cache and repository, all in one temp dir. */
export async function createWorkspace(
  options: { init?: boolean; hostname?: string } = {},
): Promise<Workspace> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-e2e-"));
  const repoDir = path.join(dir, "repo");
  const configPath = path.join(dir, "config.json");
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  await fs.writeFile(path.join(dir, "password"), `${password}\n`, { mode: 0o600 });
  const config = {
    kopia: {
      kopia_params: `filesystem --path ${repoDir}`,
      password_file: path.join(dir, "password"),
      config_file: path.join(dir, "kopia", "repository.config"),
      cache_directory: path.join(dir, "kopia-cache"),
      // As init writes it for a password it generated (the default flow): kopia opens faster.
      key_derivation: "pbkdf2-sha256-600000",
      ...(options.hostname ? { hostname: options.hostname } : {}),
    },
    backup: {
      stop_timeout: 10,
      start_timeout: 30,
      state_directory: path.join(dir, "state"),
      staging_directory: path.join(dir, "staging"),
      base_path: path.join(dir, "base"),
    },
    // Generous retention: tests make several snapshots of one source.
    retention: { latest: 100, hourly: 0, daily: 0, weekly: 0, monthly: 0, annual: 0 },
  };
  await fs.writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const ws: Workspace = {
    dir,
    configPath,
    repoDir,
    password,
    run: (args, runOptions) => runCli(["--config", configPath, ...args], runOptions),
    start: (args) => startCli(["--config", configPath, ...args]),
    async json<T>(args: readonly string[]): Promise<T> {
      const result = await ws.run([...args, "--json"]);
      if (result.code !== 0)
        throw new Error(`kopi-docka ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
    async cleanup() {
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  if (options.init !== false) {
    const result = await ws.run(["init"]);
    if (result.code !== 0) throw new Error(`init failed: ${result.stderr}`);
  }
  return ws;
}

export async function du(dir: string): Promise<number> {
  const { stdout } = await execFileAsync("du", ["-sb", dir]);
  return Number.parseInt(stdout.split("\t")[0] ?? "0", 10);
}
