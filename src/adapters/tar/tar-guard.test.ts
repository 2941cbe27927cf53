import { type ExecFileSyncOptions, execFileSync, spawn } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tarExtractArgs } from "./gnu-tar.js";
import { checkTarMemberPath, createTarGuard, UnsafeTarMemberError } from "./tar-guard.js";

const TAR = "/usr/bin/tar";

let tmp: string;

beforeEach(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "kd-targuard-")));
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Streaming helpers

/** A small deterministic PRNG (mulberry32), so that a failing chunking can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The input cut into chunks of random sizes from 1 to maxChunk. */
function chunked(input: Buffer, maxChunk: number, seed: number): Buffer[] {
  const random = prng(seed);
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < input.length; ) {
    const size = Math.min(input.length - pos, 1 + Math.floor(random() * maxChunk));
    chunks.push(input.subarray(pos, pos + size));
    pos += size;
  }
  return chunks;
}

interface GuardRun {
  output: Buffer;
  error: unknown;
}

async function runGuard(input: Buffer, maxChunk: number, seed = 1): Promise<GuardRun> {
  const output: Buffer[] = [];
  let error: unknown;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk);
      callback();
    },
  });
  try {
    await pipeline(Readable.from(chunked(input, maxChunk, seed)), createTarGuard(), sink);
  } catch (caught) {
    error = caught;
  }
  return { output: Buffer.concat(output), error };
}

async function expectPassedUnchanged(input: Buffer, maxChunks: readonly number[]): Promise<void> {
  for (const [i, maxChunk] of maxChunks.entries()) {
    const { output, error } = await runGuard(input, maxChunk, i + 1);
    expect(error).toBeUndefined();
    expect(output.length).toBe(input.length);
    expect(Buffer.compare(output, input)).toBe(0);
  }
}

/**
 * The guard refuses the member whose first header (its own, or the L/K/x before it) starts at
 * badOffset, in every chunking, and what it forwarded is an unchanged prefix that ends before it.
 */
async function expectRefused(
  input: Buffer,
  badOffset: number,
  member: string,
  reason: string | RegExp,
): Promise<UnsafeTarMemberError> {
  let last: UnsafeTarMemberError | undefined;
  for (const [i, maxChunk] of [1, 5, 512, 1000, input.length].entries()) {
    const { output, error } = await runGuard(input, maxChunk, i + 7);
    expect(error).toBeInstanceOf(UnsafeTarMemberError);
    const refusal = error as UnsafeTarMemberError;
    expect(refusal.member).toBe(member);
    if (typeof reason === "string") expect(refusal.reason).toBe(reason);
    else expect(refusal.reason).toMatch(reason);
    expect(refusal.message).toBe(`refusing tar member ${JSON.stringify(member)}: ${refusal.reason}`);
    expect(output.length).toBeLessThanOrEqual(badOffset);
    expect(Buffer.compare(output, input.subarray(0, output.length))).toBe(0);
    last = refusal;
  }
  return last as UnsafeTarMemberError;
}

// ---------------------------------------------------------------------------------------------
// A header builder for archives GNU tar will not write

interface HeaderSpec {
  name: string;
  /** The typeflag character; "0" when left out. */
  type?: string;
  size?: number;
  linkname?: string;
  mode?: number;
  /** ustar prefix field (offset 345). */
  prefix?: string;
  /** "ustar" is POSIX ("ustar\0" "00"), "gnu" is GNU ("ustar  \0"). */
  magic?: "ustar" | "gnu";
  /** Raw bytes for the 12-byte size field, overriding size (e.g. base-256). */
  sizeField?: Buffer;
  /** Raw bytes written at an offset after everything else, before the checksum. */
  patch?: { offset: number; bytes: Buffer };
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** A 512-byte header, checksum computed as ustar says: the sum of all bytes, chksum as blanks. */
function header(spec: HeaderSpec): Buffer {
  const block = Buffer.alloc(512);
  block.write(spec.name, 0, 100, "utf8");
  block.write(octal(spec.mode ?? 0o644, 8), 100, "latin1");
  block.write(octal(0, 8), 108, "latin1");
  block.write(octal(0, 8), 116, "latin1");
  block.write(octal(spec.size ?? 0, 12), 124, "latin1");
  block.write(octal(1_700_000_000, 12), 136, "latin1");
  block.write(spec.type ?? "0", 156, "latin1");
  block.write(spec.linkname ?? "", 157, 100, "utf8");
  if ((spec.magic ?? "ustar") === "ustar") block.write("ustar\u000000", 257, "latin1");
  else block.write("ustar  \0", 257, "latin1");
  block.write("root", 265, "latin1");
  block.write("root", 297, "latin1");
  if (spec.prefix !== undefined) block.write(spec.prefix, 345, 155, "utf8");
  spec.sizeField?.copy(block, 124);
  spec.patch?.bytes.copy(block, spec.patch.offset);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

/** A member: its header and its data padded to whole blocks. */
function entry(spec: HeaderSpec, data: Buffer | string = ""): Buffer {
  const bytes = Buffer.from(data);
  return Buffer.concat([header({ size: bytes.length, ...spec }), pad(bytes)]);
}

/** PAX records, each "%d key=value\n" with the length counting itself. */
function paxRecords(records: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts = records.map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (Buffer.byteLength(`${length}${body}`) !== length) length++;
    return Buffer.from(`${length}${body}`);
  });
  return Buffer.concat(parts);
}

