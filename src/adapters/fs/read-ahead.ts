// Reads files into the page cache ahead of Kopia (see domain/read-ahead.ts): one file after the
// other, sequentially, through one reused buffer, without touching their access times where the
// system allows it. Nothing is written; a file that cannot be read is passed over (opened without
// blocking: a file replaced by a FIFO since the walk does not hang it).
import { constants, promises as fs } from "node:fs";
import type { ReadAheadFile } from "../../domain/read-ahead.js";

const CHUNK = 1024 * 1024;

export interface ReadAhead {
  /** Ends the reading (after the read in flight); resolves to the bytes read for each group. */
  stop(): Promise<number[]>;
}

/** Starts reading the groups' files in order, in the background. */
export function startReadAhead(groups: readonly (readonly ReadAheadFile[])[]): ReadAhead {
  const read = groups.map(() => 0);
  let stopped = false;
  const buffer = Buffer.allocUnsafe(CHUNK);
  const reading = (async () => {
    for (const [index, files] of groups.entries())
      for (const file of files) {
        if (stopped) return;
        const handle = await openQuietly(file.path);
        if (!handle) continue;
        try {
          for (let position = 0; position < file.bytes && !stopped; ) {
            const { bytesRead } = await handle.read(
              buffer,
              0,
              Math.min(CHUNK, file.bytes - position),
              position,
            );
            if (bytesRead === 0) break;
            position += bytesRead;
            read[index] = (read[index] ?? 0) + bytesRead;
          }
        } catch {
          // Gone or unreadable meanwhile: Kopia will say so if it matters.
        } finally {
          await handle.close().catch(() => undefined);
        }
      }
  })();
  return {
    async stop() {
      stopped = true;
      await reading;
      return read;
    },
  };
}

/** Opens without updating the access time (O_NOATIME needs the file's owner or CAP_FOWNER). */
async function openQuietly(file: Buffer): Promise<fs.FileHandle | undefined> {
  try {
    return await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOATIME);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return undefined;
    return fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
  }
}
