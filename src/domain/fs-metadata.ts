// What a direct (Kopia) snapshot does not keep, recorded beside it so a restore can put it back.
// Kopia restores a subdirectory with the newest mtime found below it, not its own: the record
// keeps every directory's own mtime. The document is versioned; readers ignore what they do not know.

export const FS_METADATA_FILE = "kopi-docka-fs-metadata.json";
export const FS_METADATA_KIND = "kopi-docka-fs-metadata";

export interface FsMetadata {
  kind: typeof FS_METADATA_KIND;
  version: 1;
  /** Directories as [relative path ("." for the root), mtime in nanoseconds since the epoch]. */
  dirs: [string, string][];
}

/** Where a data item's metadata snapshot is recorded in Kopia (a stable source per unit and item). */
export function fsMetadataSourcePath(unit: string, kind: "volume" | "bind", name: string): string {
  return `/var/cache/kopi-docka/staging/fs-metadata/${encodeURIComponent(unit)}/${kind}/${encodeURIComponent(name)}`;
}