function paxHeader(records: ReadonlyArray<readonly [string, string]>, type = "x"): Buffer {
  return entry({ name: "./PaxHeaders/member", type }, paxRecords(records));
}

function gnuLong(type: "L" | "K", value: string): Buffer {
  return entry({ name: "././@LongLink", type, magic: "gnu" }, `${value}\0`);
}

const END = Buffer.alloc(1024);
const QUIET: ExecFileSyncOptions = { stdio: ["ignore", "ignore", "pipe"] };

// ---------------------------------------------------------------------------------------------
// Real archives

async function makeTree(root: string, options: { longNames: boolean; bigFile: boolean }): Promise<void> {
  await fs.mkdir(path.join(root, "dir", "sub"), { recursive: true });
  await fs.mkdir(path.join(root, "dir", "empty"));
  await fs.writeFile(path.join(root, "empty"), "");
  await fs.writeFile(path.join(root, "one"), "1");
  for (const size of [511, 512, 513, 1024, 5000])
    await fs.writeFile(path.join(root, `b${size}`), "x".repeat(size));
  // Data that looks like tar headers, with names the guard would refuse.
  await fs.writeFile(
    path.join(root, "dir", "sub", "fake.tar"),
    Buffer.concat([entry({ name: "../evil" }, "evil"), entry({ name: "/etc/evil" })]),
  );
  if (options.bigFile) {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    const random = prng(42);
    for (let i = 0; i < big.length; i++) big[i] = Math.floor(random() * 256);
    await fs.writeFile(path.join(root, "big.bin"), big);
  }
  await fs.symlink("dir/sub/fake.tar", path.join(root, "rel-link"));
  await fs.symlink("/etc/hostname", path.join(root, "abs-link"));
  await fs.symlink("../outside/whatever", path.join(root, "dotdot-link"));
  await fs.link(path.join(root, "one"), path.join(root, "hard-one"));
  execFileSync("mkfifo", [path.join(root, "fifo")]);
  // PAX records with binary values (NUL, "=", newline), where the tools and the file system allow.
  try {
    execFileSync("setfattr", ["-n", "user.binary", "-v", "0x00ff3d0a000a", path.join(root, "one")], QUIET);
    execFileSync("setfacl", ["-m", "u:1234:rw", path.join(root, "b512")], QUIET);
  } catch {
    // Coverage only: the archives are checked either way.
  }
  // Deeper than 100 bytes with short components: ustar splits it into prefix and name.
  const deep = path.join(root, "deep", "d".repeat(60), "e".repeat(60));
  await fs.mkdir(deep, { recursive: true });
  await fs.writeFile(path.join(deep, "file.txt"), "deep");
  if (options.longNames) {
    // 150 characters in one component: GNU 'L' / PAX path records, no ustar.
    const long = "f".repeat(150);
    await fs.writeFile(path.join(deep, long), "long");
    await fs.symlink(long, path.join(deep, "long-link"));
    await fs.symlink(`t${"/target".repeat(20)}`, path.join(root, "link-with-long-target"));
    await fs.link(path.join(deep, long), path.join(root, "hard-to-long"));
  }
}

function createArchive(root: string, flags: readonly string[]): Buffer {
  const file = path.join(tmp, `archive-${Math.random().toString(36).slice(2)}.tar`);
  execFileSync(TAR, ["-cf", file, ...flags, "-C", root, "."], QUIET);
  return readFileSync(file);
}

