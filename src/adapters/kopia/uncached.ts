// Reading a snapshot's data without Kopia's caches, for a repository on a file system.
//
// Kopia keeps every content it reads in its content cache (up to 5 GB by default), so a restore
// of 2 GiB wrote 2 GiB into the cache besides the 2 GiB restored: the restore took 1.3 to 3.5
// times as long, and the cache filled the disk with a copy of data that is read once. For a
// repository on a file system the cache holds nothing its own files do not (they are as near),
// so the data reads (a volume's restore, a TAR archive's stream) use a copy of kopia's config
// without caches: what kopia itself writes for the same connection made with
// `--content-cache-size-mb=0` ("caching": {}). Kopia has no per-command switch for it, and
// turning the content cache off in the config itself would turn off the metadata and index
// caches that every other call uses.
//
// The copy is made from the config by each client, once, when it first reads data in bulk (a
// command's run: never stale after a new `init`), beside the config, 0600.
// Other storage (S3, B2, SFTP, ...) keeps the caches: without them each kopia process would
// download all of the repository's index blobs again.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import type { KopiaLocation } from "./argv.js";
import { parseKopiaConfigFile } from "./schemas.js";

/** The suffix of the uncached copy of kopia's config: `<config>.uncached`. */
export const UNCACHED_SUFFIX = ".uncached";

/**
 * kopia's config text with caching turned off, or undefined when there is nothing to gain: the
 * storage is not a file system, caching is already off, or the text is not a config kopia wrote.
 */
export function withoutCaches(configText: string): string | undefined {
  const config = parseKopiaConfigFile(configText);
  if (config?.storage.type !== "filesystem") return undefined;
  const { caching } = config;
  if (!caching || typeof caching !== "object" || Object.keys(caching).length === 0) return undefined;
  return `${JSON.stringify({ ...config, caching: {} }, null, 2)}\n`;
}

/**
 * Where kopia reads a snapshot's data in bulk: the uncached copy of the config when it helps,
 * else the location itself (also when the copy cannot be written: it only makes reads faster).
 */
export async function uncachedLocation(location: KopiaLocation): Promise<KopiaLocation> {
  const text = await fs.readFile(location.configFile, "utf8").catch(() => undefined);
  const uncached = text === undefined ? undefined : withoutCaches(text);
  if (uncached === undefined) return location;
  const file = `${location.configFile}${UNCACHED_SUFFIX}`;
  const temp = `${file}.${process.pid}-${randomUUID()}.tmp`;
  try {
    await fs.writeFile(temp, uncached, { mode: 0o600 });
    await fs.rename(temp, file);
  } catch {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    return location;
  }
  return { ...location, configFile: file };
}
