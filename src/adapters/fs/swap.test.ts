import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backgroundWritebackThreshold,
  dropSafetyCopy,
  flushesWhileWriting,
  removeTree,
  repairInterruptedSwap,
  repeatFlush,
  SAFETY_SUFFIX,
  STAGING_SUFFIX,
  safetyPath,
  stagingPath,
  swapBack,
  swapIn,
} from "./swap.js";

let tmp: string;
let target: string;

beforeEach(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "kd-swap-")));
  target = path.join(tmp, "_data");
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function makeDir(dir: string, files: Record<string, string>): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
}

async function read(dir: string, name: string): Promise<string> {
  return fs.readFile(path.join(dir, name), "utf8");
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

async function listing(): Promise<string[]> {
  return (await fs.readdir(tmp)).sort();
}

describe("paths", () => {
  it("puts staging and safety copies beside the target", () => {
    expect(STAGING_SUFFIX).toBe(".kopi-docka-new");
    expect(SAFETY_SUFFIX).toBe(".kopi-docka-old");
    expect(stagingPath("/var/lib/docker/volumes/v/_data")).toBe(
      "/var/lib/docker/volumes/v/_data.kopi-docka-new",
    );
    expect(safetyPath("/var/lib/docker/volumes/v/_data")).toBe(
      "/var/lib/docker/volumes/v/_data.kopi-docka-old",
    );
  });
});

describe("swapIn / swapBack / dropSafetyCopy", () => {
  it("swapIn puts the new content in place and keeps the old as safety copy", async () => {
    await makeDir(target, { "old.txt": "old", "sub/keep": "1" });
    await makeDir(stagingPath(target), { "new.txt": "new" });
    const swap = await swapIn(target);
    expect(swap).toEqual({ target, hadOld: true });
    expect(await read(target, "new.txt")).toBe("new");
    expect(await exists(path.join(target, "old.txt"))).toBe(false);
    expect(await read(safetyPath(target), "old.txt")).toBe("old");
    expect(await read(safetyPath(target), "sub/keep")).toBe("1");
    expect(await listing()).toEqual(["_data", "_data.kopi-docka-old"]);
  });

  it("swapBack restores the old content and removes the new", async () => {
    await makeDir(target, { "old.txt": "old" });
    await makeDir(stagingPath(target), { "new.txt": "new" });
    const swap = await swapIn(target);
    await swapBack(swap);
    expect(await read(target, "old.txt")).toBe("old");
    expect(await exists(path.join(target, "new.txt"))).toBe(false);
    expect(await listing()).toEqual(["_data"]);
  });

  it("dropSafetyCopy removes the old content once the restore is complete", async () => {
    await makeDir(target, { "old.txt": "old" });
    await makeDir(stagingPath(target), { "new.txt": "new" });
    const swap = await swapIn(target);
    await dropSafetyCopy(swap);
    expect(await read(target, "new.txt")).toBe("new");
    expect(await listing()).toEqual(["_data"]);
  });

  it("swapIn without old content just moves the staging tree, and swapBack removes it", async () => {
    await makeDir(stagingPath(target), { "new.txt": "new" });
    const swap = await swapIn(target);
    expect(swap).toEqual({ target, hadOld: false });
    expect(await read(target, "new.txt")).toBe("new");
    expect(await listing()).toEqual(["_data"]);
    await dropSafetyCopy(swap);
    expect(await read(target, "new.txt")).toBe("new");
    await swapBack(swap);
    expect(await listing()).toEqual([]);
  });

  it("swapIn replaces a stale safety copy from an earlier run", async () => {
    await makeDir(target, { "current.txt": "current" });
    await makeDir(safetyPath(target), { "stale.txt": "stale" });
    await makeDir(stagingPath(target), { "new.txt": "new" });
    await swapIn(target);
    expect(await read(safetyPath(target), "current.txt")).toBe("current");
    expect(await exists(path.join(safetyPath(target), "stale.txt"))).toBe(false);
  });

  it("swapIn without a staging tree fails and leaves the old content in place", async () => {
    await makeDir(target, { "old.txt": "old" });
    await expect(swapIn(target)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await read(target, "old.txt")).toBe("old");
    expect(await listing()).toEqual(["_data"]);
  });

  it("swaps a single file target too", async () => {
    await fs.writeFile(target, "old");
    await fs.writeFile(stagingPath(target), "new");
    const swap = await swapIn(target);
    expect(await fs.readFile(target, "utf8")).toBe("new");
    await swapBack(swap);
    expect(await fs.readFile(target, "utf8")).toBe("old");
    expect(await listing()).toEqual(["_data"]);
  });
});

describe("repairInterruptedSwap", () => {
  it("puts the safety copy back when the target is missing", async () => {
    await makeDir(safetyPath(target), { "old.txt": "old" });
    const done = await repairInterruptedSwap(target);
    expect(done).toEqual([`put back ${target} from an interrupted restore`]);
    expect(await read(target, "old.txt")).toBe("old");
    expect(await listing()).toEqual(["_data"]);
  });

  it("removes a staging leftover", async () => {
    await makeDir(target, { "live.txt": "live" });
    await makeDir(stagingPath(target), { "half.txt": "half" });
    const done = await repairInterruptedSwap(target);
    expect(done).toEqual([`removed the staging copy ${stagingPath(target)} of an interrupted restore`]);
    expect(await read(target, "live.txt")).toBe("live");
    expect(await listing()).toEqual(["_data"]);
  });

  it("does both when the target is missing and both leftovers exist", async () => {
    await makeDir(safetyPath(target), { "old.txt": "old" });
    await makeDir(stagingPath(target), { "new.txt": "new" });
    expect(await repairInterruptedSwap(target)).toEqual([
      `put back ${target} from an interrupted restore`,
      `removed the staging copy ${stagingPath(target)} of an interrupted restore`,
    ]);
    expect(await read(target, "old.txt")).toBe("old");
    expect(await listing()).toEqual(["_data"]);
  });

  it("keeps the safety copy when the target exists", async () => {
    await makeDir(target, { "new.txt": "new" });
    await makeDir(safetyPath(target), { "old.txt": "old" });
    expect(await repairInterruptedSwap(target)).toEqual([]);
    expect(await read(target, "new.txt")).toBe("new");
    expect(await read(safetyPath(target), "old.txt")).toBe("old");
  });

  it("does nothing when there is nothing to repair", async () => {
    expect(await repairInterruptedSwap(target)).toEqual([]);
    await makeDir(target, { "a.txt": "a" });
    expect(await repairInterruptedSwap(target)).toEqual([]);
    expect(await listing()).toEqual(["_data"]);
  });
});

describe("removeTree", () => {
  it("removes a large tree: nested directories, many files, long and non-UTF-8 names, empty directories", async () => {
    const dir = path.join(tmp, "old");
    const long = "x".repeat(180);
    for (let d = 0; d < 12; d++)
      for (let s = 0; s < 5; s++) {
        const sub = path.join(dir, `d${d}`, `s${s}`);
        await fs.mkdir(sub, { recursive: true });
        for (let f = 0; f < 10; f++) await fs.writeFile(path.join(sub, `f${f}`), `${d}/${s}/${f}`);
      }
    // More than one batch of arguments for one rm: 1,000 names of about 190 bytes in one directory.
    await fs.mkdir(path.join(dir, "flat"));
    for (let f = 0; f < 1000; f++) await fs.writeFile(path.join(dir, "flat", `${long}${f}`), "");
    await fs.mkdir(path.join(dir, "empty", "deeper"), { recursive: true });
    const latin1 = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x63, 0x61, 0x66, 0xe9])]);
    await fs.mkdir(latin1);
    await fs.writeFile(Buffer.concat([latin1, Buffer.from("/inside")]), "x");
    await removeTree(dir);
    expect(await exists(dir)).toBe(false);
    expect(await listing()).toEqual([]);
  });

  it("follows no symlink: what a link inside points to stays", async () => {
    const outside = path.join(tmp, "outside");
    await makeDir(outside, { "keep.txt": "keep", "sub/keep2.txt": "keep2" });
    const dir = path.join(tmp, "old");
    await makeDir(dir, { "a.txt": "a" });
    await fs.symlink(outside, path.join(dir, "to-outside"));
    await fs.mkdir(path.join(dir, "nested"));
    await fs.symlink(path.join(outside, "sub"), path.join(dir, "nested", "to-sub"));
    await removeTree(dir);
    expect(await exists(dir)).toBe(false);
    expect(await read(outside, "keep.txt")).toBe("keep");
    expect(await read(outside, "sub/keep2.txt")).toBe("keep2");
  });

  it("removes a file or a symlink given as the root, and accepts a path that is not there", async () => {
    await fs.writeFile(path.join(tmp, "file"), "x");
    await makeDir(path.join(tmp, "real"), { "keep.txt": "keep" });
    await fs.symlink(path.join(tmp, "real"), path.join(tmp, "link"));
    await removeTree(path.join(tmp, "file"));
    await removeTree(path.join(tmp, "link"));
    await removeTree(path.join(tmp, "missing"));
    expect(await listing()).toEqual(["real"]);
    expect(await read(path.join(tmp, "real"), "keep.txt")).toBe("keep");
  });

  it("does not enter another file system mounted inside: it fails, and what is mounted stays", async () => {
    const dir = path.join(tmp, "old");
    await makeDir(dir, { "a.txt": "a", "b/c.txt": "c" });
    const mount = path.join(dir, "b", "mnt");
    await fs.mkdir(mount);
    await promisify(execFile)("mount", ["-t", "tmpfs", "-o", "size=1m", "kd-test", mount]);
    try {
      await fs.writeFile(path.join(mount, "precious.txt"), "precious");
      await expect(removeTree(dir)).rejects.toThrow(/^rm -rf failed: .*different device$/);
      expect(await read(mount, "precious.txt")).toBe("precious");
      expect(await exists(path.join(dir, "a.txt"))).toBe(false);
    } finally {
      await promisify(execFile)("umount", [mount]);
    }
  });
});

