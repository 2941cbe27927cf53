// Run records on disk: `<base_path>/metadata/<unit>_<YYYYmmdd_HHMMSS>.json`, mode 0600.
import { promises as fs } from "node:fs";
import path from "node:path";
import { type HistoryEntry, parseRunRecord, type RunRecord, recordStamp } from "../../domain/run-record.js";
import { writePrivateFile } from "../fs/private-file.js";

/** What follows `<unit>_` in a record's name. */
const RECORD_SUFFIX = /^\d{8}_\d{6}(_\d+)?\.json$/;

export class RunRecords {
  constructor(private readonly basePath: string) {}

  get dir(): string {
    return path.join(this.basePath, "metadata");
  }

  /** Writes a record; a second one for the same unit and second gets a suffix. Returns its path. */
  async write(record: RunRecord, when: Date): Promise<string> {
    const base = `${record.unit_name}_${recordStamp(when)}`;
    for (let n = 1; n < 100; n++) {
      const file = path.join(this.dir, `${base}${n === 1 ? "" : `_${n}`}.json`);
      try {
        await writePrivateFile(file, `${JSON.stringify(record, null, 2)}\n`);
        return file;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
    throw new Error(`too many run records named ${base}`);
  }

  /**
   * When the unit's newest successful backup began (its record's name and time), without reading
   * the other units' records; undefined when it has none. Reads at most the unit's ten newest.
   */
  async lastSuccessfulBackup(unit: string): Promise<Date | undefined> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return undefined;
    }
    const prefix = `${unit}_`;
    const newest = names
      .filter((n) => n.startsWith(prefix) && RECORD_SUFFIX.test(n.slice(prefix.length)))
      .sort()
      .reverse()
      .slice(0, 10);
    for (const name of newest) {
      const file = path.join(this.dir, name);
      const entry = await fs
        .readFile(file, "utf8")
        .then((text) => parseRunRecord(file, JSON.parse(text)))
        .catch(() => undefined);
      if (entry?.unit === unit && entry.operation === "backup" && entry.success && entry.time)
        return entry.time;
    }
    return undefined;
  }

  /** Every readable record, newest first; unreadable or foreign files are reported, not thrown. */
  async read(): Promise<{ entries: HistoryEntry[]; skipped: string[] }> {
    let names: string[];
    try {
      names = (await fs.readdir(this.dir)).filter((n) => n.endsWith(".json"));
    } catch {
      return { entries: [], skipped: [] };
    }
    const entries: HistoryEntry[] = [];
    const skipped: string[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      try {
        const entry = parseRunRecord(file, JSON.parse(await fs.readFile(file, "utf8")));
        if (entry) entries.push(entry);
        else skipped.push(`${file}: not a run record`);
      } catch (error) {
        skipped.push(`${file}: ${(error as Error).message}`);
      }
    }
    entries.sort((a, b) => (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0));
    return { entries, skipped };
  }
}
