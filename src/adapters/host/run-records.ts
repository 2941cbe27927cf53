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
   * A lookup of when a unit's newest successful backup began (its record's name and time), for
   * one run: the directory is listed once, and only the unit's ten newest records are read (not
   * the other units'); undefined for a unit that has none.
   */
  lastSuccessfulBackups(): (unit: string) => Promise<Date | undefined> {
    let names: Promise<string[]> | undefined;
    return async (unit) => {
      names ??= fs.readdir(this.dir).catch(() => []);
      const prefix = `${unit}_`;
      const newest = (await names)
        .filter((n) => n.startsWith(prefix) && RECORD_SUFFIX.test(n.slice(prefix.length)))
        .sort()
        .reverse()
        .slice(0, 10);
      for (const name of newest) {
        const entry = await this.readRecord(path.join(this.dir, name));
        if (typeof entry === "string" || entry.unit !== unit) continue;
        if (entry.operation === "backup" && entry.success && entry.time) return entry.time;
      }
      return undefined;
    };
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
      const entry = await this.readRecord(file);
      if (typeof entry === "string") skipped.push(`${file}: ${entry}`);
      else entries.push(entry);
    }
    entries.sort((a, b) => (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0));
    return { entries, skipped };
  }

  /** One record read back, or why it cannot be. */
  private async readRecord(file: string): Promise<HistoryEntry | string> {
    try {
      return parseRunRecord(file, JSON.parse(await fs.readFile(file, "utf8"))) ?? "not a run record";
    } catch (error) {
      return (error as Error).message;
    }
  }
}
