import { execFile } from "node:child_process";
import { type BigIntStats, promises as fs } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  emptyFsMetadata,
  FS_METADATA_KIND,
  type FsMetadata,
  type FsMetadataV1,
} from "../../domain/fs-metadata.js";
import {
  applyFsMetadata,
  applyFsMetadataFull,
  collectFsMetadata,
  escapeOctal,
  parseFsMetadata,
  parseGetfattrDump,
  surveyTree,
  unescapeOctal,
} from "./metadata.js";

const exec = promisify(execFile);

let tmp: string;

beforeEach(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "kd-meta-")));
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

// Times whose fractions are exact in binary floating point, so that setting them is exact.
const T = {
  root: 1_600_000_000.5,
  a: 1_600_000_100.25,
  ab: 1_600_000_200.125,
  c: 1_600_000_300,
};
const ns = (seconds: number) => (BigInt(Math.round(seconds * 1e6)) * 1000n).toString();

async function mtimeNs(p: string): Promise<string> {
  return (await fs.lstat(p, { bigint: true })).mtimeNs.toString();
}

const v1 = (dirs: [string, string][]): FsMetadataV1 => ({ kind: FS_METADATA_KIND, version: 1, dirs });
const v2 = (fields: Partial<FsMetadata>): FsMetadata => ({
  ...emptyFsMetadata(),
  ...fields,
});

/** root/{a/{b/,file},c/,f.txt,link->a}, with known directory mtimes. */
async function makeTree(root: string): Promise<void> {
  await fs.mkdir(path.join(root, "a", "b"), { recursive: true });
  await fs.mkdir(path.join(root, "c"));
  await fs.writeFile(path.join(root, "f.txt"), "x");
  await fs.writeFile(path.join(root, "a", "file"), "y");
  await fs.symlink("a", path.join(root, "link"));
  await fs.utimes(path.join(root, "a", "b"), T.ab, T.ab);
  await fs.utimes(path.join(root, "a"), T.a, T.a);
  await fs.utimes(path.join(root, "c"), T.c, T.c);
  await fs.utimes(root, T.root, T.root);
}

const sortedDirs = (m: FsMetadata) => [...m.dirs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

async function which(tool: string): Promise<boolean> {
  return exec("which", [tool]).then(
    () => true,
    () => false,
  );
}

/** getfattr's dump of a whole tree (symlinks not followed), root replaced by ROOT, one block per file, sorted. */
async function xattrDump(root: string): Promise<string[]> {
  const { stdout } = await exec(
    "getfattr",
    ["-R", "-P", "-h", "-d", "-m", "-", "-e", "base64", "--absolute-names", root],
    { encoding: "latin1", env: { ...process.env, LC_ALL: "C" } },
  );
  return stdout
    .split("\n\n")
    .map((block) => block.trim().split(`# file: ${root}`).join("# file: ROOT"))
    .filter((block) => block !== "")
    .sort();
}

/**
 * Copies a tree the way `kopia restore` writes a direct snapshot: directories, regular files and
 * symlinks with content, mode, owner and mtime, but no hard links, no xattrs/ACLs/capabilities, no
 * FIFOs, devices or sockets. Directory mtimes are left as the copy makes them.
 */
async function kopiaLikeCopy(src: Buffer, dst: Buffer): Promise<void> {
  const st = await fs.lstat(src);
  await fs.mkdir(dst);
  for (const entry of await fs.readdir(src, { encoding: "buffer", withFileTypes: true })) {
    const s = Buffer.concat([src, Buffer.from("/"), entry.name]);
    const d = Buffer.concat([dst, Buffer.from("/"), entry.name]);
    const est = await fs.lstat(s);
    if (est.isDirectory()) await kopiaLikeCopy(s, d);
    else if (est.isFile()) {
      await fs.writeFile(d, await fs.readFile(s));
      await fs.chown(d, est.uid, est.gid);
      await fs.chmod(d, est.mode & 0o7777);
      await fs.utimes(d, est.atime, est.mtime);
    } else if (est.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(s, { encoding: "buffer" }), d);
      await fs.lchown(d, est.uid, est.gid);
      await fs.lutimes(d, est.atime, est.mtime);
    }
  }
  await fs.chown(dst, st.uid, st.gid);
  await fs.chmod(dst, st.mode & 0o7777);
}

const us = (stOrNs: BigIntStats | string) =>
  typeof stOrNs === "string" ? BigInt(stOrNs) / 1000n : stOrNs.mtimeNs / 1000n;

