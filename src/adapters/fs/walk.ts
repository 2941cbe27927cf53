// The walk of a data item's tree (one file system, symbolic links not followed): every entry with
// its lstat. GNU find does it when it is there (several times faster than Node's calls: about
// 0.1 s for 20,000 files against 0.3-0.6 s warm; for 500,000, 2.1-2.3 s warm and 4.4-4.9 s cold
// with four finds side by side, against 6-9 s and 400 MiB); otherwise Node's own calls, many in
// flight at once.
import { isUtf8 } from "node:buffer";
import { type BigIntStats, type Dirent, lstat as lstatCallback, readdir as readdirCallback } from "node:fs";
import { lastLines, startProcess } from "../process/runner.js";

/** What the walk's readers use of an entry's lstat (BigIntStats has all of it). */
export type EntryStat = Pick<
  BigIntStats,
  | "isDirectory"
  | "isFile"
  | "isFIFO"
  | "isCharacterDevice"
  | "isBlockDevice"
  | "isSocket"
  | "size"
  | "blocks"
  | "nlink"
  | "dev"
  | "ino"
  | "mode"
  | "uid"
  | "gid"
  | "rdev"
  | "mtimeNs"
>;

export interface WalkEntry {
  /** Relative path bytes ("." for the root). */
  rel: Buffer;
  /** The relative path as text, when all of it is valid UTF-8. */
  relText: string | undefined;
  /** Whether the entry's own name is valid UTF-8. */
  nameValid: boolean;
  /** lstat of the entry; absent for symlinks (and for regular files when files are not stat'ed). */
  st: EntryStat | undefined;
}

export interface WalkOptions {
  /** "node" walks with Node's own calls even where GNU find is there (tests compare both). */
  walker?: "auto" | "node";
}

/** How many file-system calls Node's walk keeps in flight at once. */
const CONCURRENCY = 64;

/** Set once find turned out not to be GNU find (or missing): later walks go to Node at once. */
let findUnusable = false;

/**
 * Visits root (a directory, `rootStat` its lstat) and every entry below it on root's file
 * system, in no particular order. Entries that vanish or cannot be read meanwhile are left out.
 * Returns which walk it took.
 */
export async function walkTree(
  root: string,
  rootStat: BigIntStats,
  statFiles: boolean,
  visit: (entry: WalkEntry) => void,
  options: WalkOptions = {},
): Promise<"find" | "node"> {
  if (options.walker !== "node" && !findUnusable) {
    if (await walkWithFind(root, rootStat, statFiles, visit)) return "find";
    findUnusable = true;
  }
  await walkWithNode(root, rootStat, statFiles, visit);
  return "node";
}

// ---------------------------------------------------------------------------------------------
// GNU find

/**
 * One record per entry, NUL-terminated: type, device, inode, links, size, 512-byte blocks,
 * permission bits (octal), uid, gid, mtime (seconds, a dot, then nanoseconds and one more digit)
 * and the path relative to root, whose bytes come as they are (no quoting outside a terminal).
 */
const FIND_FORMAT = "%y %D %i %n %s %b %m %U %G %T@ %P\\0";
const FIND_FIELDS = 10;

/**
 * An entry's lstat as find printed it: the record and where its fields end; a field is read (and
 * converted) only when asked for, so that a walk of many files makes few objects. The record is a
 * view of find's output: read the fields during the visit, do not keep the object.
 */
class FoundStat implements EntryStat {
  constructor(
    private readonly record: Buffer,
    private readonly ends: Int32Array,
  ) {}
  private field(index: number): string {
    return this.record.toString(
      "latin1",
      index === 0 ? 0 : (this.ends[index - 1] as number) + 1,
      this.ends[index],
    );
  }
  private get type() {
    return this.record[0];
  }
  isDirectory() {
    return this.type === 0x64; // d
  }
  isFile() {
    return this.type === 0x66; // f
  }
  isFIFO() {
    return this.type === 0x70; // p
  }
  isCharacterDevice() {
    return false; // devices are lstat'ed by Node (find prints no device number)
  }
  isBlockDevice() {
    return false;
  }
  isSocket() {
    return this.type === 0x73; // s
  }
  get dev() {
    return BigInt(this.field(1));
  }
  get ino() {
    return BigInt(this.field(2));
  }
  get nlink() {
    return BigInt(this.field(3));
  }
  get size() {
    return BigInt(this.field(4));
  }
  get blocks() {
    return BigInt(this.field(5));
  }
  get mode() {
    return BigInt(Number.parseInt(this.field(6), 8));
  }
  get uid() {
    return BigInt(this.field(7));
  }
  get gid() {
    return BigInt(this.field(8));
  }
  get rdev() {
    return 0n;
  }
  get mtimeNs() {
    return findTimeNs(this.field(9)) as bigint;
  }
}

