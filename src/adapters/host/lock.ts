// One run at a time: a lock file holding the holder's pid, command and start time. A lock whose
// process no longer exists is stale and taken over.
import { promises as fs } from "node:fs";
import path from "node:path";
import { processExists } from "../process/runner.js";

export interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

export type LockResult =
  | { acquired: true; release: () => Promise<void>; staleRemoved?: LockHolder | undefined }
  | { acquired: false; holder: LockHolder };

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, "utf8")) as Partial<LockHolder>;
    if (typeof parsed.pid !== "number") return undefined;
    return { pid: parsed.pid, command: String(parsed.command ?? "?"), since: String(parsed.since ?? "?") };
  } catch {
    return undefined;
  }
}

export async function acquireLock(
  file: string,
  command: string,
  now: Date = new Date(),
): Promise<LockResult> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const me: LockHolder = { pid: process.pid, command, since: now.toISOString() };
  let staleRemoved: LockHolder | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await fs.open(file, "wx", 0o600);
      await handle.writeFile(`${JSON.stringify(me)}\n`);
      await handle.close();
      return {
        acquired: true,
        staleRemoved,
        release: async () => {
          const holder = await readHolder(file);
          if (holder?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = await readHolder(file);
    if (holder && processExists(holder.pid) && holder.pid !== process.pid) return { acquired: false, holder };
    // Stale (its process is gone) or unreadable: take it over.
    staleRemoved = holder ?? { pid: 0, command: "unreadable lock file", since: "?" };
    await fs.rm(file, { force: true });
  }
  throw new Error(`could not take the lock ${file}`);
}