describe("collectFsMetadata", () => {
  it("records '.' and every nested directory with its own mtime in nanoseconds", async () => {
    const root = path.join(tmp, "src");
    await fs.mkdir(root);
    await makeTree(root);
    const metadata = await collectFsMetadata(root);
    expect(metadata.kind).toBe(FS_METADATA_KIND);
    expect(metadata.version).toBe(2);
    expect(metadata.dirs[0]).toEqual([".", ns(T.root)]);
    expect(sortedDirs(metadata)).toEqual([
      [".", ns(T.root)],
      ["a", ns(T.a)],
      ["a/b", ns(T.ab)],
      ["c", ns(T.c)],
    ]);
    expect(metadata).toMatchObject({ hardlinks: [], xattrs: [], specials: [], files: [], nonUtf8Names: [] });
  });

  it("records the exact nanoseconds the file system reports", async () => {
    const root = path.join(tmp, "live");
    await fs.mkdir(path.join(root, "sub"), { recursive: true });
    const metadata = await collectFsMetadata(root);
    expect(sortedDirs(metadata)).toEqual([
      [".", await mtimeNs(root)],
      ["sub", await mtimeNs(path.join(root, "sub"))],
    ]);
  });

  it("records only '.' for an empty directory", async () => {
    const root = path.join(tmp, "empty");
    await fs.mkdir(root);
    await fs.utimes(root, T.c, T.c);
    expect(await collectFsMetadata(root)).toEqual(v2({ dirs: [[".", ns(T.c)]], sparseFiles: 0 }));
  });

  it("records nothing for a file", async () => {
    const file = path.join(tmp, "file");
    await fs.writeFile(file, "x");
    expect(await collectFsMetadata(file)).toEqual(v2({ sparseFiles: 0 }));
  });

  it("counts the regular files with holes (fewer blocks than their size), nothing else", async () => {
    const root = path.join(tmp, "holes");
    await fs.mkdir(path.join(root, "d"), { recursive: true });
    // Written out in full, zeros included: no holes.
    await fs.writeFile(path.join(root, "zeros"), Buffer.alloc(256 * 1024));
    await fs.writeFile(path.join(root, "small"), "x");
    await fs.writeFile(path.join(root, "empty"), "");
    const full = await collectFsMetadata(root);
    expect(full.sparseFiles).toBe(0);
    // A file extended past its end, and one with a hole in the middle.
    await fs.truncate(path.join(root, "zeros"), 64 * 1024 * 1024);
    const middle = await fs.open(path.join(root, "d", "middle"), "w");
    await middle.write("start");
    await middle.write("end", 32 * 1024 * 1024);
    await middle.close();
    expect((await collectFsMetadata(root)).sparseFiles).toBe(2);
    expect(parseFsMetadata(JSON.stringify(await collectFsMetadata(root))).sparseFiles).toBe(2);
  });

  it("fails for a missing root", async () => {
    await expect(collectFsMetadata(path.join(tmp, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("records hard-link groups with their mtimes, and xattrs on files, dirs and symlinks", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(path.join(root, "sub"), { recursive: true });
    await fs.writeFile(path.join(root, "one"), "1");
    await fs.link(path.join(root, "one"), path.join(root, "sub", "two"));
    await fs.link(path.join(root, "one"), path.join(root, "three"));
    await fs.writeFile(path.join(root, "alone"), "2");
    await fs.symlink("one", path.join(root, "sym"));
    await fs.utimes(path.join(root, "one"), T.a, T.a);
    await exec("setfattr", ["-n", "user.comment", "-v", "hi there", path.join(root, "alone")]);
    await exec("setfattr", ["-n", "user.d", "-v", "0x0001ff", path.join(root, "sub")]);
    await exec("setfattr", ["-h", "-n", "trusted.s", "-v", "x", path.join(root, "sym")]);
    const m = await collectFsMetadata(root);
    expect(m.hardlinks).toEqual([["one", "sub/two", "three"]]);
    expect(m.files).toEqual([
      ["one", ns(T.a)],
      ["sub/two", ns(T.a)],
      ["three", ns(T.a)],
    ]);
    expect(m.xattrs).toEqual([
      ["alone", "user.comment", Buffer.from("hi there").toString("base64")],
      ["sub", "user.d", Buffer.from([0, 1, 0xff]).toString("base64")],
      ["sym", "trusted.s", Buffer.from("x").toString("base64")],
    ]);
  });

  it("records nothing of another file system mounted below root, nor below a name that is not UTF-8", async () => {
    const root = path.join(tmp, "m");
    const mnt = path.join(root, "mnt");
    const bad = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x62, 0xff])]);
    await fs.mkdir(mnt, { recursive: true });
    await fs.mkdir(bad);
    await fs.writeFile(Buffer.concat([bad, Buffer.from("/f")]), "f");
    await fs.writeFile(path.join(root, "kept"), "k");
    await exec("setfattr", ["-n", "user.k", "-v", "1", path.join(root, "kept")]);
    // (argv from Node is UTF-8: the shell's printf makes the byte 0xff)
    await exec("sh", ["-c", `setfattr -n user.b -v 1 "$1/$(printf 'b\\377')/f"`, "sh", root]);
    await exec("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      await fs.writeFile(path.join(mnt, "inside"), "i");
      await exec("setfattr", ["-n", "user.m", "-v", "1", mnt]);
      await exec("setfattr", ["-n", "user.i", "-v", "1", path.join(mnt, "inside")]);
      for (const walker of ["auto", "node"] as const) {
        const m = await collectFsMetadata(root, { walker });
        expect(m.xattrs).toEqual([["kept", "user.k", Buffer.from("1").toString("base64")]]);
        expect(m.dirs.map(([rel]) => rel)).toEqual(["."]);
        expect(m.nonUtf8Names).toEqual([Buffer.from([0x62, 0xff]).toString("base64")]);
      }
    } finally {
      await exec("umount", [mnt]);
    }
  });

  it("records xattrs of names that need quoting", async () => {
    const root = path.join(tmp, "q");
    await fs.mkdir(root);
    const names = ["a b", "back\\slash", "new\nline", "eq=sign", "ünï", "#hash"];
    for (const name of names) {
      await fs.writeFile(path.join(root, name), "");
      await exec("setfattr", ["-n", "user.k", "-v", name, path.join(root, name)]);
    }
    const m = await collectFsMetadata(root);
    expect(m.xattrs.map(([p, , v]) => [p, Buffer.from(v, "base64").toString()]).sort()).toEqual(
      names.map((n) => [n, n]).sort(),
    );
  });

  it("fails clearly without getfattr, unless xattrs are not wanted", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(root);
    const empty = path.join(tmp, "empty-path");
    await fs.mkdir(empty);
    const saved = process.env.PATH;
    process.env.PATH = empty;
    try {
      await expect(collectFsMetadata(root)).rejects.toThrow(/getfattr is not installed.*'attr' package/);
      expect((await collectFsMetadata(root, { xattrs: false })).dirs).toHaveLength(1);
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("names that are not UTF-8 (surveyTree)", () => {
  it("renders names that are not UTF-8 with \\xNN, and nothing for good names", async () => {
    const root = path.join(tmp, "n");
    await fs.mkdir(path.join(root, "ok-ü"), { recursive: true });
    await fs.writeFile(Buffer.from(`${root}/bad-\xff`, "latin1"), "");
    const badDir = Buffer.concat([Buffer.from(`${root}/ok-ü/dir-`), Buffer.from([0xc3, 0x28])]);
    await fs.mkdir(badDir);
    await fs.writeFile(Buffer.concat([badDir, Buffer.from("/inner-"), Buffer.from([0xe2, 0x82])]), "");
    expect((await surveyTree(root)).nonUtf8Names).toEqual([
      "bad-\\xff",
      "ok-ü/dir-\\xc3(",
      "ok-ü/dir-\\xc3(/inner-\\xe2\\x82",
    ]);
    const m = await collectFsMetadata(root);
    expect(m.nonUtf8Names.map((b) => Buffer.from(b, "base64").toString("latin1")).sort()).toEqual(
      ["bad-\xff", "ok-Ã¼/dir-Ã(", "ok-Ã¼/dir-Ã(/inner-â\x82"].sort(),
    );
    // Nothing below a name that is not UTF-8 is recorded under a lossy name.
    expect(m.dirs.map(([p]) => p)).toEqual([".", "ok-ü"]);
  });

  it("finds nothing in a clean tree", async () => {
    const root = path.join(tmp, "src");
    await fs.mkdir(root);
    await makeTree(root);
    expect((await surveyTree(root)).nonUtf8Names).toEqual([]);
  });
});

describe("applyFsMetadataFull round trip", () => {
  it("puts back what a kopia-like copy loses", async () => {
    const src = path.join(tmp, "src");
    const copy = path.join(tmp, "copy");
    const hasSetcap = await which("setcap");
    await fs.mkdir(path.join(src, "sub", "deep", "deeper"), { recursive: true });
    await fs.mkdir(path.join(src, "acl-dir"));
    // A hard-link pair with an xattr on the shared inode.
    await fs.writeFile(path.join(src, "a"), "linked");
    await fs.link(path.join(src, "a"), path.join(src, "sub", "b"));
    await exec("setfattr", ["-n", "user.comment", "-v", "shared", path.join(src, "a")]);
    await fs.utimes(path.join(src, "a"), T.a, T.a);
    // ACLs: an access ACL on a file, a default ACL on a directory (and what it gives a new file).
    await fs.writeFile(path.join(src, "acl-file"), "acl");
    await exec("setfacl", ["-m", "u:1000:rw", path.join(src, "acl-file")]);
    await exec("setfacl", ["-d", "-m", "u:1000:rx", path.join(src, "acl-dir")]);
    await fs.writeFile(path.join(src, "acl-dir", "inherits"), "i");
    // A file capability (on a file owned by someone else: it must survive the owners being set).
    await fs.writeFile(path.join(src, "sub", "cap-bin"), "#!/bin/sh\n", { mode: 0o755 });
    await fs.chown(path.join(src, "sub", "cap-bin"), 1000, 1000);
    if (hasSetcap) await exec("setcap", ["cap_net_bind_service=+ep", path.join(src, "sub", "cap-bin")]);
    // A trusted.* xattr on a symlink itself.
    await fs.symlink("a", path.join(src, "sym"));
    await exec("setfattr", ["-h", "-n", "trusted.t", "-v", "on-link", path.join(src, "sym")]);
    // Special files.
    await exec("mkfifo", [path.join(src, "sub", "fifo")]);
    await fs.chown(path.join(src, "sub", "fifo"), 1000, 1001);
    await fs.chmod(path.join(src, "sub", "fifo"), 0o640);
    await fs.utimes(path.join(src, "sub", "fifo"), T.c, T.c);
    await exec("mknod", [path.join(src, "null-dev"), "c", "1", "3"]);
    await fs.chown(path.join(src, "null-dev"), 1002, 1003);
    await fs.chmod(path.join(src, "null-dev"), 0o620);
    await exec("mknod", [path.join(src, "sub", "deep", "blk"), "b", "259", "70000"]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(src, "sock"), resolve));
    // A name that is not UTF-8.
    await fs.writeFile(Buffer.concat([Buffer.from(`${src}/bad-`), Buffer.from([0xff, 0xfe])]), "bad");
    // Old directory mtimes, deepest first.
    const dirTimes: [string, number][] = [
      ["sub/deep/deeper", T.ab],
      ["sub/deep", T.a + 1],
      ["sub", T.c],
      ["acl-dir", T.a + 2],
      [".", T.root],
    ];
    for (const [rel, t] of dirTimes) await fs.utimes(path.join(src, rel), t, t);

    let metadata: FsMetadata;
    try {
      metadata = parseFsMetadata(JSON.stringify(await collectFsMetadata(src)));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(metadata.hardlinks).toEqual([["a", "sub/b"]]);
    expect(metadata.specials.map(([p, type]) => [p, type])).toEqual([
      ["null-dev", "char"],
      ["sock", "socket"],
      ["sub/deep/blk", "block"],
      ["sub/fifo", "fifo"],
    ]);
    expect(metadata.nonUtf8Names).toEqual([Buffer.from("bad-\xff\xfe", "latin1").toString("base64")]);
    expect((await surveyTree(src)).nonUtf8Names).toEqual(["bad-\\xff\\xfe"]);
    const srcDump = await xattrDump(src);

    await kopiaLikeCopy(Buffer.from(src), Buffer.from(copy));
    // Kopia restores hard links as copies with the file's mtime; make it wrong to see it set again.
    await fs.utimes(path.join(copy, "a"), T.c, T.c);
    expect((await fs.stat(path.join(copy, "a"))).ino).not.toBe(
      (await fs.stat(path.join(copy, "sub", "b"))).ino,
    );
    expect(await xattrDump(copy)).toEqual([]);

    const result = await applyFsMetadataFull(copy, metadata);
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({
      hardlinks: 1,
      specials: 3,
      skippedSockets: 1,
      xattrs: metadata.xattrs.length,
      dirs: metadata.dirs.length,
    });

    // Directory mtimes (checked first: nothing has read the directories yet).
    for (const [rel, t] of dirTimes) {
      expect(us(await fs.lstat(path.join(copy, rel), { bigint: true })), rel).toBe(us(ns(t)));
    }
    for (const [rel, mtime] of metadata.dirs) {
      expect(us(await fs.lstat(path.join(copy, rel), { bigint: true })), rel).toBe(us(mtime));
    }
    // Hard links.
    const a = await fs.lstat(path.join(copy, "a"), { bigint: true });
    const b = await fs.lstat(path.join(copy, "sub", "b"), { bigint: true });
    expect(b.ino).toBe(a.ino);
    expect(a.nlink).toBe(2n);
    expect(us(a)).toBe(us(ns(T.a)));
    expect(await fs.readFile(path.join(copy, "sub", "b"), "utf8")).toBe("linked");
    expect((await fs.readdir(path.join(copy, "sub"))).filter((n) => n.startsWith(".kd-link-"))).toEqual([]);
    // Xattrs, ACLs, capability: getfattr sees the same on every entry.
    expect(await xattrDump(copy)).toEqual(srcDump);
    const acl = await exec("getfacl", ["-cpn", path.join(copy, "acl-file")]);
    expect(acl.stdout).toContain("user:1000:rw-");
    const dacl = await exec("getfacl", ["-cpn", path.join(copy, "acl-dir")]);
    expect(dacl.stdout).toContain("default:user:1000:r-x");
    if (hasSetcap) {
      const cap = await exec("getcap", [path.join(copy, "sub", "cap-bin")]);
      expect(cap.stdout).toContain("cap_net_bind_service=ep");
      expect((await fs.lstat(path.join(copy, "sub", "cap-bin"))).uid).toBe(1000);
    } else {
      console.warn("setcap (package libcap2-bin) is not installed: the file capability was not tested");
    }
    // Special files.
    for (const rel of ["sub/fifo", "null-dev", "sub/deep/blk"]) {
      const s = await fs.lstat(path.join(src, rel), { bigint: true });
      const c = await fs.lstat(path.join(copy, rel), { bigint: true });
      expect([c.mode, c.uid, c.gid, c.rdev, us(c)], rel).toEqual([s.mode, s.uid, s.gid, s.rdev, us(s)]);
    }
    expect((await fs.lstat(path.join(copy, "sub", "fifo"))).isFIFO()).toBe(true);
    expect((await fs.lstat(path.join(copy, "null-dev"))).isCharacterDevice()).toBe(true);
    expect((await exec("stat", ["-c", "%t %T", path.join(copy, "sub", "deep", "blk")])).stdout.trim()).toBe(
      "103 11170",
    );
    await expect(fs.lstat(path.join(copy, "sock"))).rejects.toMatchObject({ code: "ENOENT" });
    // Applying again changes nothing and makes nothing twice.
    const again = await applyFsMetadataFull(copy, metadata);
    expect(again).toMatchObject({ hardlinks: 0, specials: 3, failures: [] });
    expect(await xattrDump(copy)).toEqual(srcDump);
  });

  it("keeps the first path of a group and ignores members that are missing", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(path.join(root, "d"), { recursive: true });
    await fs.writeFile(path.join(root, "x"), "first");
    await fs.writeFile(path.join(root, "d", "y"), "second");
    const result = await applyFsMetadataFull(root, v2({ hardlinks: [["gone", "x", "d/y", "d/missing"]] }));
    expect(result.hardlinks).toBe(1);
    expect(await fs.readFile(path.join(root, "d", "y"), "utf8")).toBe("first");
    expect((await fs.lstat(path.join(root, "x"))).nlink).toBe(2);
    await expect(fs.lstat(path.join(root, "d", "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("applyFsMetadata", () => {
  it("restores every directory's mtime on a copy of the tree", async () => {
    const src = path.join(tmp, "src");
    const copy = path.join(tmp, "copy");
    await fs.mkdir(src);
    await makeTree(src);
    await fs.mkdir(path.join(copy, "a", "b"), { recursive: true });
    await fs.mkdir(path.join(copy, "c"));
    await fs.writeFile(path.join(copy, "a", "file"), "y");
    const before = await collectFsMetadata(copy);
    expect(sortedDirs(before)).not.toEqual(sortedDirs(await collectFsMetadata(src)));

    const applied = await applyFsMetadata(copy, await collectFsMetadata(src));
    expect(applied).toBe(4);
    // atime too (checked before anything reads the directories again)
    expect((await fs.lstat(path.join(copy, "a"), { bigint: true })).atimeNs.toString()).toBe(ns(T.a));
    expect(sortedDirs(await collectFsMetadata(copy))).toEqual([
      [".", ns(T.root)],
      ["a", ns(T.a)],
      ["a/b", ns(T.ab)],
      ["c", ns(T.c)],
    ]);
  });

  it("still applies version-1 records, parents after children", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(path.join(root, "p", "q"), { recursive: true });
    const metadata = v1([
      [".", ns(T.root)],
      ["p", ns(T.a)],
      ["p/q", ns(T.ab)],
    ]);
    expect(await applyFsMetadata(root, metadata)).toBe(3);
    expect(await mtimeNs(root)).toBe(ns(T.root));
    expect(await mtimeNs(path.join(root, "p"))).toBe(ns(T.a));
    expect(await mtimeNs(path.join(root, "p", "q"))).toBe(ns(T.ab));
    const parsed = parseFsMetadata(JSON.stringify(metadata));
    expect(await applyFsMetadataFull(root, parsed)).toEqual({
      dirs: 3,
      hardlinks: 0,
      xattrs: 0,
      specials: 0,
      skippedSockets: 0,
      failures: [],
    });
  });

  it("keeps the microseconds of a recorded time", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(root);
    // 1700000000.75 s plus sub-microsecond nanoseconds, which cannot be kept
    await applyFsMetadata(root, v1([[".", "1700000000750000999"]]));
    expect(await mtimeNs(root)).toBe("1700000000750000000");
  });

  it("ignores paths that escape the root, missing directories and files", async () => {
    const root = path.join(tmp, "root");
    const outside = path.join(tmp, "x");
    await fs.mkdir(root);
    await fs.mkdir(outside);
    await fs.mkdir(path.join(root, "inside"));
    await fs.writeFile(path.join(root, "file"), "z");
    const outsideBefore = await mtimeNs(outside);
    const tmpBefore = await mtimeNs(tmp);
    const fileBefore = await mtimeNs(path.join(root, "file"));
    const applied = await applyFsMetadata(
      root,
      v1([
        ["../x", ns(T.a)],
        ["inside/../../x", ns(T.a)],
        ["..", ns(T.a)],
        [tmp, ns(T.a)],
        ["gone", ns(T.a)],
        ["file", ns(T.a)],
        ["inside", ns(T.c)],
      ]),
    );
    expect(applied).toBe(1);
    expect(await mtimeNs(path.join(root, "inside"))).toBe(ns(T.c));
    expect(await mtimeNs(outside)).toBe(outsideBefore);
    expect(await mtimeNs(tmp)).toBe(tmpBefore);
    expect(await mtimeNs(path.join(root, "file"))).toBe(fileBefore);
  });

  it("ignores entries of every kind that escape the root or run through a symlink", async () => {
    const root = path.join(tmp, "root");
    const outside = path.join(tmp, "escape");
    await fs.mkdir(path.join(root, "in"), { recursive: true });
    await fs.mkdir(outside);
    await fs.writeFile(path.join(root, "in", "f"), "inside");
    await fs.writeFile(path.join(outside, "f"), "outside");
    await fs.symlink(outside, path.join(root, "lnk"));
    await fs.symlink(path.join(outside, "f"), path.join(root, "flink"));
    const outsideBefore = await mtimeNs(outside);
    const fileBefore = await mtimeNs(path.join(outside, "f"));
    const value = Buffer.from("v").toString("base64");
    const result = await applyFsMetadataFull(
      root,
      v2({
        dirs: [
          ["../escape", ns(T.a)],
          ["lnk", ns(T.a)],
          ["lnk/.", ns(T.a)],
        ],
        hardlinks: [
          ["in/f", "../escape/f"],
          ["in/f", "lnk/f"],
          ["../escape/f", "in/f"],
        ],
        xattrs: [
          ["../escape", "user.x", value],
          ["../escape/f", "user.x", value],
          ["lnk/f", "user.x", value],
        ],
        specials: [
          ["../escape/fifo", "fifo", 0o644, 0, 0, 0, ns(T.a)],
          ["lnk/fifo", "fifo", 0o644, 0, 0, 0, ns(T.a)],
          ["flink", "fifo", 0o644, 0, 0, 0, ns(T.a)],
        ],
        files: [
          ["../escape/f", ns(T.a)],
          ["lnk/f", ns(T.a)],
          ["flink", ns(T.a)],
        ],
      }),
    );
    expect(result).toMatchObject({ dirs: 0, hardlinks: 0, xattrs: 0, specials: 0 });
    expect(result.failures).toEqual(["flink: exists, but is not a fifo"]);
    expect(await fs.readdir(outside)).toEqual(["f"]);
    expect(await fs.readFile(path.join(outside, "f"), "utf8")).toBe("outside");
    expect(await fs.readFile(path.join(root, "in", "f"), "utf8")).toBe("inside");
    expect((await fs.lstat(path.join(outside, "f"))).nlink).toBe(1);
    expect(await mtimeNs(outside)).toBe(outsideBefore);
    expect(await mtimeNs(path.join(outside, "f"))).toBe(fileBefore);
    const dump = await exec("getfattr", ["-d", "-m", "-", path.join(outside, "f"), outside]);
    expect(dump.stdout).toBe("");
    expect((await fs.lstat(path.join(root, "lnk"))).isSymbolicLink()).toBe(true);
  });

  it("does not escape through a sibling whose name starts like the root", async () => {
    const root = path.join(tmp, "data");
    const sibling = path.join(tmp, "data-other");
    await fs.mkdir(root);
    await fs.mkdir(sibling);
    const before = await mtimeNs(sibling);
    expect(await applyFsMetadata(root, v1([["../data-other", ns(T.a)]]))).toBe(0);
    expect(await mtimeNs(sibling)).toBe(before);
  });

  it("returns 0 for no directories", async () => {
    expect(await applyFsMetadata(tmp, v1([]))).toBe(0);
    expect(await applyFsMetadata(tmp, v2({}))).toBe(0);
  });

  it("counts sockets as skipped and reports what it could not set", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(root);
    await fs.writeFile(path.join(root, "f"), "");
    const result = await applyFsMetadataFull(
      root,
      v2({
        specials: [["s", "socket", 0o755, 0, 0, 0, ns(T.a)]],
        // The kernel knows no "nosuchnamespace." attributes: that one fails, the other is set.
        xattrs: [
          ["f", "user.ok", Buffer.from("1").toString("base64")],
          ["f", "nosuchnamespace.x", Buffer.from("1").toString("base64")],
        ],
      }),
    );
    expect(result.skippedSockets).toBe(1);
    expect(result.xattrs).toBe(1);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatch(/^xattr: /);
    expect((await exec("getfattr", ["-n", "user.ok", "--only-values", path.join(root, "f")])).stdout).toBe(
      "1",
    );
  });
});

describe("parseFsMetadata", () => {
  it("round-trips a collected record", async () => {
    await fs.mkdir(path.join(tmp, "s"));
    await fs.writeFile(path.join(tmp, "s", "f"), "");
    await fs.link(path.join(tmp, "s", "f"), path.join(tmp, "g"));
    await exec("mkfifo", [path.join(tmp, "p")]);
    await exec("setfattr", ["-n", "user.a", "-v", "b", path.join(tmp, "g")]);
    const metadata = await collectFsMetadata(tmp);
    expect(metadata.hardlinks).toHaveLength(1);
    expect(parseFsMetadata(JSON.stringify(metadata))).toEqual(metadata);
  });

  it("reads version-1 documents into the current shape, with no count of files with holes", () => {
    const parsed = parseFsMetadata(
      JSON.stringify({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", "-5"]] }),
    );
    expect(parsed).toEqual(v2({ dirs: [[".", "-5"]] }));
    expect(parsed).not.toHaveProperty("sparseFiles");
  });

  it("ignores fields, tuple elements and special types it does not know, and defaults lists to []", () => {
    expect(parseFsMetadata(JSON.stringify({ kind: FS_METADATA_KIND, version: 3, future: true }))).toEqual(
      v2({}),
    );
    expect(
      parseFsMetadata(
        JSON.stringify({
          kind: FS_METADATA_KIND,
          version: 3,
          dirs: [[".", "5", "extra"]],
          specials: [
            ["p", "fifo", 420, 0, 0, 0, "7", { more: 1 }],
            ["d", "door", 420, 0, 0, 0, "7"],
          ],
          owners: {},
        }),
      ),
    ).toEqual(v2({ dirs: [[".", "5"]], specials: [["p", "fifo", 420, 0, 0, 0, "7"]] }));
  });

  it.each([
    ["not json", "{"],
    ["another kind", JSON.stringify({ kind: "other", version: 1, dirs: [] })],
    ["a non-numeric time", JSON.stringify({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", "12a"]] })],
    ["a numeric time", JSON.stringify({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", 12]] })],
    ["no version", JSON.stringify({ kind: FS_METADATA_KIND, dirs: [] })],
    ["a bad xattr", JSON.stringify({ kind: FS_METADATA_KIND, version: 2, xattrs: [["a", "user.x"]] })],
    ["a bad hard-link group", JSON.stringify({ kind: FS_METADATA_KIND, version: 2, hardlinks: ["a"] })],
  ])("rejects %s", (_what, text) => {
    expect(() => parseFsMetadata(text)).toThrow();
  });
});

describe("getfattr quoting", () => {
  it("unescapes \\ooo and leaves everything else", () => {
    expect(unescapeOctal(Buffer.from("a\\040b\\134c\\012\\9x\\")).toString("latin1")).toBe("a b\\c\n\\9x\\");
  });

  it("escapes what setfattr --restore needs escaped, and round-trips", () => {
    const raw = Buffer.concat([Buffer.from("a b=c\\d\n"), Buffer.from([0xff, 0x00])]);
    expect(escapeOctal(raw).toString()).toBe("a\\040b\\075c\\134d\\012\\377\\000");
    expect(unescapeOctal(escapeOctal(raw))).toEqual(raw);
  });

  it("parses a dump relative to the root and skips other files", () => {
    const dump = Buffer.concat([
      Buffer.from("# file: /r\nuser.root=0sAA==\n\n# file: /r/a\\040b\nuser.a\\075b c=0sdg==\nuser.e=0s\n\n"),
      Buffer.from("# file: /rx/f\nuser.no=0sAA==\n\n# file: /r/bad-"),
      Buffer.from([0xff]),
      Buffer.from('\nuser.no=0sAA==\n\n# file: /r/t\nuser.t="te\\040xt"\nuser.h=0x0102\n'),
    ]);
    expect(parseGetfattrDump(dump, "/r")).toEqual([
      [".", "user.root", "AA=="],
      ["a b", "user.a=b c", "dg=="],
      ["a b", "user.e", ""],
      ["t", "user.t", Buffer.from("te xt").toString("base64")],
      ["t", "user.h", "AQI="],
    ]);
  });
});

describe("applyFsMetadata precision", () => {
  it("sets recorded times to the exact microsecond for many current-era times", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-meta-precision-"));
    try {
      let mismatches = 0;
      for (let i = 0; i < 300; i++) {
        const ns = 1_700_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 2 ** 52)) * 37n;
        await applyFsMetadata(dir, v1([[".", ns.toString()]]));
        const st = await fs.stat(dir, { bigint: true });
        if (st.mtimeNs / 1000n !== ns / 1000n) mismatches++;
      }
      expect(mismatches).toBe(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe("surveyTree", () => {
  it("sums the regular files' sizes and finds non-UTF-8 names in one walk; a missing root is empty", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "kd-survey-"));
    try {
      await fs.mkdir(path.join(root, "d"));
      await fs.writeFile(path.join(root, "d", "a"), Buffer.alloc(1000));
      await fs.writeFile(path.join(root, "b"), Buffer.alloc(24));
      await fs.symlink("b", path.join(root, "link"));
      await fs.writeFile(Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff])]), "x");
      expect(await surveyTree(root)).toEqual({
        sizeBytes: 1025,
        nonUtf8Names: ["bad-\\xff"],
        directory: true,
        changed: [],
      });
      expect(await surveyTree(path.join(root, "b"))).toEqual({
        sizeBytes: 24,
        nonUtf8Names: [],
        directory: false,
        changed: [],
      });
      expect(await surveyTree(path.join(root, "missing"))).toEqual({
        sizeBytes: 0,
        nonUtf8Names: [],
        directory: false,
        changed: [],
      });
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("lists the regular files this large modified since the time asked for, until they add up to the limit", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "kd-survey-"));
    try {
      const since = new Date("2026-01-01T00:00:00Z");
      const at = async (rel: string | Buffer, bytes: number, when: string) => {
        const file = Buffer.concat([Buffer.from(`${root}/`), Buffer.from(rel)]);
        await fs.mkdir(path.dirname(file.toString()), { recursive: true });
        await fs.writeFile(file, Buffer.alloc(bytes));
        await fs.utimes(file, new Date(when), new Date(when));
      };
      await at("db/changed.bin", 4096, "2026-01-02T00:00:00Z");
      await at("db/steady.bin", 4096, "2025-12-31T00:00:00Z");
      await at("small-changed", 100, "2026-01-02T00:00:00Z");
      await at(Buffer.from([0x62, 0xff]), 5000, "2026-01-02T00:00:00Z");
      await fs.symlink("db/changed.bin", path.join(root, "link"));
      for (const walker of ["auto", "node"] as const) {
        const survey = await surveyTree(root, {
          walker,
          changed: { minBytes: 4096, sinceNs: BigInt(since.getTime()) * 1_000_000n, maxBytes: 1 << 20 },
        });
        expect(
          survey.changed.map((f) => [f.path.subarray(root.length + 1).toString("latin1"), f.bytes]).sort(),
          walker,
        ).toEqual([
          ["b\xff", 5000],
          ["db/changed.bin", 4096],
        ]);
        // It stops listing once the limit is reached (the walk goes on: the size is whole).
        const capped = await surveyTree(root, {
          walker,
          changed: { minBytes: 4096, sinceNs: BigInt(since.getTime()) * 1_000_000n, maxBytes: 4096 },
        });
        expect(capped.changed).toHaveLength(1);
        expect(capped.sizeBytes).toBe(4096 * 2 + 100 + 5000);
      }
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
