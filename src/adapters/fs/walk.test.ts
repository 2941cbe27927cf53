import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { findTimeNs, type WalkEntry, walkTree } from "./walk.js";

const exec = promisify(execFile);

let tmp: string;

beforeEach(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "kd-walk-")));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await exec("umount", [path.join(tmp, "tree", "mnt")]).catch(() => undefined);
  await fs.rm(tmp, { recursive: true, force: true });
});

/** What a reader of the walk can see of an entry, comparable with toEqual. */
function seen(e: WalkEntry) {
  const st = e.st;
  return {
    rel: e.rel.toString("base64"),
    relText: e.relText,
    nameValid: e.nameValid,
    st: st && {
      kind: [
        st.isDirectory(),
        st.isFile(),
        st.isFIFO(),
        st.isCharacterDevice(),
        st.isBlockDevice(),
        st.isSocket(),
      ],
      size: st.isFile() ? st.size : undefined,
      blocks: st.isFile() ? st.blocks : undefined,
      nlink: st.nlink,
      dev: st.dev,
      ino: st.ino,
      mode: st.mode & 0o7777n,
      uid: st.uid,
      gid: st.gid,
      rdev: st.isCharacterDevice() || st.isBlockDevice() ? st.rdev : 0n,
      mtimeNs: st.mtimeNs,
    },
  };
}

async function walk(root: string, statFiles: boolean, walker: "auto" | "node") {
  const entries: ReturnType<typeof seen>[] = [];
  const rootStat = await fs.lstat(root, { bigint: true });
  const took = await walkTree(root, rootStat, statFiles, (e) => entries.push(seen(e)), { walker });
  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { took, entries };
}

/** Every kind of entry the metadata record and the survey care about, with awkward names. */
async function makeTree(root: string): Promise<void> {
  const bad = Buffer.from([0x62, 0x61, 0x64, 0xff, 0x0a, 0x20]); // "bad\xff\n "
  await fs.mkdir(path.join(root, "a b", "c"), { recursive: true });
  await fs.writeFile(path.join(root, "a b", "c", "file with spaces"), "x".repeat(5000));
  await fs.writeFile(path.join(root, "line\nbreak"), "y");
  await fs.mkdir(Buffer.concat([Buffer.from(`${root}/`), bad]));
  await fs.writeFile(Buffer.concat([Buffer.from(`${root}/`), bad, Buffer.from("/inside")]), "z");
  await fs.writeFile(path.join(root, "linked"), "l");
  await fs.link(path.join(root, "linked"), path.join(root, "a b", "link2"));
  await fs.symlink("linked", path.join(root, "sym"));
  await exec("mkfifo", [path.join(root, "fifo")]);
  await exec("mknod", [path.join(root, "a b", "null-dev"), "c", "1", "3"]);
  await exec("mknod", [path.join(root, "blk"), "b", "259", "70000"]);
  const sparse = await fs.open(path.join(root, "sparse"), "w");
  await sparse.truncate(10 * 1024 * 1024);
  await sparse.write("end", 10 * 1024 * 1024 - 3);
  await sparse.close();
  await fs.chmod(path.join(root, "linked"), 0o4751);
  await fs.chown(path.join(root, "line\nbreak"), 1234, 5678);
  await fs.utimes(path.join(root, "a b"), 1_600_000_000.5, 1_600_000_000.123);
  await exec("touch", ["-h", "-d", "@-1.75", path.join(root, "line\nbreak")]); // before the epoch
}