/** Extracts through the guard into dest with the restore's flags, as gnu-tar.ts wires it. */
async function extractThroughGuard(
  input: Buffer,
  dest: string,
): Promise<{ code: number | null; error: unknown; stderr: string }> {
  const child = spawn(TAR, tarExtractArgs(dest).slice(1), { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.stdin.on("error", () => {});
  let error: unknown;
  try {
    await pipeline(Readable.from(chunked(input, 4096, 3)), createTarGuard(), child.stdin);
  } catch (caught) {
    error = caught;
    child.stdin.destroy();
  }
  return { code: await exited, error, stderr };
}

interface TreeEntry {
  kind: "dir" | "file" | "symlink" | "other";
  content?: string;
  ino?: number;
}

async function readTree(root: string): Promise<Map<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>();
  async function walk(dir: string): Promise<void> {
    for (const name of (await fs.readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const relative = path.relative(root, full);
      const stat = await fs.lstat(full);
      if (stat.isDirectory()) {
        tree.set(relative, { kind: "dir" });
        await walk(full);
      } else if (stat.isSymbolicLink()) {
        tree.set(relative, { kind: "symlink", content: await fs.readlink(full) });
      } else if (stat.isFile()) {
        const content = (await fs.readFile(full)).toString("base64");
        tree.set(relative, { kind: "file", content, ino: stat.ino });
      } else {
        tree.set(relative, { kind: "other" });
      }
    }
  }
  await walk(root);
  return tree;
}

// ---------------------------------------------------------------------------------------------

describe("checkTarMemberPath", () => {
  const none = new Set<string>();

  it("allows relative paths inside the target, the root, and dots that are not '..'", () => {
    for (const ok of [".", "./", "a", "./a", "././a/b/", "a//b/./c", "..a", "a..", "a/...", ".hidden/x"])
      expect(checkTarMemberPath(ok, none)).toBeUndefined();
  });

  it("refuses absolute paths and '..' anywhere", () => {
    expect(checkTarMemberPath("/etc/passwd", none)).toBe("it is an absolute path");
    expect(checkTarMemberPath("/", none)).toBe("it is an absolute path");
    for (const bad of ["..", "../evil", "./../evil", "a/../../evil", "a/../b", "a/b/..", "a/..//b"])
      expect(checkTarMemberPath(bad, none)).toBe("it leaves the target directory");
  });

  it("refuses paths through a known symlink, however the path is spelled", () => {
    const symlinks = new Set(["link", "a/inner"]);
    for (const bad of ["link/evil", "./link/evil", "link//evil", "link/./x/y"])
      expect(checkTarMemberPath(bad, symlinks)).toBe("it goes through the symlink link");
    expect(checkTarMemberPath("a/inner/x", symlinks)).toBe("it goes through the symlink a/inner");
    // The symlink itself, and lookalike names, are not "through" it.
    for (const ok of ["link", "./link", "./link/", "linkx/evil", "a/innerx/y", "a/x", "x/link/y"])
      expect(checkTarMemberPath(ok, symlinks)).toBeUndefined();
  });
});

describe("createTarGuard on archives written by GNU tar", () => {
  const formats: ReadonlyArray<[string, readonly string[]]> = [
    ["gnu", ["--format=gnu"]],
    ["pax", ["--format=pax"]],
    [
      "the writer's own flags (posix, with xattrs and ACLs)",
      ["--numeric-owner", "--xattrs", "--acls", "--sort=name"],
    ],
  ];

  for (const [label, flags] of formats) {
    it(`passes ${label} archives through byte for byte, in any chunking`, async () => {
      const root = path.join(tmp, "src");
      await makeTree(root, { longNames: true, bigFile: true });
      const archive = createArchive(root, flags);
      await expectPassedUnchanged(archive, [700, 70_000, archive.length]);
    });

    it(`passes a small ${label} archive fed one byte at a time`, async () => {
      const root = path.join(tmp, "src");
      await makeTree(root, { longNames: true, bigFile: false });
      const archive = createArchive(root, flags);
      await expectPassedUnchanged(archive, [1, 3]);
    });
  }

  it("passes sparse files as the writer stores them (PAX sparse 1.0) and tar extracts them sparse", async () => {
    const root = path.join(tmp, "src");
    await fs.mkdir(root, { recursive: true });
    const handle = await fs.open(path.join(root, "sparse.img"), "w");
    await handle.write(Buffer.alloc(4096, 7), 0, 4096, 5 * 1024 * 1024);
    await handle.truncate(16 * 1024 * 1024);
    await handle.close();
    const archive = createArchive(root, ["--numeric-owner", "--xattrs", "--acls", "--sparse", "--sort=name"]);
    expect(archive.includes(Buffer.from("GNU.sparse.major=1"))).toBe(true);
    await expectPassedUnchanged(archive, [1, 700, archive.length]);
    const dest = path.join(tmp, "dest-sparse");
    await fs.mkdir(dest);
    const result = await extractThroughGuard(archive, dest);
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(0);
    const st = await fs.stat(path.join(dest, "sparse.img"));
    expect(st.size).toBe(16 * 1024 * 1024);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
  });

  it("passes ustar archives (prefix + name for deep paths)", async () => {
    const root = path.join(tmp, "src");
    await makeTree(root, { longNames: false, bigFile: false });
    const archive = createArchive(root, ["--format=ustar"]);
    // The deep file's header splits its path into prefix and name.
    expect(archive.includes(Buffer.from(`./deep/${"d".repeat(60)}\0`))).toBe(true);
    await expectPassedUnchanged(archive, [1, 700, archive.length]);
  });

  it("cannot write a 150-character file name as ustar (so that format has no long-name test)", async () => {
    const root = path.join(tmp, "src");
    await makeTree(root, { longNames: true, bigFile: false });
    expect(() => createArchive(root, ["--format=ustar"])).toThrow();
  });

  it("passes the GNU long names and PAX path records it writes", async () => {
    const root = path.join(tmp, "src");
    await makeTree(root, { longNames: true, bigFile: false });
    const gnu = createArchive(root, ["--format=gnu"]);
    const posix = createArchive(root, ["--format=pax"]);
    expect(gnu.includes(Buffer.from("././@LongLink"))).toBe(true);
    expect(
      posix.includes(Buffer.from(` path=./deep/${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(150)}\n`)),
    ).toBe(true);
    await expectPassedUnchanged(gnu, [13]);
    await expectPassedUnchanged(posix, [13]);
  });

  it("passes an archive through into tar -x, which extracts the same tree", async () => {
    const root = path.join(tmp, "src");
    await makeTree(root, { longNames: true, bigFile: true });
    const archive = createArchive(root, ["--numeric-owner", "--xattrs", "--acls", "--sort=name"]);
    const dest = path.join(tmp, "dest");
    await fs.mkdir(dest);
    const result = await extractThroughGuard(archive, dest);
    expect(result.error).toBeUndefined();
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);

    const want = await readTree(root);
    const got = await readTree(dest);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, entryWanted] of want) {
      const entryGot = got.get(name);
      expect(entryGot?.kind, name).toBe(entryWanted.kind);
      expect(entryGot?.content, name).toBe(entryWanted.content);
    }
    expect(got.get("hard-one")?.ino).toBe(got.get("one")?.ino);
    expect(got.get("hard-to-long")?.ino).toBe(
      got.get(path.join("deep", "d".repeat(60), "e".repeat(60), "f".repeat(150)))?.ino,
    );
  });

  it("extracts archives of any record size (the reader's 1 MiB records), and fails a truncated one", async () => {
    const root = path.join(tmp, "src");
    await makeTree(root, { longNames: true, bigFile: true });
    const want = await readTree(root);
    // 512 bytes, GNU tar's default 10 KiB (the older tool's archives and ours), 1 MiB.
    for (const records of ["--blocking-factor=1", "--blocking-factor=20", "--blocking-factor=2048"]) {
      const archive = createArchive(root, ["--numeric-owner", records]);
      const dest = path.join(tmp, `dest${records.split("=")[1]}`);
      await fs.mkdir(dest);
      const result = await extractThroughGuard(archive, dest);
      expect(result.code, records).toBe(0);
      expect(result.stderr, records).toBe("");
      const got = await readTree(dest);
      expect([...got.keys()], records).toEqual([...want.keys()]);
      for (const [name, entry] of want)
        expect(got.get(name)?.content, `${records} ${name}`).toBe(entry.content);
    }
    const archive = createArchive(root, ["--numeric-owner"]);
    const dest = path.join(tmp, "truncated");
    await fs.mkdir(dest);
    const result = await extractThroughGuard(archive.subarray(0, Math.floor(archive.length / 2)), dest);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unexpected EOF in archive/);
  });
});

