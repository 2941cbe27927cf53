// A small real file system (a loop-mounted ext4 image) that fills up: a real "disk full".
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

export async function mountSmallFilesystem(
  image: string,
  mountpoint: string,
  sizeMiB: number,
): Promise<() => Promise<void>> {
  await run("truncate", ["-s", `${sizeMiB}M`, image]);
  await run("mkfs.ext4", ["-q", "-F", image]);
  await fs.mkdir(mountpoint, { recursive: true });
  await run("mount", ["-o", "loop", image, mountpoint]);
  return async () => {
    await run("umount", [mountpoint]).catch(() => run("umount", ["-l", mountpoint]));
    await fs.rm(image, { force: true });
  };
}
