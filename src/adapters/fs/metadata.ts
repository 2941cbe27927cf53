// Recording and re-applying the file-system metadata a Kopia snapshot loses (see domain/fs-metadata.ts).
// One walk (lstat, bigint, buffer names, one file system, symlinks not followed) records directory
// mtimes, hard-link groups, special files and names that are not UTF-8; one `getfattr` run records
// every extended attribute (POSIX ACLs and file capabilities are extended attributes too).
import { isUtf8 } from "node:buffer";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type BigIntStats, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import {
  type AnyFsMetadata,
  deviceMajor,
  deviceMinor,
  emptyFsMetadata,
  FS_METADATA_KIND,
  FS_SPECIAL_TYPES,
  type FsMetadata,
  type FsSpecialEntry,
  type FsSpecialType,
  printableBytes,
  upgradeFsMetadata,
} from "../../domain/fs-metadata.js";
import type { ReadAheadFile } from "../../domain/read-ahead.js";
import { mapLimited } from "./tree.js";
import { type EntryStat, type WalkOptions, walkTree } from "./walk.js";

/** How many file-system calls the apply keeps in flight at once. */
const CONCURRENCY = 64;

const ATTR_MISSING =
  "is not installed: install the 'attr' package (e.g. apt-get install attr) to record and restore extended attributes, ACLs and file capabilities";

export interface CollectFsMetadataOptions extends WalkOptions {
  /** Record extended attributes with getfattr (default true). False records none and needs no getfattr. */
  xattrs?: boolean;
}

/**
 * Walks root (one file system, symlinks not followed) and records what a Kopia snapshot loses.
 * A root that is not a directory gives an empty record; a missing root fails (ENOENT).
 * Fails with a clear Error when getfattr (package `attr`) is missing, unless options.xattrs is false.
 */
