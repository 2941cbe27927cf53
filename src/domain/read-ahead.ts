// Reading ahead for Kopia: the large files of a direct item that changed since the unit's last
// backup are read into the page cache from the moment its containers begin to stop, so that Kopia,
// which reads and hashes a file in one goroutine, finds them there instead of waiting on the disk
// between its hashes. Only the page cache is filled: nothing is written, and a file read ahead that
// Kopia does not read costs a read, nothing else.

const MiB = 1024 * 1024;

/** Smaller files are left to Kopia, which reads several of them at once. */
export const READ_AHEAD_MIN_FILE_BYTES = MiB;

/** At most this much is read ahead for a unit, and at most a quarter of the memory available. */
export const READ_AHEAD_MAX_BYTES = 2048 * MiB;

/**
 * A file counts as changed when its modification time is no earlier than this long before the
 * start of the unit's last successful backup: writes while that run prepared are caught, and a
 * clock that stepped a little back too.
 */
export const READ_AHEAD_SLACK_MS = 60_000;

/** What a unit may read ahead, given the memory the system has available. */
export function readAheadBudget(availableBytes: number): number {
  return Math.max(0, Math.min(READ_AHEAD_MAX_BYTES, Math.floor(availableBytes / 4)));
}

/** The modification time (ns since the epoch) from which a file counts as changed. */
export function changedSinceNs(lastBackup: Date): bigint {
  return BigInt(lastBackup.getTime() - READ_AHEAD_SLACK_MS) * 1_000_000n;
}

export interface ReadAheadFile {
  /** Absolute path (bytes: a name need not be valid UTF-8). */
  path: Buffer;
  /** Bytes to read (the size the walk found). */
  bytes: number;
}

/**
 * The files each item reads ahead, in item order, each item's in path order (roughly Kopia's),
 * cut where the unit's budget ends (the last file read in part).
 */
export function withinBudget(
  perItem: readonly (readonly ReadAheadFile[])[],
  budget: number,
): ReadAheadFile[][] {
  let left = budget;
  return perItem.map((files) => {
    const taken: ReadAheadFile[] = [];
    for (const file of [...files].sort((a, b) => Buffer.compare(a.path, b.path))) {
      if (left <= 0) break;
      const bytes = Math.min(file.bytes, left);
      taken.push({ path: file.path, bytes });
      left -= bytes;
    }
    return taken;
  });
}