describe("repeatFlush", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("flushes again and again, never two at once, and stop waits for the flush under way", async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    let ended = 0;
    const flushing = repeatFlush(async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      await sleep(15);
      running--;
      ended++;
    }, 5);
    await sleep(120);
    await flushing.stop();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(most).toBe(1);
    // stop() resolved only once the flush under way had ended; none starts after it.
    expect(ended).toBe(calls);
    await sleep(40);
    expect(calls).toBe(ended);
  });

  it("goes on after a failing flush; stopped before the first interval, it never flushes", async () => {
    let calls = 0;
    const failing = repeatFlush(async () => {
      calls++;
      throw new Error("sync failed");
    }, 5);
    await sleep(60);
    await failing.stop();
    expect(calls).toBeGreaterThanOrEqual(2);

    let never = 0;
    const stopped = repeatFlush(async () => {
      never++;
    }, 1000);
    await stopped.stop();
    await sleep(20);
    expect(never).toBe(0);
  });
});

describe("flushing while writing: only below the kernel's background writeback threshold", () => {
  const GiB = 1024 ** 3;

  it("flushes data the kernel would hold in memory to the end, not more, not unknown sizes", () => {
    expect(flushesWhileWriting(2 * GiB, 2.3 * GiB)).toBe(true);
    expect(flushesWhileWriting(5 * GiB, 2.3 * GiB)).toBe(false);
    expect(flushesWhileWriting(0, 2.3 * GiB)).toBe(false);
    expect(flushesWhileWriting(2 * GiB, undefined)).toBe(false);
  });

  const meminfo = "MemTotal:       24000000 kB\nMemFree:        13000000 kB\nMemAvailable:   20000000 kB\n";
  it.each([
    ["dirty_background_bytes when set", { bytes: "536870912\n", ratio: "0\n" }, 536870912],
    ["else the ratio of the memory available", { bytes: "0\n", ratio: "10\n" }, 2_048_000_000],
    ["nothing when neither can be read", {}, undefined],
  ])("reads the threshold: %s", async (_, vm: { bytes?: string; ratio?: string }, expected) => {
    const proc = await fs.mkdtemp(path.join(tmp, "proc-"));
    await fs.mkdir(path.join(proc, "sys", "vm"), { recursive: true });
    await fs.writeFile(path.join(proc, "meminfo"), meminfo);
    if (vm.bytes) await fs.writeFile(path.join(proc, "sys/vm/dirty_background_bytes"), vm.bytes);
    if (vm.ratio) await fs.writeFile(path.join(proc, "sys/vm/dirty_background_ratio"), vm.ratio);
    expect(await backgroundWritebackThreshold(proc)).toBe(expected);
  });

  it("on this host: a positive number", async () => {
    expect(await backgroundWritebackThreshold()).toBeGreaterThan(0);
  });
});
