// The journal of containers a run is about to stop. Written before the first stop and removed
// when they run again, so that after a crash of kopi-docka itself (SIGKILL, out of memory, power
// loss) `kopi-docka recover` knows what to start again.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

export interface JournalContainer {
  id: string;
  name: string;
}

export interface JournalEntry {
  runId: string;
  pid: number;
  operation: "backup" | "restore";
  unit: string;
  /** When the containers were about to be stopped (ISO-8601). */
  stoppedAt: string;
  /** In start order. */
  containers: JournalContainer[];
}

export class Journal {
  constructor(private readonly dir: string) {}

  private file(runId: string): string {
    return path.join(this.dir, `${runId}.json`);
  }

  /** Records the containers about to be stopped; returns the entry's id. */
  async record(entry: Omit<JournalEntry, "runId" | "pid">): Promise<string> {
    const runId = randomUUID();
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(runId)}.tmp`;
    const handle = await fs.open(tmp, "w", 0o600);
    await handle.writeFile(JSON.stringify({ ...entry, runId, pid: process.pid }));
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, this.file(runId));
    return runId;
  }

  async clear(runId: string): Promise<void> {
    await fs.rm(this.file(runId), { force: true });
  }

  /** Every entry left behind; unreadable files are returned as problems, not thrown. */
  async pending(): Promise<{ entries: JournalEntry[]; problems: string[] }> {
    let names: string[];
    try {
      names = (await fs.readdir(this.dir)).filter((n) => n.endsWith(".json"));
    } catch {
      return { entries: [], problems: [] };
    }
    const entries: JournalEntry[] = [];
    const problems: string[] = [];
    for (const name of names.sort()) {
      try {
        const parsed = JSON.parse(await fs.readFile(path.join(this.dir, name), "utf8")) as JournalEntry;
        if (!Array.isArray(parsed.containers) || typeof parsed.runId !== "string")
          throw new Error("not a journal entry");
        entries.push(parsed);
      } catch (error) {
        problems.push(`${path.join(this.dir, name)}: ${(error as Error).message}`);
      }
    }
    return { entries, problems };
  }
}