export async function collectFsMetadata(
  root: string,
  options: CollectFsMetadataOptions = {},
): Promise<FsMetadata> {
  const metadata = { ...emptyFsMetadata(), sparseFiles: 0 };
  const rootStat = await fs.lstat(root, { bigint: true });
  if (!rootStat.isDirectory()) return metadata;
  const resolvedRoot = path.resolve(root);
  const links = new Map<string, { rel: string; mtimeNs: bigint }[]>();
  const [, xattrs] = await Promise.all([
    walkTree(
      resolvedRoot,
      rootStat,
      true,
      (e) => {
        if (!e.nameValid) metadata.nonUtf8Names.push(e.rel.toString("base64"));
        const rel = e.relText;
        if (rel === undefined) return;
        const st = e.st;
        if (!st) return;
        if (st.isDirectory()) metadata.dirs.push([rel, st.mtimeNs.toString()]);
        else if (st.isFile()) {
          // GNU tar's test for a sparse file: fewer 512-byte blocks allocated than the size needs.
          if (st.blocks * 512n < st.size) metadata.sparseFiles++;
          if (st.nlink > 1n) {
            const key = `${st.dev}:${st.ino}`;
            const group = links.get(key);
            if (group) group.push({ rel, mtimeNs: st.mtimeNs });
            else links.set(key, [{ rel, mtimeNs: st.mtimeNs }]);
          }
        } else {
          const type = specialType(st);
          if (type) {
            metadata.specials.push([
              rel,
              type,
              Number(st.mode & 0o7777n),
              Number(st.uid),
              Number(st.gid),
              type === "char" || type === "block" ? Number(st.rdev) : 0,
              st.mtimeNs.toString(),
            ]);
          }
        }
      },
      options,
    ),
    options.xattrs === false ? Promise.resolve([]) : readXattrs(resolvedRoot),
  ]);
  for (const group of links.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => compareRel(a.rel, b.rel));
    metadata.hardlinks.push(group.map((m) => m.rel));
    for (const m of group) metadata.files.push([m.rel, m.mtimeNs.toString()]);
  }
  // getfattr leaves out what the walk leaves out: other file systems (--one-file-system, their
  // mount points too) and, as read by parseGetfattrDump, paths that are not UTF-8. (No set of
  // every path the walk saw: it would grow with the number of files.)
  metadata.xattrs = xattrs;
  metadata.dirs.sort((a, b) => compareRel(a[0], b[0]));
  metadata.hardlinks.sort((a, b) => compareRel(a[0] ?? "", b[0] ?? ""));
  metadata.files.sort((a, b) => compareRel(a[0], b[0]));
  metadata.specials.sort((a, b) => compareRel(a[0], b[0]));
  metadata.xattrs.sort((a, b) => compareRel(a[0], b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  metadata.nonUtf8Names.sort();
  return metadata;
}

export interface TreeSurvey {
  /** Apparent size of the regular files below root (root itself when it is a file). */
  sizeBytes: number;
  /** Printable renderings of the names that are not valid UTF-8. */
  nonUtf8Names: string[];
  /** Whether root is a directory (not a file, a symbolic link, or missing). */
  directory: boolean;
  /** The files `changed` asked for (none when it was not given), in no particular order. */
  changed: ReadAheadFile[];
}

/** Which files the survey lists as changed: regular files this large, modified since then. */
export interface ChangedFiles {
  minBytes: number;
  sinceNs: bigint;
  /** It stops listing once the files listed add up to this many bytes. */
  maxBytes: number;
}

/**
 * One walk of a data item before its containers stop: its size, its non-UTF-8 names and (when
 * asked) its files changed since a time. A root that is not there (a volume read through the
 * Engine API) is empty.
 */
export async function surveyTree(
  root: string,
  options: WalkOptions & { changed?: ChangedFiles | undefined } = {},
): Promise<TreeSurvey> {
  const rootStat = await fs.lstat(root, { bigint: true }).catch(() => undefined);
  if (!rootStat) return { sizeBytes: 0, nonUtf8Names: [], directory: false, changed: [] };
  if (!rootStat.isDirectory())
    return {
      sizeBytes: rootStat.isFile() ? Number(rootStat.size) : 0,
      nonUtf8Names: [],
      directory: false,
      changed: [],
    };
  let size = 0n;
  const found: Buffer[] = [];
  const changed: ReadAheadFile[] = [];
  const want = options.changed;
  const minBytes = BigInt(want?.minBytes ?? 0);
  let changedBytes = 0;
  const base = Buffer.from(`${path.resolve(root)}/`);
  await walkTree(
    path.resolve(root),
    rootStat,
    true,
    (e) => {
      if (!e.nameValid) found.push(e.rel);
      const st = e.st;
      if (!st?.isFile()) return;
      size += st.size;
      if (want && changedBytes < want.maxBytes && st.size >= minBytes && st.mtimeNs >= want.sinceNs) {
        changed.push({ path: Buffer.concat([base, e.rel]), bytes: Number(st.size) });
        changedBytes += Number(st.size);
      }
    },
    options,
  );
  return {
    sizeBytes: Number(size),
    nonUtf8Names: found.sort(Buffer.compare).map((b) => printableBytes(b)),
    directory: true,
    changed,
  };
}

function specialType(st: EntryStat): FsSpecialType | undefined {
  if (st.isFIFO()) return "fifo";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isSocket()) return "socket";
  return undefined;
}

