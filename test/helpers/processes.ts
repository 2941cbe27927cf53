// Finding processes by their command line (/proc), to act on them at the right moment.
import { promises as fs } from "node:fs";

export async function processesMatching(pattern: (cmdline: string) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (pattern(cmdline)) pids.push(Number(pid));
  }
  return pids;
}

/** Polls until some process matches (every 10 ms, for at most timeoutMs); [] when none came. */
export async function waitForProcesses(
  pattern: (cmdline: string) => boolean,
  timeoutMs = 10_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await processesMatching(pattern);
    if (pids.length > 0 || Date.now() > deadline) return pids;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Polls (every 10 ms, for at most timeoutMs) until a process whose command line matches has
 * `file` open; its pids, or [] when none did.
 */
export async function waitForReaderOf(
  file: string,
  pattern: (cmdline: string) => boolean,
  timeoutMs = 10_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const readers: number[] = [];
    for (const pid of await processesMatching(pattern)) {
      const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      const targets = await Promise.all(
        fds.map((fd) => fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")),
      );
      if (targets.includes(file)) readers.push(pid);
    }
    if (readers.length > 0 || Date.now() > deadline) return readers;
    await new Promise((r) => setTimeout(r, 10));
  }
}