/** walk.ts loaded afresh (nothing remembered of find), with a shell script first on PATH as `find`. */
async function withStandInFind(script: string): Promise<typeof import("./walk.js")> {
  const bin = path.join(tmp, "bin");
  await fs.mkdir(bin);
  await fs.writeFile(path.join(bin, "find"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  vi.stubEnv("PATH", `${bin}:${process.env.PATH}`);
  vi.resetModules();
  return import("./walk.js");
}

describe("walkTree", () => {
  it("sees the same entries and lstat through GNU find as through Node's own calls", async () => {
    const root = path.join(tmp, "tree");
    await fs.mkdir(root);
    await makeTree(root);
    for (const statFiles of [true, false]) {
      const byFind = await walk(root, statFiles, "auto");
      const byNode = await walk(root, statFiles, "node");
      expect(byFind.took).toBe("find");
      expect(byNode.took).toBe("node");
      expect(byFind.entries).toEqual(byNode.entries);
      expect(byFind.entries).toHaveLength(14);
    }
    const { entries } = await walk(root, true, "auto");
    const byText = new Map(entries.map((e) => [e.relText, e]));
    expect(byText.get("line\nbreak")?.st?.mtimeNs).toBe(-1_750_000_000n);
    expect(byText.get("line\nbreak")?.st?.uid).toBe(1234n);
    expect(byText.get("linked")?.st?.mode).toBe(0o4751n);
    expect(byText.get("linked")?.st?.nlink).toBe(2n);
    expect(byText.get("blk")?.st?.kind).toEqual([false, false, false, false, true, false]);
    expect(byText.get("sym")?.st).toBeUndefined();
    expect(entries.filter((e) => !e.nameValid)).toHaveLength(1);
    expect(entries.filter((e) => e.relText === undefined)).toHaveLength(2); // the name and what is below it
  });

  it("leaves out another file system mounted below root, in both walks", async () => {
    const root = path.join(tmp, "tree");
    await fs.mkdir(path.join(root, "mnt"), { recursive: true });
    await fs.writeFile(path.join(root, "kept"), "k");
    await exec("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", path.join(root, "mnt")]);
    await fs.writeFile(path.join(root, "mnt", "other"), "o");
    const byFind = await walk(root, true, "auto");
    const byNode = await walk(root, true, "node");
    expect(byFind.took).toBe("find");
    expect(byFind.entries.map((e) => e.relText)).toEqual([".", "kept"].sort());
    expect(byFind.entries).toEqual(byNode.entries);
  });

  it("sees the same entries when find walks the top-level directories side by side", async () => {
    const root = path.join(tmp, "tree");
    const tops = ["a b", "c*[x]", "-dash", "line\nbreak", "e", "f", "g"];
    for (const [i, top] of tops.entries()) {
      await fs.mkdir(path.join(root, top, "deep", "er"), { recursive: true });
      await fs.writeFile(path.join(root, top, "deep", "er", `file${i}`), "x".repeat(i));
      await fs.writeFile(path.join(root, top, `top${i}`), "t");
    }
    await fs.link(path.join(root, "a b", "top0"), path.join(root, "g", "deep", "hl"));
    await exec("mknod", [path.join(root, "e", "deep", "null-dev"), "c", "1", "3"]);
    await exec("mkfifo", [path.join(root, "f", "fifo")]);
    await fs.writeFile(path.join(root, "toplevel-file"), "r");
    await fs.mkdir(path.join(root, "a b", "mnt"));
    await exec("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", path.join(root, "a b", "mnt")]);
    try {
      await fs.writeFile(path.join(root, "a b", "mnt", "other"), "o");
      const byFind = await walk(root, true, "auto");
      const byNode = await walk(root, true, "node");
      expect(byFind.took).toBe("find");
      expect(byFind.entries).toEqual(byNode.entries);
      // root, toplevel-file, 7 x (dir, deep, deep/er, file, top), hl, null-dev, fifo
      expect(byFind.entries).toHaveLength(2 + 7 * 5 + 3);
    } finally {
      await exec("umount", [path.join(root, "a b", "mnt")]);
    }
  });

  it("sees the same entries when there are too many top-level directories to name to find", async () => {
    const root = path.join(tmp, "tree");
    const long = "n".repeat(200);
    for (let i = 0; i < 700; i++) await fs.mkdir(path.join(root, `${long}${i}`, "sub"), { recursive: true });
    const byFind = await walk(root, true, "auto");
    const byNode = await walk(root, true, "node");
    expect(byFind.took).toBe("find");
    expect(byFind.entries).toEqual(byNode.entries);
    expect(byFind.entries).toHaveLength(1 + 700 * 2);
  });

  it("goes a level deeper to split the walk when the top level has few directories", async () => {
    const log = path.join(tmp, "finds.log");
    const logged = await withStandInFind(`printf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/find "$@"`);
    const root = path.join(tmp, "tree");
    const data = path.join(root, "data");
    for (let i = 0; i < 10; i++) {
      await fs.mkdir(path.join(data, `d ${i}`, "deep"), { recursive: true });
      await fs.writeFile(path.join(data, `d ${i}`, "deep", `file${i}`), "x".repeat(i));
    }
    await fs.writeFile(path.join(data, "level-two-file"), "2");
    await fs.writeFile(path.join(root, "top-file"), "1");
    await fs.link(path.join(root, "top-file"), path.join(data, "d 3", "deep", "hl"));
    await exec("mknod", [path.join(data, "null-dev"), "c", "1", "3"]);
    await exec("mkfifo", [path.join(data, "d 5", "fifo")]);
    await fs.mkdir(path.join(data, "mnt"));
    await exec("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", path.join(data, "mnt")]);
    const walkBoth = async () => {
      const rootStat = await fs.lstat(root, { bigint: true });
      const byFind: ReturnType<typeof seen>[] = [];
      expect(await logged.walkTree(root, rootStat, true, (e) => byFind.push(seen(e)))).toBe("find");
      byFind.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
      const byNode = await walk(root, true, "node");
      expect(byFind).toEqual(byNode.entries);
      const calls = (await fs.readFile(log, "utf8")).trim().split("\n");
      await fs.rm(log);
      return { entries: byFind, calls };
    };
    try {
      await fs.writeFile(path.join(data, "mnt", "other"), "o");
      const clean = await walkBoth();
      // root, top-file, data, level-two-file, null-dev, 10 x (dir, deep, file), hl, fifo
      expect(clean.entries).toHaveLength(5 + 10 * 3 + 2);
      // root's level, data's level, then four finds over data's ten directories side by side.
      expect(clean.calls).toHaveLength(6);
      expect(clean.calls[1]).toMatch(/ -mindepth 1 -maxdepth 1 /);
      expect(clean.calls.slice(2).every((c) => / -mindepth 1 -printf /.test(c))).toBe(true);
      // A name argv cannot carry at the second level: one find below it, from root.
      await fs.mkdir(
        Buffer.concat([Buffer.from(`${data}/`), Buffer.from([0x62, 0xff]), Buffer.from("/in")]),
        {
          recursive: true,
        },
      );
      const awkward = await walkBoth();
      expect(awkward.entries).toHaveLength(5 + 10 * 3 + 2 + 2);
      expect(awkward.calls).toHaveLength(3);
      expect(awkward.calls[2]).toMatch(new RegExp(`^${root} -xdev -mindepth 3 `));
    } finally {
      await exec("umount", [path.join(data, "mnt")]);
    }
  });

  it("lists each level side by side too (its directories may hold most of the files)", async () => {
    const log = path.join(tmp, "finds.log");
    const logged = await withStandInFind(`printf '%s\\n' "$*" >> '${log}'\nexec /usr/bin/find "$@"`);
    const root = path.join(tmp, "tree");
    for (const top of ["a", "b", "c"])
      for (const sub of ["one", "two"]) {
        await fs.mkdir(path.join(root, top, sub), { recursive: true });
        await fs.writeFile(path.join(root, top, sub, "file"), top + sub);
      }
    const rootStat = await fs.lstat(root, { bigint: true });
    const byFind: ReturnType<typeof seen>[] = [];
    expect(await logged.walkTree(root, rootStat, true, (e) => byFind.push(seen(e)))).toBe("find");
    byFind.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    expect(byFind).toEqual((await walk(root, true, "node")).entries);
    const calls = (await fs.readFile(log, "utf8")).trim().split("\n");
    // root's level; the three top-level directories' level by three finds; the six below by four.
    expect(calls).toHaveLength(1 + 3 + 4);
    expect(calls.slice(1).every((c) => / -mindepth 1 -maxdepth 1 /.test(c))).toBe(true);
  });

  it("walks with Node's calls when find is not GNU find, and does not try it again", async () => {
    const calls = path.join(tmp, "calls");
    // busybox's find: no -printf.
    const fresh = await withStandInFind(
      `echo x >> '${calls}'\necho 'find: unrecognized: -printf' >&2\nexit 1`,
    );
    const root = path.join(tmp, "tree");
    await fs.mkdir(path.join(root, "d"), { recursive: true });
    await fs.writeFile(path.join(root, "d", "f"), "f");
    const rootStat = await fs.lstat(root, { bigint: true });
    for (let i = 0; i < 2; i++) {
      const rels: string[] = [];
      const took = await fresh.walkTree(root, rootStat, true, (e) => rels.push(e.relText ?? "?"));
      expect(took).toBe("node");
      expect(rels.sort()).toEqual([".", "d", "d/f"]);
    }
    expect((await fs.readFile(calls, "utf8")).trim().split("\n")).toHaveLength(1);
  });

  it("walks with Node's calls when find's first record is not one it can read", async () => {
    const fresh = await withStandInFind("printf '%s\\000' \"$1\"");
    const root = path.join(tmp, "tree");
    await fs.mkdir(root);
    const rootStat = await fs.lstat(root, { bigint: true });
    const rels: string[] = [];
    expect(await fresh.walkTree(root, rootStat, true, (e) => rels.push(e.relText ?? "?"))).toBe("node");
    expect(rels).toEqual(["."]);
  });

  it("fails when find dies after it began", async () => {
    const fresh = await withStandInFind(
      "printf 'd 1 2 3 4096 8 755 0 0 1600000000.0000000000 \\000f 1 3 1 0 0 644 0 0 1600000000.0000000000 gone\\000'\nexit 2",
    );
    const root = path.join(tmp, "tree");
    await fs.mkdir(root);
    const rootStat = await fs.lstat(root, { bigint: true });
    await expect(fresh.walkTree(root, rootStat, true, () => undefined)).rejects.toThrow(
      /find .* failed \(exit 2\)/,
    );
  });
});

describe("findTimeNs", () => {
  it("reads find's %T@ exactly, before the epoch too, and refuses fewer digits", () => {
    expect(findTimeNs("1796130203.9596828620")).toBe(1_796_130_203_959_682_862n);
    expect(findTimeNs("0.0000000010")).toBe(1n);
    expect(findTimeNs("-2.2500000000")).toBe(-1_750_000_000n);
    expect(findTimeNs("-1.0000000000")).toBe(-1_000_000_000n);
    expect(findTimeNs("1796130203.95")).toBeUndefined();
    expect(findTimeNs("1796130203")).toBeUndefined();
    expect(findTimeNs("")).toBeUndefined();
  });
});
