// Reading ahead with real files: the pages land in the page cache (fincore, util-linux), the access
// times stay as they were, nothing is written, and a file gone since the walk is passed over.
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startReadAhead } from "./read-ahead.js";

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;

/** Drops a file's pages from the page cache (GNU dd: nocache with count=0 covers the whole file). */
async function evict(file: string): Promise<void> {
  await execFileAsync("sync", [file]); // dirty pages stay
  await execFileAsync("dd", [`if=${file}`, "iflag=nocache", "count=0"]);
}
/** Bytes of the file in the page cache. */
async function cached(file: string): Promise<number> {
  const { stdout } = await execFileAsync("fincore", ["--bytes", "--noheadings", "--output", "RES", file]);
  return Number(stdout.trim());
}

describe("startReadAhead (real files)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-read-ahead-"));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("reads the files into the page cache, counts each group's bytes, and changes nothing", async () => {
    const a = path.join(dir, "a.bin");
    const b = path.join(dir, "b.bin");
    const c = path.join(dir, "c.bin");
    await fs.writeFile(a, Buffer.alloc(3 * MiB, 1));
    await fs.writeFile(b, Buffer.alloc(2 * MiB, 2));
    await fs.writeFile(c, Buffer.alloc(2 * MiB, 3));
    const old = new Date("2020-01-01T00:00:00Z");
    for (const f of [a, b, c]) {
      await evict(f);
      expect(await cached(f)).toBe(0);
      await fs.utimes(f, old, old); // (after fincore, which sets the access time)
    }
    const before = await Promise.all([a, b].map((f) => fs.stat(f, { bigint: true })));
    const reading = startReadAhead([
      [
        { path: Buffer.from(a), bytes: 3 * MiB },
        { path: Buffer.from(path.join(dir, "gone.bin")), bytes: MiB },
      ],
      [{ path: Buffer.from(b), bytes: MiB + 4096 }],
    ]);
    // Give it the time to finish; stop() then only reports.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await reading.stop()).toEqual([3 * MiB, MiB + 4096]);
    // Not modified, and (as root, the files' owner) not even their access times. (Looked at
    // before fincore, which sets them.)
    const after = await Promise.all([a, b].map((f) => fs.stat(f, { bigint: true })));
    expect(after.map((s) => s.atime.toISOString())).toEqual([old.toISOString(), old.toISOString()]);
    expect(after.map((s) => [s.atimeNs, s.mtimeNs, s.ctimeNs])).toEqual(
      before.map((s) => [s.atimeNs, s.mtimeNs, s.ctimeNs]),
    );
    expect(await cached(a)).toBe(3 * MiB);
    // (The kernel's own read-ahead may bring in more of b than was read.)
    expect(await cached(b)).toBeGreaterThanOrEqual(MiB + 4096);
    expect(await cached(c)).toBe(0);
    expect((await fs.readFile(a)).equals(Buffer.alloc(3 * MiB, 1))).toBe(true);
  });

  it("stopped at once: it reads no further than the read in flight", async () => {
    const a = path.join(dir, "a.bin");
    await fs.writeFile(a, Buffer.alloc(16 * MiB, 1));
    await evict(a);
    const [read] = await startReadAhead([[{ path: Buffer.from(a), bytes: 16 * MiB }]]).stop();
    expect(read).toBeLessThanOrEqual(MiB);
  });

  it("a FIFO put where a file was does not hold it up", async () => {
    const fifo = path.join(dir, "fifo");
    await execFileAsync("mkfifo", [fifo]);
    const a = path.join(dir, "a.bin");
    await fs.writeFile(a, Buffer.alloc(MiB, 1));
    const reading = startReadAhead([
      [
        { path: Buffer.from(fifo), bytes: MiB },
        { path: Buffer.from(a), bytes: MiB },
      ],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await reading.stop()).toEqual([MiB]);
  });
});
