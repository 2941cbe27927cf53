// The fidelity fixture: every kind of entry a volume can hold, and a manifest that sees all of it
// (content, type, mode, owner, mtime, link target, xattrs including ACLs and capabilities, which
// paths share an inode, device numbers).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { pseudoRandom } from "./fixtures.js";

const run = promisify(execFile);

export interface FidelityOptions {
  /** Size of the one large file (default 1 GiB). */
  largeBytes?: number;
  /** How many small files (default 20,000). */
  smallFiles?: number;
}

export async function writeFidelityTree(dir: string, options: FidelityOptions = {}): Promise<void> {
  const p = (...parts: string[]) => path.join(dir, ...parts);
  // Symlinks: absolute, relative, dangling.
  await fs.writeFile(p("target.txt"), "link target\n");
  await fs.symlink("target.txt", p("link-relative"));
  await fs.symlink("/etc/hostname", p("link-absolute"));
  await fs.symlink("does/not/exist", p("link-dangling"));
  // Hard links.
  await fs.writeFile(p("hard-a"), "shared inode\n");
  await fs.mkdir(p("hard"));
  await fs.link(p("hard-a"), p("hard", "hard-b"));
  // Special modes and owners.
  await fs.writeFile(p("setuid"), "u\n");
  await fs.chmod(p("setuid"), 0o4755);
  await fs.writeFile(p("setgid"), "g\n");
  await fs.chmod(p("setgid"), 0o2750);
  await fs.mkdir(p("sticky"));
  await fs.chmod(p("sticky"), 0o1777);
  await fs.writeFile(p("owned"), "owned\n");
  await fs.chown(p("owned"), 1000, 33);
  await fs.mkdir(p("www"));
  await fs.chown(p("www"), 33, 33);
  // ACLs (access and default), a user xattr, a file capability.
  await fs.writeFile(p("acl-file"), "acl\n");
  await run("setfacl", ["-m", "u:1000:rw,g:33:r", p("acl-file")]);
  await fs.mkdir(p("acl-dir"));
  await run("setfacl", ["-d", "-m", "u:1000:rwx", p("acl-dir")]);
  await fs.writeFile(p("xattr-file"), "xattr\n");
  await run("setfattr", ["-n", "user.comment", "-v", "kept by kopi-docka", p("xattr-file")]);
  await fs.writeFile(p("capable"), "pretend binary\n");
  await fs.chmod(p("capable"), 0o755);
  await run("setcap", ["cap_net_bind_service=+ep", p("capable")]);
  // A FIFO.
  await run("mkfifo", ["-m", "0640", p("fifo")]);
  // A sparse file: 64 MiB with two small written regions.
  const sparse = await fs.open(p("sparse.img"), "w");
  await sparse.write(Buffer.alloc(4096, 1), 0, 4096, 0);
  await sparse.write(Buffer.alloc(4096, 2), 0, 4096, 40 * 1024 * 1024);
  await sparse.truncate(64 * 1024 * 1024);
  await sparse.close();
  // Awkward names.
  await fs.writeFile(p("name with spaces.txt"), "spaces\n");
  await fs.writeFile(p("name\nwith\nnewlines"), "newlines\n");
  await fs.writeFile(p("ünïcödé-日本語-😀.txt"), "unicode\n");
  // A cache directory (CACHEDIR.TAG): Kopia's default would store it empty.
  await fs.mkdir(p("cache"));
  await fs.writeFile(
    p("cache", "CACHEDIR.TAG"),
    "Signature: 8a477f597d28d172789f06886806bc55\n# a cache directory, kept by kopi-docka\n",
  );
  await fs.writeFile(p("cache", "cached.bin"), "cached data\n");
  // Empty things and a deep path.
  await fs.mkdir(p("empty-dir"));
  await fs.mkdir(p("nested-empty", "a", "b"), { recursive: true });
  await fs.writeFile(p("zero-bytes"), "");
  const deep = p(...Array.from({ length: 30 }, (_, i) => `level-${i}-${"d".repeat(20)}`));
  await fs.mkdir(deep, { recursive: true });
  await fs.writeFile(path.join(deep, "deep-file.txt"), "deep\n");
  // Many small files.
  const count = options.smallFiles ?? 20_000;
  for (let d = 0; d < Math.ceil(count / 500); d++) {
    const sub = p("small", `d${String(d).padStart(3, "0")}`);
    await fs.mkdir(sub, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let f = d * 500; f < Math.min(count, (d + 1) * 500); f++)
      writes.push(fs.writeFile(path.join(sub, `f${f}.txt`), `file ${f}\n`));
    await Promise.all(writes);
  }
  // One large file.
  const largeBytes = options.largeBytes ?? 1024 * 1024 * 1024;
  const large = await fs.open(p("large.bin"), "w");
  const stream = pseudoRandom("fidelity-large");
  for (let written = 0; written < largeBytes; ) {
    const n = Math.min(8 * 1024 * 1024, largeBytes - written);
    await large.write(stream(n));
    written += n;
  }
  await large.close();
  // Distinct old times on a few entries.
  const when = new Date("2023-05-06T07:08:09.123Z");
  await fs.utimes(p("target.txt"), when, when);
  await fs.utimes(p("nested-empty", "a"), when, when);
  await fs.utimes(p("hard-a"), when, when);
}

