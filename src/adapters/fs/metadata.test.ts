import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FS_METADATA_KIND, type FsMetadata } from "../../domain/fs-metadata.js";
import { applyFsMetadata, collectFsMetadata, parseFsMetadata } from "./metadata.js";

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

const sorted = (m: FsMetadata) => [...m.dirs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe("collectFsMetadata", () => {
  it("records '.' and every nested directory with its own mtime in nanoseconds", async () => {
    const root = path.join(tmp, "src");
    await fs.mkdir(root);
    await makeTree(root);
    const metadata = await collectFsMetadata(root);
    expect(metadata.kind).toBe(FS_METADATA_KIND);
    expect(metadata.version).toBe(1);
    expect(metadata.dirs[0]).toEqual([".", ns(T.root)]);
    expect(sorted(metadata)).toEqual([
      [".", ns(T.root)],
      ["a", ns(T.a)],
      ["a/b", ns(T.ab)],
      ["c", ns(T.c)],
    ]);
  });

  it("records the exact nanoseconds the file system reports", async () => {
    const root = path.join(tmp, "live");
    await fs.mkdir(path.join(root, "sub"), { recursive: true });
    const metadata = await collectFsMetadata(root);
    expect(sorted(metadata)).toEqual([
      [".", await mtimeNs(root)],
      ["sub", await mtimeNs(path.join(root, "sub"))],
    ]);
  });

  it("records only '.' for an empty directory", async () => {
    const root = path.join(tmp, "empty");
    await fs.mkdir(root);
    await fs.utimes(root, T.c, T.c);
    expect((await collectFsMetadata(root)).dirs).toEqual([[".", ns(T.c)]]);
  });

  it("records nothing for a file", async () => {
    const file = path.join(tmp, "file");
    await fs.writeFile(file, "x");
    expect(await collectFsMetadata(file)).toEqual({ kind: FS_METADATA_KIND, version: 1, dirs: [] });
  });

  it("fails for a missing root", async () => {
    await expect(collectFsMetadata(path.join(tmp, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
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
    expect(sorted(before)).not.toEqual(sorted(await collectFsMetadata(src)));

    const applied = await applyFsMetadata(copy, await collectFsMetadata(src));
    expect(applied).toBe(4);
    // atime too (checked before anything reads the directories again)
    expect((await fs.lstat(path.join(copy, "a"), { bigint: true })).atimeNs.toString()).toBe(ns(T.a));
    expect(sorted(await collectFsMetadata(copy))).toEqual([
      [".", ns(T.root)],
      ["a", ns(T.a)],
      ["a/b", ns(T.ab)],
      ["c", ns(T.c)],
    ]);
  });

  it("sets parents after children, so that a recorded parent mtime survives", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(path.join(root, "p", "q"), { recursive: true });
    const metadata: FsMetadata = {
      kind: FS_METADATA_KIND,
      version: 1,
      dirs: [
        [".", ns(T.root)],
        ["p", ns(T.a)],
        ["p/q", ns(T.ab)],
      ],
    };
    expect(await applyFsMetadata(root, metadata)).toBe(3);
    expect(await mtimeNs(root)).toBe(ns(T.root));
    expect(await mtimeNs(path.join(root, "p"))).toBe(ns(T.a));
    expect(await mtimeNs(path.join(root, "p", "q"))).toBe(ns(T.ab));
  });

  it("keeps the microseconds of a recorded time", async () => {
    const root = path.join(tmp, "r");
    await fs.mkdir(root);
    // 1700000000.75 s plus sub-microsecond nanoseconds, which cannot be kept
    await applyFsMetadata(root, { kind: FS_METADATA_KIND, version: 1, dirs: [[".", "1700000000750000999"]] });
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
    const applied = await applyFsMetadata(root, {
      kind: FS_METADATA_KIND,
      version: 1,
      dirs: [
        ["../x", ns(T.a)],
        ["inside/../../x", ns(T.a)],
        ["..", ns(T.a)],
        [tmp, ns(T.a)],
        ["gone", ns(T.a)],
        ["file", ns(T.a)],
        ["inside", ns(T.c)],
      ],
    });
    expect(applied).toBe(1);
    expect(await mtimeNs(path.join(root, "inside"))).toBe(ns(T.c));
    expect(await mtimeNs(outside)).toBe(outsideBefore);
    expect(await mtimeNs(tmp)).toBe(tmpBefore);
    expect(await mtimeNs(path.join(root, "file"))).toBe(fileBefore);
  });

  it("does not escape through a sibling whose name starts like the root", async () => {
    const root = path.join(tmp, "data");
    const sibling = path.join(tmp, "data-other");
    await fs.mkdir(root);
    await fs.mkdir(sibling);
    const before = await mtimeNs(sibling);
    expect(
      await applyFsMetadata(root, { kind: FS_METADATA_KIND, version: 1, dirs: [["../data-other", ns(T.a)]] }),
    ).toBe(0);
    expect(await mtimeNs(sibling)).toBe(before);
  });

  it("returns 0 for no directories", async () => {
    expect(await applyFsMetadata(tmp, { kind: FS_METADATA_KIND, version: 1, dirs: [] })).toBe(0);
  });
});

describe("parseFsMetadata", () => {
  it("round-trips a collected record", async () => {
    await fs.mkdir(path.join(tmp, "s"));
    const metadata = await collectFsMetadata(tmp);
    expect(parseFsMetadata(JSON.stringify(metadata))).toEqual(metadata);
  });

  it("ignores fields it does not know and defaults dirs to []", () => {
    expect(parseFsMetadata(JSON.stringify({ kind: FS_METADATA_KIND, version: 2, future: true }))).toEqual({
      kind: FS_METADATA_KIND,
      version: 1,
      dirs: [],
    });
    expect(
      parseFsMetadata(
        JSON.stringify({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", "-5"]], owners: {} }),
      ),
    ).toEqual({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", "-5"]] });
  });

  it.each([
    ["not json", "{"],
    ["another kind", JSON.stringify({ kind: "other", version: 1, dirs: [] })],
    ["a non-numeric time", JSON.stringify({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", "12a"]] })],
    ["a numeric time", JSON.stringify({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", 12]] })],
    ["no version", JSON.stringify({ kind: FS_METADATA_KIND, dirs: [] })],
  ])("rejects %s", (_what, text) => {
    expect(() => parseFsMetadata(text)).toThrow();
  });
});

describe("applyFsMetadata precision", () => {
  it("sets recorded times to the exact microsecond for many current-era times", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-meta-precision-"));
    try {
      let mismatches = 0;
      for (let i = 0; i < 300; i++) {
        const ns = 1_700_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 2 ** 52)) * 37n;
        await applyFsMetadata(dir, { kind: FS_METADATA_KIND, version: 1, dirs: [[".", ns.toString()]] });
        const st = await fs.stat(dir, { bigint: true });
        if (st.mtimeNs / 1000n !== ns / 1000n) mismatches++;
      }
      expect(mismatches).toBe(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
