// Which processes still have files open below given paths (read from /proc; Linux only).
import { promises as fs } from "node:fs";

export interface OpenFile {
  pid: number;
  command: string;
  path: string;
}

function isBelow(file: string, root: string): boolean {
  return file === root || file.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** The parent's pid from /proc/<pid>/stat ("pid (comm) state ppid ..."; comm may hold spaces). */
async function parentOf(procRoot: string, pid: string): Promise<number | undefined> {
  const stat = await fs.readFile(`${procRoot}/${pid}/stat`, "utf8").catch(() => "");
  const ppid = Number(
    stat
      .slice(stat.lastIndexOf(")") + 1)
      .trim()
      .split(/\s+/)[1],
  );
  return Number.isInteger(ppid) ? ppid : undefined;
}

/**
 * Whether `pid` descends from `ancestor` (its child, its child's child, ...): the kopia reading
 * the data may run below a wrapper (a script named as the kopia binary, `nice`, a snap).
 */
async function descendsFrom(procRoot: string, pid: string, ancestor: number): Promise<boolean> {
  let current = pid;
  // A bounded walk up: the chain from any process to pid 1 is short.
  for (let depth = 0; depth < 64; depth++) {
    const parent = await parentOf(procRoot, current);
    if (parent === undefined || parent <= 1) return false;
    if (parent === ancestor) return true;
    current = String(parent);
  }
  return false;
}

/**
 * Open files (and working directories) of every process below any of `roots`, except this
 * process and the processes it started, however deep (the kopia reading the data, getfattr,
 * tar). Never throws.
 */
export async function findOpenFiles(
  roots: readonly string[],
  procRoot = "/proc",
  self = process.pid,
): Promise<OpenFile[]> {
  if (roots.length === 0) return [];
  const found: OpenFile[] = [];
  let pids: string[];
  try {
    pids = (await fs.readdir(procRoot)).filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  await Promise.all(
    pids.map(async (pid) => {
      if (Number(pid) === self) return;
      const targets: string[] = [];
      try {
        const fds = await fs.readdir(`${procRoot}/${pid}/fd`);
        for (const fd of fds) {
          const target = await fs.readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => "");
          if (target.startsWith("/")) targets.push(target);
        }
        const cwd = await fs.readlink(`${procRoot}/${pid}/cwd`).catch(() => "");
        if (cwd) targets.push(cwd);
      } catch {
        return;
      }
      const hits = targets.filter((t) => roots.some((r) => isBelow(t.replace(/ \(deleted\)$/, ""), r)));
      if (hits.length === 0 || (await descendsFrom(procRoot, pid, self))) return;
      const command = (await fs.readFile(`${procRoot}/${pid}/comm`, "utf8").catch(() => "?")).trim();
      for (const hit of new Set(hits)) found.push({ pid: Number(pid), command, path: hit });
    }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}