/** A walk entry found by find; its path as text is made when asked for. */
class FoundEntry implements WalkEntry {
  readonly nameValid: boolean;
  private readonly relValid: boolean;
  constructor(
    readonly rel: Buffer,
    readonly st: EntryStat | undefined,
  ) {
    const slash = rel.lastIndexOf(0x2f);
    this.relValid = isUtf8(rel);
    this.nameValid = this.relValid || isUtf8(slash === -1 ? rel : rel.subarray(slash + 1));
  }
  get relText(): string | undefined {
    return this.relValid ? this.rel.toString("utf8") : undefined;
  }
}

/**
 * find's `%T@`: tv_sec, a dot, tv_nsec in 9 digits and a 0 ("-2.2500000000" is 1.75 s before
 * the epoch). Undefined for anything else (an older find that prints fewer digits).
 */
export function findTimeNs(text: string): bigint | undefined {
  const match = /^(-?\d+)\.(\d{9})\d*$/.exec(text);
  if (!match) return undefined;
  return BigInt(match[1] as string) * 1_000_000_000n + BigInt(match[2] as string);
}

/** How many finds walk a tree side by side (cold caches: about 1.8x faster than one). */
const FIND_PARALLEL = 4;
/**
 * The split goes a level deeper while a level has fewer directories than this (a volume holding
 * one `data` directory, or three of which one holds everything), at most FIND_MAX_LEVELS deep.
 */
const FIND_SPREAD = 2 * FIND_PARALLEL;
const FIND_MAX_LEVELS = 3;
/** Above this many bytes of directory names, one find walks everything below (argv limits). */
const FIND_MAX_ARGV_BYTES = 128 * 1024;

/**
 * The walk through GNU find: first `find root -xdev -maxdepth 1` (root, whose record shows
 * whether this find is usable, and the entries directly below it); while a level has few
 * directories, the next level (`find <dirs> -mindepth 1 -maxdepth 1`); then what lies deeper, with
 * up to FIND_PARALLEL finds over that level's directories side by side. One find walks all that
 * is left below root instead when a directory's name is not UTF-8 (argv cannot carry it) or the
 * names are too many. Returns false, having visited nothing, when find is not GNU find (busybox
 * has no -printf) or is missing; fails when a find dies later.
 */
