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

/** Open files (and working directories) of every process below any of `roots`. Never throws. */
export async function findOpenFiles(roots: readonly string[], procRoot = "/proc"): Promise<OpenFile[]> {
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
      if (Number(pid) === process.pid) return;
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
      if (hits.length === 0) return;
      const command = (await fs.readFile(`${procRoot}/${pid}/comm`, "utf8").catch(() => "?")).trim();
      for (const hit of new Set(hits)) found.push({ pid: Number(pid), command, path: hit });
    }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}
