// File-system helpers for the host paths kopi-docka reads and swaps.
import { constants, promises as fs } from "node:fs";

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Why a directory cannot be read by this process, or undefined when it can. */
export async function unreadableReason(dir: string): Promise<string | undefined> {
  if (!dir) return "the engine reports no host path";
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) return `${dir} is not a directory`;
    await fs.access(dir, constants.R_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `${dir} is not visible here` : `${dir} is not readable (${code ?? "error"})`;
  }
}

/** True when a directory is missing or holds no entries. */
export async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length === 0;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Runs fn for every item, at most `limit` at once, in order of start. */
export async function mapLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