/** "." first, then by UTF-16 code units (stable, and parents before their children). */
function compareRel(a: string, b: string): number {
  if (a === b) return 0;
  if (a === ".") return -1;
  if (b === ".") return 1;
  return a < b ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------
// Extended attributes through getfattr / setfattr (package attr)

interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a tool with an argv array (no shell); a missing tool fails with a clear Error. */
function runTool(command: string, args: string[], missing = ATTR_MISSING): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "ENOENT" ? new Error(`${command} ${missing}`) : error);
    });
    child.on("close", (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

/** Every extended attribute below root, as [relative path, name, base64 value]; one getfattr run. */
async function readXattrs(root: string): Promise<[string, string, string][]> {
  const result = await runTool("getfattr", [
    "--recursive",
    "--physical",
    "--no-dereference",
    "--one-file-system",
    "--absolute-names",
    "--dump",
    "--match=-",
    "--encoding=base64",
    "--",
    root,
  ]);
  if (result.code !== 0) {
    // Files that vanished meanwhile and file systems without xattrs are no reason to fail.
    const serious = result.stderr
      .split("\n")
      .filter((l) => l.trim() !== "" && !/(No such file or directory|Operation not supported)$/.test(l));
    if (serious.length > 0) {
      throw new Error(`getfattr failed (exit ${result.code}): ${serious.slice(0, 5).join("; ")}`);
    }
  }
  return parseGetfattrDump(result.stdout, root);
}

/** Parses `getfattr --dump --encoding=base64 --absolute-names` output into entries relative to root. */
export function parseGetfattrDump(dump: Buffer, root: string): [string, string, string][] {
  const rootBuf = Buffer.from(root);
  const prefix = root.endsWith("/") ? rootBuf : Buffer.concat([rootBuf, Buffer.from("/")]);
  const entries: [string, string, string][] = [];
  let rel: string | undefined;
  let start = 0;
  while (start < dump.length) {
    let end = dump.indexOf(0x0a, start);
    if (end < 0) end = dump.length;
    const line = dump.subarray(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    if (line.subarray(0, 8).toString("latin1") === "# file: ") {
      const file = unescapeOctal(line.subarray(8));
      rel = undefined;
      if (file.equals(rootBuf)) rel = ".";
      else if (file.length > prefix.length && file.subarray(0, prefix.length).equals(prefix)) {
        const relBuf = file.subarray(prefix.length);
        if (isUtf8(relBuf)) rel = relBuf.toString("utf8");
      }
      continue;
    }
    if (rel === undefined || line[0] === 0x23 /* # */) continue;
    const eq = line.indexOf(0x3d /* = */);
    const nameBuf = unescapeOctal(eq < 0 ? line : line.subarray(0, eq));
    if (!isUtf8(nameBuf)) continue;
    const value = eq < 0 ? "" : line.subarray(eq + 1).toString("latin1");
    entries.push([rel, nameBuf.toString("utf8"), decodeAttrValue(value).toString("base64")]);
  }
  return entries;
}

/** A value as getfattr prints it: 0s<base64>, 0x<hex>, "text" (with octal escapes), or nothing. */
function decodeAttrValue(value: string): Buffer {
  if (value.startsWith("0s") || value.startsWith("0S")) return Buffer.from(value.slice(2), "base64");
  if (value.startsWith("0x") || value.startsWith("0X")) return Buffer.from(value.slice(2), "hex");
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
    return unescapeOctal(Buffer.from(value.slice(1, -1), "latin1"));
  }
  return Buffer.from(value, "latin1");
}

/** Undoes the attr tools' quoting: \ooo (three octal digits) is one byte; everything else is literal. */
export function unescapeOctal(bytes: Buffer): Buffer {
  if (!bytes.includes(0x5c)) return bytes;
  const out: number[] = [];
  const octal = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x37;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0x5c && octal(bytes[i + 1]) && octal(bytes[i + 2]) && octal(bytes[i + 3])) {
      out.push(
        (((bytes[i + 1] ?? 0) - 0x30) << 6) |
          (((bytes[i + 2] ?? 0) - 0x30) << 3) |
          ((bytes[i + 3] ?? 0) - 0x30),
      );
      i += 3;
    } else out.push(b);
  }
  return Buffer.from(out);
}