async function walkWithFind(
  root: string,
  rootStat: BigIntStats,
  statFiles: boolean,
  visit: (entry: WalkEntry) => void,
): Promise<boolean> {
  let rootDev: Buffer | undefined;
  const prefix = Buffer.from(root.endsWith("/") ? root : `${root}/`);
  // Synchronous but for devices: no promise per record (a walk of many files makes few objects).
  // The directories of the level being listed go to `dirs`.
  const onRecord = (
    record: Buffer,
    ends: Int32Array,
    rel: Buffer,
    dirs: Buffer[] | undefined,
  ): true | Promise<true> => {
    // A mount point of another file system is printed (not entered): like Node's walk, left out.
    if (
      record.compare(rootDev as Buffer, 0, (rootDev as Buffer).length, (ends[0] as number) + 1, ends[1]) !== 0
    )
      return true;
    const type = record[0];
    if (dirs && type === 0x64 /* d */) dirs.push(rel);
    if (type === 0x6c /* l */ || (!statFiles && type === 0x66) /* f */) visit(new FoundEntry(rel, undefined));
    else if (type === 0x63 /* c */ || type === 0x62 /* b */)
      // Devices: their numbers from Node's lstat.
      return lstatBigint(Buffer.concat([prefix, rel])).then((st) => {
        if (st && st.dev === rootStat.dev) visit(new FoundEntry(rel, st));
        return true;
      });
    else visit(new FoundEntry(rel, new FoundStat(record, ends)));
    return true;
  };
  let level: Buffer[] = [];
  const topFailure = await streamFind(
    [root, "-xdev", "-maxdepth", "1", "-printf", FIND_FORMAT],
    (record, ends) => {
      if (!ends) {
        // The first record shows whether this find prints what is needed; a later one must.
        if (rootDev === undefined) return false;
        throw unreadable(record);
      }
      const relStart = (ends[FIND_FIELDS - 1] as number) + 1;
      if (rootDev === undefined) {
        // The first record is root itself: it shows whether this find prints what is needed.
        const usable =
          record[0] === 0x64 &&
          relStart === record.length &&
          findTimeNs(record.toString("latin1", (ends[8] as number) + 1, ends[9])) !== undefined;
        if (!usable) return false;
        rootDev = Buffer.from(record.subarray((ends[0] as number) + 1, ends[1]));
        visit({ rel: Buffer.from("."), relText: ".", nameValid: true, st: rootStat });
        return true;
      }
      return onRecord(record, ends, Buffer.from(record.subarray(relStart)), level);
    },
  );
  const failed = (reason: string) => new Error(`find ${root} failed (${reason})`);
  if (rootDev === undefined) return false;
  if (topFailure) throw failed(topFailure);
  // Deeper: %p (the whole path) when the finds start at directories below root.
  const deepFormat = FIND_FORMAT.replace("%P", "%p");
  const below = (record: Buffer, ends: Int32Array) => {
    const path = record.subarray((ends[FIND_FIELDS - 1] as number) + 1);
    if (path.length <= prefix.length || path.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0)
      throw new Error(
        `find printed a path outside ${root}: ${JSON.stringify(path.toString("latin1").slice(0, 200))}`,
      );
    return Buffer.from(path.subarray(prefix.length));
  };
  const finds = (groups: string[][], depth: string[], dirs?: Buffer[]) =>
    groups.map((starts) =>
      streamFind([...starts, "-xdev", ...depth, "-printf", deepFormat], (record, ends) => {
        if (!ends) throw unreadable(record);
        return onRecord(record, ends, below(record, ends), dirs);
      }),
    );
  const settle = async (runs: Promise<string | undefined>[]) => {
    for (const r of await Promise.allSettled(runs)) {
      if (r.status === "rejected") throw r.reason;
      if (r.value) throw failed(r.value);
    }
  };
  const prefixText = prefix.toString();
  /** The level's directories as find's starting points, or undefined when argv cannot carry them. */
  const starts = (dirs: readonly Buffer[]) =>
    dirs.every((d) => isUtf8(d)) &&
    dirs.reduce((sum, d) => sum + prefix.length + d.length + 1, 0) <= FIND_MAX_ARGV_BYTES
      ? dirs.map((d) => `${prefixText}${d.toString("utf8")}`)
      : undefined;
  /** Starting points dealt out to up to FIND_PARALLEL finds. */
  const spread = (paths: readonly string[]) =>
    Array.from({ length: Math.min(FIND_PARALLEL, paths.length) }, (_, g) =>
      paths.filter((_, i) => i % FIND_PARALLEL === g),
    );
  // `depth` levels below root are visited; `level` holds the directories of the deepest. Each
  // level is listed side by side too: its directories may hold most of the files themselves.
  let depth = 1;
  let paths = starts(level);
  while (paths && level.length > 0 && level.length < FIND_SPREAD && depth < FIND_MAX_LEVELS) {
    const next: Buffer[] = [];
    await settle(finds(spread(paths), ["-mindepth", "1", "-maxdepth", "1"], next));
    level = next;
    depth += 1;
    paths = starts(level);
  }
  if (level.length === 0) return true;
  if (paths && paths.length > 1) await settle(finds(spread(paths), ["-mindepth", "1"]));
  else await settle(finds([[root]], ["-mindepth", String(depth + 1)]));
  return true;
}

/**
 * Runs one find (through the project's process runner) and hands each of its NUL-terminated
 * records, with where its fields end (undefined when it has not FIND_FIELDS of them), to
 * `onRecord` as they stream, one at a time; `onRecord` returning false stops find. Returns why
 * find failed, if it did (exit 1 only says that some entries could not be read or vanished: left
 * out, as Node's walk does; a find stopped here has not failed).
 */
async function streamFind(
  args: string[],
  onRecord: (record: Buffer, ends: Int32Array | undefined) => boolean | Promise<boolean>,
): Promise<string | undefined> {
  const stop = new AbortController();
  const run = startProcess({
    argv: ["find", ...args],
    env: { ...process.env, LC_ALL: "C" },
    streamStdout: true,
    signal: stop.signal,
    killGraceMs: 1000,
  });
  const done = run.done.catch((error: unknown) =>
    error instanceof Error ? error : new Error(String(error)),
  );
  let pending: Buffer = Buffer.alloc(0);
  let stopped = false;
  try {
    reading: for await (const chunk of (run.stdout ?? []) as AsyncIterable<Buffer>) {
      pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let start = 0;
      for (let end = pending.indexOf(0, start); end !== -1; end = pending.indexOf(0, start)) {
        const record = pending.subarray(start, end);
        start = end + 1;
        const going = onRecord(record, fieldEnds(record));
        if (!(typeof going === "boolean" ? going : await going)) {
          stopped = true;
          break reading;
        }
      }
      pending = start < pending.length ? Buffer.from(pending.subarray(start)) : Buffer.alloc(0);
    }
  } catch (error) {
    stop.abort();
    await done;
    throw error;
  }
  if (stopped) stop.abort();
  const result = await done;
  if (stopped) return undefined;
  if (result instanceof Error) return result.message;
  if (result.exitCode !== 0 && result.exitCode !== 1) {
    const tail = lastLines(result.stderrTail);
    return `exit ${result.exitCode ?? result.signal}${tail ? `: ${tail}` : ""}`;
  }
  return pending.length > 0 ? "it ended in the middle of a record" : undefined;
}

