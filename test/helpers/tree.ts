// A manifest of a directory tree: what a user would compare after a restore.
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { expect } from "vitest";

export interface Entry {
  type: "file" | "dir" | "symlink" | "other";
  mode: string;
  uid: number;
  gid: number;
  mtimeNs: string;
  size?: number;
  sha256?: string;
  link?: string;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Every entry below root (root itself as "."), keyed by relative path. */
export async function manifest(
  root: string,
  options: { times?: boolean } = {},
): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  const walk = async (rel: string) => {
    const abs = path.join(root, rel);
    const st = await fs.lstat(abs, { bigint: true });
    const base = {
      mode: (Number(st.mode) & 0o7777).toString(8),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeNs: options.times === false ? "" : st.mtimeNs.toString(),
    };
    if (st.isSymbolicLink())
      out[rel] = { type: "symlink", ...base, mtimeNs: "", link: await fs.readlink(abs) };
    else if (st.isDirectory()) {
      out[rel] = { type: "dir", ...base };
      for (const name of (await fs.readdir(abs)).sort())
        await walk(rel === "." ? name : path.join(rel, name));
    } else if (st.isFile())
      out[rel] = { type: "file", ...base, size: Number(st.size), sha256: await sha256(abs) };
    else out[rel] = { type: "other", ...base };
  };
  await walk(".");
  return out;
}

/** Allocated bytes of a file (st_blocks * 512): a sparse file allocates less than its size. */
export async function allocatedBytes(file: string): Promise<number> {
  const st = await fs.stat(file);
  return st.blocks * 512;
}

/**
 * Asserts two manifests describe the same tree. Directory mtimes are compared to the microsecond
 * (kopi-docka re-applies them through Node, which sets times with microsecond precision); all
 * else exactly.
 */
export function expectSameTree(actual: Record<string, Entry>, expected: Record<string, Entry>): void {
  const strip = (m: Record<string, Entry>) =>
    Object.fromEntries(Object.entries(m).map(([k, e]) => [k, e.type === "dir" ? { ...e, mtimeNs: "" } : e]));
  expect(strip(actual)).toEqual(strip(expected));
  for (const [rel, entry] of Object.entries(expected)) {
    if (entry.type !== "dir" || entry.mtimeNs === "") continue;
    const micros = (ns: string | undefined) => (BigInt(ns ?? "0") / 1000n).toString();
    expect(micros(actual[rel]?.mtimeNs), `mtime of directory ${rel}`).toBe(micros(entry.mtimeNs));
  }
}