/** Quotes bytes for setfattr --restore: everything but printable ASCII, and \ and =, as \ooo. */
export function escapeOctal(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (const b of bytes) {
    if (b > 0x20 && b < 0x7f && b !== 0x5c && b !== 0x3d) out.push(b);
    else for (const c of `\\${b.toString(8).padStart(3, "0")}`) out.push(c.charCodeAt(0));
  }
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------------------------
// Parsing

const nsString = z.string().regex(/^-?\d+$/);
const int = z.number().int();

// Tuples may grow at their end in later versions: extra elements are ignored.
const fsMetadataSchema = z
  .object({
    kind: z.literal(FS_METADATA_KIND),
    version: z.number(),
    dirs: z.array(z.tuple([z.string(), nsString]).rest(z.unknown())).default([]),
    hardlinks: z.array(z.array(z.string())).default([]),
    xattrs: z.array(z.tuple([z.string(), z.string(), z.string()]).rest(z.unknown())).default([]),
    specials: z
      .array(z.tuple([z.string(), z.string(), int, int, int, int, nsString]).rest(z.unknown()))
      .default([]),
    files: z.array(z.tuple([z.string(), nsString]).rest(z.unknown())).default([]),
    nonUtf8Names: z.array(z.string()).default([]),
    sparseFiles: z.number().int().nonnegative().optional(),
  })
  .passthrough();

/**
 * Parses a record of any version into the current shape (version 2): lists a version-1 document
 * does not have are empty; unknown fields, extra tuple elements and special types are ignored.
 */
export function parseFsMetadata(text: string): FsMetadata {
  const parsed = fsMetadataSchema.parse(JSON.parse(text));
  const known = new Set<string>(FS_SPECIAL_TYPES);
  return {
    kind: FS_METADATA_KIND,
    version: 2,
    dirs: parsed.dirs.map(([p, t]) => [p, t]),
    hardlinks: parsed.hardlinks,
    xattrs: parsed.xattrs.map(([p, n, v]) => [p, n, v]),
    specials: parsed.specials
      .filter((s) => known.has(s[1]))
      .map(([p, type, mode, uid, gid, rdev, t]) => [p, type as FsSpecialType, mode, uid, gid, rdev, t]),
    files: parsed.files.map(([p, t]) => [p, t]),
    nonUtf8Names: parsed.nonUtf8Names,
    ...(parsed.sparseFiles !== undefined ? { sparseFiles: parsed.sparseFiles } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Applying

export interface FsMetadataApplyResult {
  /** Directories whose mtime (and atime) was set. */
  dirs: number;
  /** Paths replaced by a hard link to the first path of their group. */
  hardlinks: number;
  /** Extended attributes set. */
  xattrs: number;
  /** FIFOs and device nodes created (or found) and given their owner, mode and mtime. */
  specials: number;
  /** Recorded sockets, which are not recreated (as GNU tar does not). */
  skippedSockets: number;
  /** What could not be applied, one line each (the rest was applied). Empty when all went well. */
  failures: string[];
}

/**
 * Re-applies a record (any version) to a tree Kopia has just restored into root, in this order:
 * special files (mknod, lchown, chmod); hard links (each other path of a group is replaced by a
 * link to the first, through a temporary name and a rename); extended attributes (one
 * `setfattr --restore` run, after owners are right, so that file capabilities survive); the mtimes
 * of hard-linked files and special files; directory mtimes last, deepest first.
 * Entries whose path leaves root, or runs through a symlink or a non-directory, are ignored; no
 * symlink inside root is followed. Paths that do not exist are skipped (hard-link members are not
 * created). What fails is listed in failures; a missing setfattr (with xattrs to set) throws.
 */
export async function applyFsMetadataFull(
  root: string,
  metadata: AnyFsMetadata,
): Promise<FsMetadataApplyResult> {
  const record = upgradeFsMetadata(metadata);
  const guard = pathGuard(path.resolve(root));
  const result: FsMetadataApplyResult = {
    dirs: 0,
    hardlinks: 0,
    xattrs: 0,
    specials: 0,
    skippedSockets: 0,
    failures: [],
  };
  const fail = (what: string, error: unknown) =>
    result.failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);

  // 1. Special files.
  const madeSpecials: [string, string][] = [];
  for (const entry of record.specials) {
    if (entry[1] === "socket") {
      result.skippedSockets++;
      continue;
    }
    const abs = await guard(entry[0]);
    if (!abs) continue;
    try {
      if (await makeSpecial(abs, entry)) {
        madeSpecials.push([abs, entry[6]]);
        result.specials++;
      } else result.failures.push(`${entry[0]}: exists, but is not a ${entry[1]}`);
    } catch (error) {
      fail(entry[0], error);
    }
  }

  // 2. Hard links.
  for (const group of record.hardlinks) {
    const members: { rel: string; abs: string; st: BigIntStats }[] = [];
    for (const rel of group) {
      const abs = await guard(rel);
      const st = abs ? await fs.lstat(abs, { bigint: true }).catch(() => undefined) : undefined;
      if (abs && st?.isFile()) members.push({ rel, abs, st });
    }
    const [first, ...others] = members;
    if (!first) continue;
    for (const other of others) {
      if (other.st.ino === first.st.ino && other.st.dev === first.st.dev) continue;
      const tmp = path.join(path.dirname(other.abs), `.kd-link-${randomBytes(6).toString("hex")}`);
      try {
        await fs.link(first.abs, tmp);
        try {
          await fs.rename(tmp, other.abs);
        } catch (error) {
          await fs.unlink(tmp).catch(() => undefined);
          throw error;
        }
        result.hardlinks++;
      } catch (error) {
        fail(`${other.rel} (link to ${first.rel})`, error);
      }
    }
  }

  // 3. Extended attributes, in one setfattr run.
  if (record.xattrs.length > 0) await applyXattrs(record.xattrs, guard, result);

  // 4. Mtimes of hard-linked files and special files.
  const fileTimes: [string, string][] = [];
  for (const [rel, mtimeNs] of record.files) {
    const abs = await guard(rel);
    if (abs) fileTimes.push([abs, mtimeNs]);
  }
  await mapLimited([...fileTimes, ...madeSpecials], CONCURRENCY, async ([abs, mtimeNs]) => {
    try {
      const st = await fs.lstat(abs);
      if (st.isDirectory() || st.isSymbolicLink()) return;
      const seconds = microsecondSeconds(mtimeNs);
      await fs.lutimes(abs, seconds, seconds);
    } catch {
      // Gone meanwhile: nothing to set.
    }
  });

  // 5. Directory mtimes (and atimes), deepest first so that setting a child does not disturb its parent.
  const byDepth = new Map<number, [string, string][]>();
  for (const [rel, mtimeNs] of record.dirs) {
    const abs = await guard(rel);
    if (!abs) continue;
    const depth = abs.split("/").length;
    const level = byDepth.get(depth);
    if (level) level.push([abs, mtimeNs]);
    else byDepth.set(depth, [[abs, mtimeNs]]);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => b - a)) {
    await mapLimited(byDepth.get(depth) ?? [], CONCURRENCY, async ([abs, mtimeNs]) => {
      const seconds = microsecondSeconds(mtimeNs);
      try {
        const st = await fs.lstat(abs);
        if (!st.isDirectory()) return;
        await fs.lutimes(abs, seconds, seconds);
        result.dirs++;
      } catch {
        // A directory the snapshot no longer has: nothing to set.
      }
    });
  }
  return result;
}

/**
 * Re-applies a record (any version) below root (see applyFsMetadataFull) and returns how much was
 * applied: directories whose mtime was set + hard links made + extended attributes set + special
 * files made. For a version-1 record that is the number of directories set, as before.
 */
export async function applyFsMetadata(root: string, metadata: AnyFsMetadata): Promise<number> {
  const r = await applyFsMetadataFull(root, metadata);
  return r.dirs + r.hardlinks + r.xattrs + r.specials;
}

/** Node sets times in microseconds: whole microseconds, nudged half a microsecond up so the float never lands just below them. */
function microsecondSeconds(mtimeNs: string): number {
  const us = BigInt(mtimeNs) / 1000n;
  return Number(us / 1_000_000n) + (Number(us % 1_000_000n) + 0.5) / 1e6;
}

/**
 * Resolves a recorded relative path to an absolute path inside root, or undefined when it leaves
 * root or one of its parents (below root) is not a real directory (a symlink, a file, missing).
 * The last component itself is not checked: callers lstat it.
 */
function pathGuard(root: string): (rel: string) => Promise<string | undefined> {
  const dirOk = new Map<string, Promise<boolean>>();
  const isRealDir = (dir: string): Promise<boolean> => {
    let ok = dirOk.get(dir);
    if (!ok) {
      ok = fs.lstat(dir).then(
        (st) => st.isDirectory(),
        () => false,
      );
      dirOk.set(dir, ok);
    }
    return ok;
  };
  return async (rel) => {
    if (rel.includes("\0")) return undefined;
    const abs = path.resolve(root, rel);
    if (abs === root) return abs;
    const prefix = root.endsWith("/") ? root : `${root}/`;
    if (!abs.startsWith(prefix)) return undefined;
    const parts = abs.slice(prefix.length).split("/");
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      dir = path.join(dir, part);
      if (!(await isRealDir(dir))) return undefined;
    }
    return abs;
  };
}

/** Creates a FIFO or device node (unless one of that type is there) and sets owner and mode. False: something else is there. */
async function makeSpecial(abs: string, entry: FsSpecialEntry): Promise<boolean> {
  const [, type, mode, uid, gid, rdev] = entry;
  const matches = (st: BigIntStats) =>
    (type === "fifo" && st.isFIFO()) ||
    (type === "char" && st.isCharacterDevice() && st.rdev === BigInt(rdev)) ||
    (type === "block" && st.isBlockDevice() && st.rdev === BigInt(rdev));
  const existing = await fs.lstat(abs, { bigint: true }).catch(() => undefined);
  if (existing && !matches(existing)) return false;
  if (!existing) {
    const args =
      type === "fifo"
        ? ["--", abs, "p"]
        : ["--", abs, type === "char" ? "c" : "b", String(deviceMajor(rdev)), String(deviceMinor(rdev))];
    const made = await runTool("mknod", args, "is not installed (package coreutils)");
    if (made.code !== 0) throw new Error(made.stderr.trim() || `mknod exited with ${made.code}`);
    const st = await fs.lstat(abs, { bigint: true });
    if (!matches(st)) throw new Error("mknod made something else");
  }
  await fs.lchown(abs, uid, gid);
  // Not a symlink (checked above), so chmod cannot be redirected.
  await fs.chmod(abs, mode);
  return true;
}

/** Sets all recorded xattrs with one `setfattr --no-dereference --restore` run (after owners are set). */
async function applyXattrs(
  xattrs: [string, string, string][],
  guard: (rel: string) => Promise<string | undefined>,
  result: FsMetadataApplyResult,
): Promise<void> {
  const byPath = new Map<string, [string, string][]>();
  for (const [rel, name, value] of xattrs) {
    const list = byPath.get(rel);
    if (list) list.push([name, value]);
    else byPath.set(rel, [[name, value]]);
  }
  const chunks: Buffer[] = [];
  let count = 0;
  for (const [rel, attrs] of byPath) {
    const abs = await guard(rel);
    if (!abs || !(await fs.lstat(abs).catch(() => undefined))) continue;
    chunks.push(Buffer.from("# file: "), escapeOctal(Buffer.from(abs)), Buffer.from("\n"));
    for (const [name, value] of attrs) {
      chunks.push(escapeOctal(Buffer.from(name)), Buffer.from(`=0s${value}\n`));
      count++;
    }
    chunks.push(Buffer.from("\n"));
  }
  if (count === 0) return;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-xattrs-"));
  try {
    const dump = path.join(dir, "dump");
    await fs.writeFile(dump, Buffer.concat(chunks), { mode: 0o600 });
    const run = await runTool("setfattr", ["--no-dereference", `--restore=${dump}`]);
    const errors = run.stderr.split("\n").filter((l) => l.trim() !== "");
    if (run.code !== 0 && errors.length === 0) errors.push(`setfattr exited with ${run.code}`);
    result.xattrs += Math.max(0, count - errors.length);
    for (const e of errors) result.failures.push(`xattr: ${e}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