describe("createTarGuard on crafted archives", () => {
  const ok = entry({ name: "./ok.txt" }, "fine\n");
  const root = entry({ name: "./", type: "5", mode: 0o755 });

  it("passes a crafted harmless archive, including the root as '.' and './'", async () => {
    const archive = Buffer.concat([
      entry({ name: ".", type: "5" }),
      root,
      ok,
      entry({ name: "dir/", type: "5" }),
      entry({ name: "dir/link", type: "2", linkname: "/etc" }),
      entry({ name: "dir/link", type: "2", linkname: "../../anywhere" }),
      entry({ name: "hard", type: "1", linkname: "./ok.txt" }),
      END,
    ]);
    await expectPassedUnchanged(archive, [1, 100, archive.length]);
  });

  it("does not read file data as headers, whatever it holds", async () => {
    const fake = Buffer.concat([entry({ name: "../evil" }, "x"), entry({ name: "/etc/evil", type: "2" })]);
    const archive = Buffer.concat([entry({ name: "inner.tar" }, fake), ok, END]);
    await expectPassedUnchanged(archive, [1, 512, archive.length]);
  });

  it("refuses an absolute member written by tar -P", async () => {
    const secret = path.join(tmp, "abs", "secret.txt");
    await fs.mkdir(path.dirname(secret));
    await fs.writeFile(secret, "s");
    const file = path.join(tmp, "abs.tar");
    execFileSync(TAR, ["-cf", file, "-P", secret]);
    const archive = await fs.readFile(file);
    await expectRefused(archive, 0, secret, "it is an absolute path");
  });

  it("refuses '..' members written by tar --transform", async () => {
    const src = path.join(tmp, "src");
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, "a"), "a");
    await fs.writeFile(path.join(src, "x"), "x");
    const file = path.join(tmp, "transform.tar");
    execFileSync(TAR, [
      "-cf",
      file,
      "--format=gnu",
      "--transform=s,^\\./x$,a/../../evil,",
      "-C",
      src,
      "./a",
      "./x",
    ]);
    const archive = await fs.readFile(file);
    await expectRefused(archive, 1024, "a/../../evil", "it leaves the target directory");
  });

  for (const name of ["../evil", "a/../../evil", "./../evil"]) {
    it(`refuses the crafted member ${name}`, async () => {
      const archive = Buffer.concat([root, ok, entry({ name }, "evil"), END]);
      await expectRefused(archive, root.length + ok.length, name, "it leaves the target directory");
    });
  }

  it("refuses the crafted member /etc/evil", async () => {
    const archive = Buffer.concat([root, ok, entry({ name: "/etc/evil" }, "evil"), END]);
    await expectRefused(archive, root.length + ok.length, "/etc/evil", "it is an absolute path");
  });

  it("refuses a member through an earlier symlink, however it is spelled", async () => {
    const link = entry({ name: "link", type: "2", linkname: "/tmp" });
    for (const name of ["link/evil", "./link/evil", "link//evil", "link/./evil"]) {
      const archive = Buffer.concat([root, ok, link, entry({ name }, "evil"), END]);
      await expectRefused(
        archive,
        root.length + ok.length + link.length,
        name,
        "it goes through the symlink link",
      );
    }
  });

  it("refuses a symlink, directory or hard link through an earlier symlink", async () => {
    const link = entry({ name: "./d/link", type: "2", linkname: "." });
    for (const spec of [
      { name: "d/link/inner", type: "2", linkname: "/etc" },
      { name: "d/link/dir/", type: "5" },
      { name: "d/link/h", type: "1", linkname: "ok.txt" },
    ]) {
      const archive = Buffer.concat([ok, link, entry(spec), END]);
      await expectRefused(archive, ok.length + link.length, spec.name, "it goes through the symlink d/link");
    }
  });

  it("refuses a member that would replace a symlink, but lets a symlink replace one", async () => {
    const link = entry({ name: "link", type: "2", linkname: "/etc" });
    const relinked = entry({ name: "./link", type: "2", linkname: "elsewhere" });
    await expectPassedUnchanged(Buffer.concat([link, relinked, END]), [7]);
    for (const spec of [
      { name: "link/", type: "5" },
      { name: "./link" },
      { name: "link", type: "1", linkname: "ok.txt" },
    ]) {
      const archive = Buffer.concat([ok, link, relinked, entry(spec), END]);
      await expectRefused(
        archive,
        ok.length + link.length + relinked.length,
        spec.name,
        "it would replace the symlink link",
      );
    }
  });

  it("refuses hard links to '..', absolute paths, or through symlinks", async () => {
    const link = entry({ name: "link", type: "2", linkname: "/etc" });
    const cases: Array<[string, string]> = [
      ["../x", 'it is a hard link to "../x", and that leaves the target directory'],
      ["a/../../x", 'it is a hard link to "a/../../x", and that leaves the target directory'],
      ["/etc/passwd", 'it is a hard link to "/etc/passwd", and that is an absolute path'],
      ["link/passwd", 'it is a hard link to "link/passwd", and that goes through the symlink link'],
    ];
    for (const [target, reason] of cases) {
      const archive = Buffer.concat([ok, link, entry({ name: "h", type: "1", linkname: target }), END]);
      await expectRefused(archive, ok.length + link.length, "h", reason);
    }
  });

  it("treats a hard link to a symlink as a symlink", async () => {
    const link = entry({ name: "link", type: "2", linkname: "/etc" });
    const hard = entry({ name: "alias", type: "1", linkname: "./link" });
    await expectPassedUnchanged(Buffer.concat([link, hard, END]), [7]);
    const archive = Buffer.concat([link, hard, entry({ name: "alias/passwd" }, "x"), END]);
    await expectRefused(
      archive,
      link.length + hard.length,
      "alias/passwd",
      "it goes through the symlink alias",
    );
  });

  it("refuses a PAX path=../evil that overrides a harmless ustar name, holding back the x header", async () => {
    const x = paxHeader([
      ["mtime", "1700000000.5"],
      ["path", "../evil"],
    ]);
    const archive = Buffer.concat([root, ok, x, entry({ name: "harmless" }, "evil"), END]);
    await expectRefused(archive, root.length + ok.length, "../evil", "it leaves the target directory");
  });

  it("reads a PAX path as tar does: up to a NUL, the last record winning", async () => {
    const nul = paxHeader([["path", "../evil\0harmless"]]);
    await expectRefused(
      Buffer.concat([ok, nul, entry({ name: "harmless" }), END]),
      ok.length,
      "../evil",
      /leaves/,
    );
    const twice = paxHeader([
      ["path", "harmless"],
      ["path", "/etc/evil"],
    ]);
    await expectRefused(
      Buffer.concat([ok, twice, entry({ name: "x" }), END]),
      ok.length,
      "/etc/evil",
      /absolute/,
    );
    const fine = paxHeader([
      ["path", "../evil"],
      ["path", "fine"],
    ]);
    await expectPassedUnchanged(Buffer.concat([ok, fine, entry({ name: "../evil" }), END]), [1, 600]);
  });

  it("refuses a PAX linkpath that makes a hard link leave the target", async () => {
    const x = paxHeader([["linkpath", "../../etc/shadow"]]);
    const archive = Buffer.concat([ok, x, entry({ name: "h", type: "1", linkname: "ok.txt" }), END]);
    await expectRefused(archive, ok.length, "h", /hard link to "..\/..\/etc\/shadow"/);
  });

  it("refuses a GNU long name ../evil, and a long link ../x", async () => {
    const longName = gnuLong("L", "../evil");
    const archive = Buffer.concat([
      root,
      ok,
      longName,
      entry({ name: "harmless", magic: "gnu" }, "evil"),
      END,
    ]);
    await expectRefused(archive, root.length + ok.length, "../evil", "it leaves the target directory");

    const longLink = gnuLong("K", "../x");
    const hard = entry({ name: "h", type: "1", linkname: "ok.txt", magic: "gnu" });
    await expectRefused(Buffer.concat([ok, longLink, hard, END]), ok.length, "h", /hard link to "..\/x"/);
  });

  it("uses a GNU long name longer than a block, and long symlink targets are fine", async () => {
    const deep = `${"d/".repeat(400)}file`;
    const archive = Buffer.concat([
      gnuLong("L", deep),
      entry({ name: deep.slice(0, 99), magic: "gnu" }, "x"),
      gnuLong("K", `/${"t".repeat(700)}`),
      entry({ name: "long-target", type: "2", magic: "gnu" }),
      END,
    ]);
    await expectPassedUnchanged(archive, [1, 511, 513]);
    const evil = `${"d/".repeat(400)}../../../../${"../".repeat(400)}evil`;
    await expectRefused(
      Buffer.concat([gnuLong("L", evil), entry({ name: "x", magic: "gnu" }), END]),
      0,
      evil,
      /leaves/,
    );
  });

  it("joins the ustar prefix with the name, but not in GNU headers (their prefix area is atime)", async () => {
    const prefixed = entry({ name: "evil", prefix: "a/../.." }, "x");
    await expectRefused(Buffer.concat([ok, prefixed, END]), ok.length, "a/../../evil", /leaves/);
    const gnu = entry({ name: "fine", prefix: "a/../..", magic: "gnu" }, "x");
    await expectPassedUnchanged(Buffer.concat([ok, gnu, END]), [1, 700]);
  });

  it("skips data sized by a PAX size record and by a base-256 size field", async () => {
    const evilBlock = entry({ name: "../evil" });
    const data = Buffer.concat([evilBlock, Buffer.alloc(488, 7)]);
    const x = paxHeader([["size", String(data.length)]]);
    // The ustar size says 0: only the PAX record says the data is there.
    const withPax = Buffer.concat([x, header({ name: "sized", size: 0 }), pad(data), ok, END]);
    await expectPassedUnchanged(withPax, [1, 100, 4096]);
    await expectRefused(
      Buffer.concat([x, header({ name: "sized", size: 0 }), pad(data), evilBlock, END]),
      x.length + 512 + pad(data).length,
      "../evil",
      /leaves/,
    );

    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256.writeUInt32BE(data.length, 8);
    const withBinary = Buffer.concat([header({ name: "binary", sizeField: base256 }), pad(data), ok, END]);
    await expectPassedUnchanged(withBinary, [1, 100, 4096]);
  });

  it("gives hard links no data unless a PAX size says so, as GNU tar does", async () => {
    // GNU tar ignores a hard link's size field: the next block is a header.
    const hard = header({ name: "h", type: "1", linkname: "ok.txt", size: 1024 });
    await expectRefused(
      Buffer.concat([ok, hard, entry({ name: "../evil" }), END]),
      ok.length + 512,
      "../evil",
      /leaves/,
    );
  });

  it("refuses data on member types whose data GNU tar would not read", async () => {
    for (const spec of [
      { name: "link", type: "2", linkname: "x", size: 512 },
      { name: "dir", type: "5", size: 512 },
      { name: "dir/", type: "0", size: 512 },
      { name: "fifo", type: "6", size: 512 },
    ]) {
      const archive = Buffer.concat([ok, header(spec), Buffer.alloc(512), END]);
      await expectRefused(archive, ok.length, spec.name, /claims 512 bytes of data/);
    }
    const x = paxHeader([["size", "512"]]);
    await expectRefused(
      Buffer.concat([ok, x, header({ name: "h", type: "1", linkname: "ok.txt" }), Buffer.alloc(512), END]),
      ok.length,
      "h",
      /claims 512 bytes of data/,
    );
  });

  it("refuses what GNU tar could read differently: bad checksums, sparse files, layout in global headers", async () => {
    const broken = header({ name: "x" });
    broken[0] = "y".charCodeAt(0);
    await expectRefused(Buffer.concat([ok, broken, END]), ok.length, "y", /checksum/);

    await expectRefused(
      Buffer.concat([ok, entry({ name: "s", type: "S", magic: "gnu" }), END]),
      ok.length,
      "s",
      /sparse/,
    );
    const sparsePax = paxHeader([
      ["GNU.sparse.major", "1"],
      ["GNU.sparse.name", "../evil"],
    ]);
    // A PAX sparse member is extracted under GNU.sparse.name: that name is checked.
    await expectRefused(
      Buffer.concat([ok, sparsePax, entry({ name: "s" }), END]),
      ok.length,
      "../evil",
      /leaves/,
    );
    const unknownSparse = paxHeader([["GNU.sparse.future", "1"]]);
    await expectRefused(
      Buffer.concat([ok, unknownSparse, entry({ name: "s" }), END]),
      ok.length,
      "./PaxHeaders/member",
      /unknown sparse key/,
    );

    const global = paxHeader([["path", "../evil"]], "g");
    await expectRefused(
      Buffer.concat([ok, global, entry({ name: "x" }), END]),
      ok.length,
      "./PaxHeaders/member",
      "its global PAX header sets path",
    );
    const harmlessGlobal = paxHeader([["comment", "made by hand"]], "g");
    await expectPassedUnchanged(Buffer.concat([harmlessGlobal, ok, END]), [1, 700]);

    const negative = Buffer.alloc(12, 0xff);
    await expectRefused(
      Buffer.concat([ok, header({ name: "neg", sizeField: negative }), END]),
      ok.length,
      "neg",
      /size/,
    );
    const malformed = entry({ name: "./PaxHeaders/m", type: "x" }, "12 path=x\n");
    await expectRefused(
      Buffer.concat([ok, malformed, entry({ name: "m" }), END]),
      ok.length,
      "./PaxHeaders/m",
      /malformed/,
    );
    const twoPax = Buffer.concat([paxHeader([["mtime", "1"]]), paxHeader([["mtime", "2"]])]);
    await expectRefused(
      Buffer.concat([ok, twoPax, entry({ name: "m" }), END]),
      ok.length,
      "./PaxHeaders/member",
      /two PAX/,
    );
  });

  it("ignores everything after two zero blocks, but checks on after a lone one", async () => {
    const after = Buffer.concat([entry({ name: "../evil" }), Buffer.from("garbage")]);
    await expectPassedUnchanged(Buffer.concat([ok, END, after]), [1, 300, 5000]);
    const lone = Buffer.concat([ok, Buffer.alloc(512), entry({ name: "../evil" }), END]);
    await expectRefused(lone, ok.length + 512, "../evil", /leaves/);
  });

  it("ends normally on a truncated archive, forwarding only what it checked", async () => {
    const big = entry({ name: "big" }, "z".repeat(3000));
    const full = Buffer.concat([ok, big, entry({ name: "last" }, "l"), END]);
    // Cut inside big's data: all of it up to the cut is forwarded.
    const inData = full.subarray(0, ok.length + 512 + 1000);
    await expectPassedUnchanged(inData, [1, 100, inData.length]);
    // Cut inside the last header: that partial header is held back.
    const inHeader = full.subarray(0, ok.length + big.length + 300);
    for (const maxChunk of [1, 100, inHeader.length]) {
      const { output, error } = await runGuard(inHeader, maxChunk);
      expect(error).toBeUndefined();
      expect(Buffer.compare(output, full.subarray(0, ok.length + big.length))).toBe(0);
    }
    // Cut after a PAX header, before its member: the PAX header is held back too.
    const x = paxHeader([["path", "somewhere"]]);
    const inPax = Buffer.concat([ok, x]);
    const { output, error } = await runGuard(inPax, 50);
    expect(error).toBeUndefined();
    expect(Buffer.compare(output, ok)).toBe(0);
  });

  it("stops an attack in a real tar -x before anything lands outside the target", async () => {
    const target = path.join(tmp, "target");
    const outside = path.join(tmp, "outside");
    await fs.mkdir(target);
    await fs.mkdir(outside);
    const link = entry({ name: "./link", type: "2", linkname: outside });
    const attacks: Buffer[] = [
      Buffer.concat([root, ok, link, entry({ name: "./link/evil" }, "pwned"), END]),
      Buffer.concat([root, ok, entry({ name: "../evil" }, "pwned"), END]),
      Buffer.concat([
        root,
        ok,
        paxHeader([["path", "../outside/evil"]]),
        entry({ name: "harmless" }, "pwned"),
        END,
      ]),
      Buffer.concat([
        root,
        ok,
        gnuLong("L", `${outside}/evil`),
        entry({ name: "harmless", magic: "gnu" }, "pwned"),
        END,
      ]),
      Buffer.concat([root, ok, entry({ name: "h", type: "1", linkname: `${outside}/victim` }), END]),
    ];
    await fs.writeFile(path.join(outside, "victim"), "untouched");
    for (const attack of attacks) {
      await fs.rm(target, { recursive: true, force: true });
      await fs.mkdir(target);
      const result = await extractThroughGuard(attack, target);
      expect(result.error).toBeInstanceOf(UnsafeTarMemberError);
      expect(await fs.readdir(outside)).toEqual(["victim"]);
      expect(await fs.readFile(path.join(outside, "victim"), "utf8")).toBe("untouched");
      expect((await fs.readdir(tmp)).sort()).toEqual(["outside", "target"]);
      // What tar itself makes of the cut-off stream does not matter: the refusal fails the restore.
    }
  });
});