export interface FidelityEntry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  mtimeUs: string;
  size?: number;
  sha256?: string;
  link?: string;
  rdev?: number;
  /** Other paths in the tree that share this entry's inode. */
  sameInode?: string[];
  xattrs?: Record<string, string>;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** All xattrs of all entries below root (symlinks not followed), keyed by relative path. */
async function xattrsOf(root: string): Promise<Map<string, Record<string, string>>> {
  const { stdout } = await run(
    "getfattr",
    ["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", root],
    {
      maxBuffer: 256 * 1024 * 1024,
    },
  ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
  const out = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("# file: ")) {
      const abs = line
        .slice(8)
        .replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
      const decoded = Buffer.from(abs, "latin1").toString("utf8");
      current = {};
      out.set(path.relative(root, decoded) || ".", current);
    } else if (current && line.includes("=")) {
      const eq = line.indexOf("=");
      current[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return out;
}

export async function fidelityManifest(
  root: string,
  options: { hash?: boolean } = {},
): Promise<Record<string, FidelityEntry>> {
  const out: Record<string, FidelityEntry> = {};
  const inodes = new Map<bigint, string[]>();
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === "." ? root : path.join(root, rel);
    const st = await fs.lstat(abs, { bigint: true });
    const type = st.isFile()
      ? "file"
      : st.isDirectory()
        ? "dir"
        : st.isSymbolicLink()
          ? "symlink"
          : st.isFIFO()
            ? "fifo"
            : st.isCharacterDevice()
              ? "char"
              : st.isBlockDevice()
                ? "block"
                : "socket";
    const entry: FidelityEntry = {
      type,
      mode: (Number(st.mode) & 0o7777).toString(8),
      uid: Number(st.uid),
      gid: Number(st.gid),
      // Symlink times are not compared: neither Kopia nor tar restores them everywhere.
      mtimeUs: type === "symlink" ? "" : (st.mtimeNs / 1000n).toString(),
    };
    if (type === "file") {
      entry.size = Number(st.size);
      if (options.hash !== false) entry.sha256 = await sha256(abs);
      if (st.nlink > 1n) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    }
    if (type === "symlink") entry.link = await fs.readlink(abs);
    if (type === "char" || type === "block") entry.rdev = Number(st.rdev);
    out[rel] = entry;
    if (type === "dir") {
      for (const name of (await fs.readdir(abs)).sort())
        await walk(rel === "." ? name : path.join(rel, name));
    }
  };
  await walk(".");
  for (const paths of inodes.values()) {
    for (const rel of paths) {
      const entry = out[rel];
      if (entry) entry.sameInode = paths.filter((p) => p !== rel).sort();
    }
  }
  for (const [rel, attrs] of await xattrsOf(root)) {
    const entry = out[rel];
    if (entry && Object.keys(attrs).length > 0) entry.xattrs = attrs;
  }
  return out;
}
