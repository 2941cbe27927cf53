// What a direct (Kopia) snapshot does not keep, recorded beside it so a restore can put it back.
// Kopia restores a subdirectory with the newest mtime found below it, not its own; it restores hard
// links as independent copies; it keeps no extended attributes (so no POSIX ACLs and no file
// capabilities), no FIFOs, sockets or device nodes; and it mangles names that are not valid UTF-8.
// The record keeps what is needed to put all of that back (but names, which are only reported).
// The document is versioned; readers ignore fields they do not know.

export const FS_METADATA_FILE = "kopi-docka-fs-metadata.json";
export const FS_METADATA_KIND = "kopi-docka-fs-metadata";

/** The kinds of special files the record keeps. Sockets are recorded, but not recreated. */
export const FS_SPECIAL_TYPES = ["fifo", "char", "block", "socket"] as const;
export type FsSpecialType = (typeof FS_SPECIAL_TYPES)[number];

/**
 * A FIFO, device node or socket: [relative path, type, permission bits (mode & 0o7777), uid, gid,
 * rdev (device number as the kernel encodes it, 0 for FIFOs and sockets), mtime in nanoseconds].
 */
export type FsSpecialEntry = [
  path: string,
  type: FsSpecialType,
  mode: number,
  uid: number,
  gid: number,
  rdev: number,
  mtimeNs: string,
];

/**
 * The current record (version 2). Paths are relative to the recorded root, "/"-separated, "." for
 * the root itself; entries whose path is not valid UTF-8 are left out of every list but
 * nonUtf8Names (Kopia cannot restore them under their own name anyway).
 */
export interface FsMetadata {
  kind: typeof FS_METADATA_KIND;
  version: 2;
  /** Directories as [relative path, own mtime in nanoseconds since the epoch]. */
  dirs: [string, string][];
  /** Regular files sharing one inode inside the tree: groups of two or more paths, sorted. */
  hardlinks: string[][];
  /** Every extended attribute (ACLs and capabilities included) as [relative path, name, base64 value]. */
  xattrs: [string, string, string][];
  /** FIFOs, device nodes and sockets. */
  specials: FsSpecialEntry[];
  /** Regular files whose mtime must be set again after the restore (members of hard-link groups). */
  files: [string, string][];
  /** Entries whose own name is not valid UTF-8: their relative paths as base64 of the raw bytes. */
  nonUtf8Names: string[];
  /**
   * How many regular files had holes (fewer bytes allocated than their size) when the tree was
   * walked. Absent in records written before it was counted: then nothing is known.
   */
  sparseFiles?: number;
}

/** The first record, which only kept directory mtimes. Still read and applied. */
export interface FsMetadataV1 {
  kind: typeof FS_METADATA_KIND;
  version: 1;
  dirs: [string, string][];
}

/** A record of any version this code can apply. */
export type AnyFsMetadata = FsMetadata | FsMetadataV1;

/** An empty current record. */
export function emptyFsMetadata(): FsMetadata {
  return {
    kind: FS_METADATA_KIND,
    version: 2,
    dirs: [],
    hardlinks: [],
    xattrs: [],
    specials: [],
    files: [],
    nonUtf8Names: [],
  };
}

/** Brings a record of any version to the current shape (missing lists are empty). */
export function upgradeFsMetadata(metadata: AnyFsMetadata): FsMetadata {
  if (metadata.version === 2) return metadata;
  return { ...emptyFsMetadata(), dirs: metadata.dirs };
}

/** The major number of a Linux device number (glibc's gnu_dev_major; its masks are 32-bit). */
export function deviceMajor(rdev: number | bigint): number {
  const r = BigInt(rdev);
  return Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & 0xfffff000n));
}

/** The minor number of a Linux device number (glibc's gnu_dev_minor; its masks are 32-bit). */
export function deviceMinor(rdev: number | bigint): number {
  const r = BigInt(rdev);
  return Number((r & 0xffn) | ((r >> 12n) & 0xffffff00n));
}

/**
 * Renders raw name bytes for people: valid UTF-8 as text, every byte that is not part of a valid
 * UTF-8 sequence and every control character as \xNN.
 */
export function printableBytes(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  const hex = (b: number) => `\\x${b.toString(16).padStart(2, "0")}`;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    const len = utf8SequenceLength(bytes, i);
    if (len === 0) {
      out += hex(b);
      i++;
    } else if (len === 1) {
      out += b < 0x20 || b === 0x7f ? hex(b) : String.fromCharCode(b);
      i++;
    } else {
      out += new TextDecoder().decode(bytes.subarray(i, i + len));
      i += len;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence starting at i, or 0 if the byte there does not start one. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i] ?? 0;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // No overlong forms (E0 A0..), no UTF-16 surrogates (ED 80..9F).
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Where a data item's metadata snapshot is recorded in Kopia (a stable source per unit and item). */
export function fsMetadataSourcePath(unit: string, kind: "volume" | "bind", name: string): string {
  return `/var/cache/kopi-docka/staging/fs-metadata/${encodeURIComponent(unit)}/${kind}/${encodeURIComponent(name)}`;
}