/** The error for a record of find's output that is not what FIND_FORMAT prints. */
function unreadable(record: Buffer): Error {
  return new Error(
    `find printed a record kopi-docka cannot read: ${JSON.stringify(record.toString("latin1").slice(0, 200))}`,
  );
}

/** Where one record's first FIND_FIELDS fields end (each at a space); the rest is the path. */
function fieldEnds(record: Buffer): Int32Array | undefined {
  const ends = new Int32Array(FIND_FIELDS);
  let from = 0;
  for (let i = 0; i < FIND_FIELDS; i++) {
    const space = record.indexOf(0x20, from);
    if (space === -1) return undefined;
    ends[i] = space;
    from = space + 1;
  }
  // One letter of type first.
  return ends[0] === 1 ? ends : undefined;
}

// ---------------------------------------------------------------------------------------------
// Node's own calls

const SLASH = Buffer.from("/");

/**
 * Visits root and every entry below it on root's file system. Every readdir and lstat is a task in
 * one queue served by CONCURRENCY workers (a directory's lstat queues its readdir, which queues
 * its entries' lstats), so that the thread pool stays busy without a promise per waiting call.
 */
async function walkWithNode(
  root: string,
  rootStat: BigIntStats,
  statFiles: boolean,
  visit: (entry: WalkEntry) => void,
): Promise<void> {
  const queue = taskQueue(CONCURRENCY);
  visit({ rel: Buffer.from("."), relText: ".", nameValid: true, st: rootStat });
  const readDir = (abs: Buffer, rel: Buffer | undefined, relText: string | undefined) => async () => {
    for (const entry of await readdirBuffers(abs)) {
      const name = entry.name;
      const nameValid = isUtf8(name);
      const childRel = rel ? Buffer.concat([rel, SLASH, name]) : name;
      const childText =
        relText !== undefined && nameValid
          ? relText === "."
            ? name.toString("utf8")
            : `${relText}/${name.toString("utf8")}`
          : undefined;
      const childAbs = Buffer.concat([abs, SLASH, name]);
      if (entry.isSymbolicLink() || (!statFiles && entry.isFile())) {
        visit({ rel: childRel, relText: childText, nameValid, st: undefined });
        continue;
      }
      queue.push(async () => {
        const st = await lstatBigint(childAbs);
        if (!st || st.dev !== rootStat.dev) return;
        visit({ rel: childRel, relText: childText, nameValid, st });
        if (st.isDirectory()) queue.push(readDir(childAbs, childRel, childText));
      });
    }
  };
  queue.push(readDir(Buffer.from(root), undefined, "."));
  await queue.done();
}

/**
 * Runs queued tasks, at most `workers` at once; tasks may queue more. The task queued last runs
 * first, so the walk goes deep before it goes wide: what waits is bounded by the tree's depth
 * times a directory's width, not by the number of files (a queue run in order held every file of
 * a wide tree at once: 400 MB for 500,000 files). done() settles when nothing is queued and
 * nothing runs (or with the first failure).
 */
function taskQueue(workers: number): {
  push: (task: () => Promise<void>) => void;
  done: () => Promise<void>;
} {
  const tasks: (() => Promise<void>)[] = [];
  let active = 0;
  let failed = false;
  let settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const pump = () => {
    while (!failed && active < workers) {
      const task = tasks.pop();
      if (!task) break;
      active++;
      task().then(
        () => {
          active--;
          pump();
        },
        (error: unknown) => {
          failed = true;
          settle?.reject(error);
        },
      );
    }
    if (tasks.length === 0 && active === 0 && !failed) settle?.resolve();
  };
  let scheduled = false;
  return {
    push: (task) => {
      tasks.push(task);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(() => {
          scheduled = false;
          pump();
        });
      }
    },
    done: () => {
      pump();
      return finished;
    },
  };
}

// The callback API: for many small calls it is several times faster than fs.promises.
function readdirBuffers(dir: Buffer): Promise<Dirent<Buffer>[]> {
  return new Promise((resolve) => {
    readdirCallback(dir, { encoding: "buffer", withFileTypes: true }, (error, entries) =>
      resolve(error ? [] : entries),
    );
  });
}

function lstatBigint(file: Buffer): Promise<BigIntStats | undefined> {
  return new Promise((resolve) => {
    lstatCallback(file, { bigint: true }, (error, st) => resolve(error ? undefined : st));
  });
}
