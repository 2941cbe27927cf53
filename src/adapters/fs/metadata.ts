// Recording and re-applying the file-system metadata a Kopia snapshot loses (see domain/fs-metadata.ts).
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { FS_METADATA_KIND, type FsMetadata } from "../../domain/fs-metadata.js";

/** Walks the directories below root (one file system, symlinks not followed) and records their mtimes. */
export async function collectFsMetadata(root: string): Promise<FsMetadata> {
  const dirs: [string, string][] = [];
  const rootStat = await fs.lstat(root, { bigint: true });
  if (!rootStat.isDirectory()) return { kind: FS_METADATA_KIND, version: 1, dirs };
  const walk = async (rel: string, mtimeNs: bigint): Promise<void> => {
    dirs.push([rel, mtimeNs.toString()]);
    const abs = rel === "." ? root : path.join(root, rel);
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const childRel = rel === "." ? entry.name : path.join(rel, entry.name);
      const st = await fs.lstat(path.join(root, childRel), { bigint: true }).catch(() => undefined);
      if (st?.isDirectory() && st.dev === rootStat.dev) await walk(childRel, st.mtimeNs);
    }
  };
  await walk(".", rootStat.mtimeNs);
  return { kind: FS_METADATA_KIND, version: 1, dirs };
}

const fsMetadataSchema = z
  .object({
    kind: z.literal(FS_METADATA_KIND),
    version: z.number(),
    dirs: z.array(z.tuple([z.string(), z.string().regex(/^-?\d+$/)])).default([]),
  })
  .passthrough();

export function parseFsMetadata(text: string): FsMetadata {
  const parsed = fsMetadataSchema.parse(JSON.parse(text));
  return { kind: FS_METADATA_KIND, version: 1, dirs: parsed.dirs };
}

/**
 * Sets every recorded directory's mtime (and atime) below root, deepest first so that setting a
 * child does not disturb its parent. Paths that would leave root are ignored.
 * Node sets times with microsecond precision.
 */
export async function applyFsMetadata(root: string, metadata: FsMetadata): Promise<number> {
  const resolvedRoot = path.resolve(root);
  const dirs = [...metadata.dirs].sort((a, b) => b[0].split("/").length - a[0].split("/").length);
  let applied = 0;
  for (const [rel, mtimeNs] of dirs) {
    const abs = path.resolve(resolvedRoot, rel);
    if (abs !== resolvedRoot && !abs.startsWith(`${resolvedRoot}/`)) continue;
    // Whole microseconds, nudged half a microsecond up so the float never lands just below them.
    const us = BigInt(mtimeNs) / 1000n;
    const seconds = Number(us / 1_000_000n) + (Number(us % 1_000_000n) + 0.5) / 1e6;
    try {
      const st = await fs.lstat(abs);
      if (!st.isDirectory()) continue;
      await fs.utimes(abs, seconds, seconds);
      applied++;
    } catch {
      // A directory the snapshot no longer has: nothing to set.
    }
  }
  return applied;
}
