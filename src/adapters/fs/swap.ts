// Putting restored data in place without a moment of mixed content: the new tree is restored
// beside the old one, then two renames on the same file system swap them; the old tree is kept
// until every swap of the unit has succeeded.
import { isUtf8 } from "node:buffer";
import { promises as fs } from "node:fs";
import path from "node:path";
import { lastLines, runProcess } from "../process/runner.js";
import { mapLimited, pathExists } from "./tree.js";

export const STAGING_SUFFIX = ".kopi-docka-new";
export const SAFETY_SUFFIX = ".kopi-docka-old";

export function stagingPath(target: string): string {
  return `${target}${STAGING_SUFFIX}`;
}

export function safetyPath(target: string): string {
  return `${target}${SAFETY_SUFFIX}`;
}

/**
 * Repairs what an interrupted earlier restore left: when the target is missing but its safety
 * copy exists, the safety copy goes back; leftover staging trees are removed.
 * Returns what it did, for the log.
 */
export async function repairInterruptedSwap(target: string): Promise<string[]> {
  const done: string[] = [];
  const safety = safetyPath(target);
  if (!(await pathExists(target)) && (await pathExists(safety))) {
    await fs.rename(safety, target);
    done.push(`put back ${target} from an interrupted restore`);
  }
  if (await pathExists(stagingPath(target))) {
    await fs.rm(stagingPath(target), { recursive: true, force: true });
    done.push(`removed the staging copy ${stagingPath(target)} of an interrupted restore`);
  }
  return done;
}

export interface Swap {
  target: string;
  /** True when there was old content, now kept at safetyPath(target). */
  hadOld: boolean;
}

/** Moves the staging tree into place; the old tree (if any) goes to its safety path. */
export async function swapIn(target: string): Promise<Swap> {
  const staging = stagingPath(target);
  const safety = safetyPath(target);
  await fs.rm(safety, { recursive: true, force: true });
  const hadOld = await pathExists(target);
  if (hadOld) await fs.rename(target, safety);
  try {
    await fs.rename(staging, target);
  } catch (error) {
    if (hadOld) await fs.rename(safety, target);
    throw error;
  }
  return { target, hadOld };
}

/** Undoes a swap: the old tree goes back, the new one is removed. */
export async function swapBack(swap: Swap): Promise<void> {
  const safety = safetyPath(swap.target);
  if (swap.hadOld) {
    await fs.rename(swap.target, stagingPath(swap.target));
    await fs.rename(safety, swap.target);
    await fs.rm(stagingPath(swap.target), { recursive: true, force: true });
  } else {
    await fs.rm(swap.target, { recursive: true, force: true });
  }
}

/** Drops the safety copy once the unit's restore is complete. */
export async function dropSafetyCopy(swap: Swap): Promise<void> {
  if (swap.hadOld) await removeTree(safetyPath(swap.target));
}

/** How many `rm` processes remove a large tree side by side. */
const REMOVERS = 8;
/** The most bytes of paths one `rm` is given (far below the kernel's limit on arguments). */
const BATCH_BYTES = 64 * 1024;

/**
 * Removes a directory tree as `rm -rf --one-file-system` does, but with several `rm` at once: each
 * unlink waits on the file system's journal, not on a CPU (20,000 files: 1.45 s with Node's own
 * removal, which runs 4 calls at a time, about 1 s this way). The tree's first levels are read
 * (symlinks not followed, other file systems not entered) until there are enough pieces to share
 * out; a last `rm` removes what is left: the directories read, names that are not UTF-8 (they
 * cannot be passed as arguments), and it refuses what lies on another file system.
 */
export async function removeTree(dir: string): Promise<void> {
  const root = await fs.lstat(dir).catch(() => undefined);
  if (!root) return;
  const pieces: string[] = [];
  if (root.isDirectory()) {
    let dirs = [dir];
    for (let depth = 0; depth < 4 && dirs.length > 0 && pieces.length + dirs.length < REMOVERS * 4; depth++) {
      const next: string[] = [];
      for (const parent of dirs) {
        for (const child of await fs.readdir(parent, { withFileTypes: true, encoding: "buffer" })) {
          if (!isUtf8(child.name)) continue;
          const piece = path.join(parent, child.name.toString("utf8"));
          if (!child.isDirectory()) pieces.push(piece);
          else if ((await fs.lstat(piece)).dev === root.dev) next.push(piece);
        }
      }
      dirs = next;
    }
    pieces.push(...dirs);
  }
  // About equal shares, none longer than BATCH_BYTES.
  const share = Math.ceil(pieces.length / REMOVERS);
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const piece of pieces) {
    if (batch.length >= share || (batch.length > 0 && bytes + piece.length >= BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(piece);
    bytes += piece.length + 1;
  }
  if (batch.length > 0) batches.push(batch);
  const remove = (paths: readonly string[]) => runTool(["rm", "-rf", "--one-file-system", "--", ...paths]);
  await mapLimited(batches, REMOVERS, remove);
  await remove([dir]);
}

/** Runs a small tool that says nothing when it succeeds; a failure is its last line of stderr. */
async function runTool(argv: readonly string[]): Promise<void> {
  const result = await runProcess({ argv });
  if (result.exitCode !== 0)
    throw new Error(`${argv.slice(0, 2).join(" ")} failed: ${lastLines(result.stderrTail, 1)}`);
}

/** How often the data being staged is written to disk while it is restored. */
export const BACKGROUND_FLUSH_MS = 1000;

export interface BackgroundFlush {
  /** Stops the flushes; resolves once the one under way (if any) has ended. */
  stop(): Promise<void>;
}

/**
 * Flushes again and again (never two at once, `intervalMs` between the end of one and the start of
 * the next) until stopped. Failures are ignored: the flush after the restore is the one that
 * counts, and it reports its own.
 */
export function repeatFlush(flush: () => Promise<void>, intervalMs = BACKGROUND_FLUSH_MS): BackgroundFlush {
  let stopped = false;
  let underway: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    underway = flush()
      .catch(() => {})
      .then(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await underway;
    },
  };
}

/**
 * Writes the data of the file system holding `dir` to disk every second while a restore writes
 * `sizeBytes` into it, when that is below the kernel's background writeback threshold (undefined
 * otherwise: nothing to stop). The kernel would keep it all in memory until the flush before the swap when it is less
 * than its background writeback threshold (2 GiB on a 24 GiB host took 1.2-1.5 s to write then,
 * after the restore); written while the restore runs (it waits on its CPU, not the disk), that
 * last flush has little left to do (0.1 s). Above the threshold the kernel writes in the background by itself, and a flush every second only
 * adds its barriers (5 GiB restored 1.2 to 7.4 s slower with it).
 */
export async function flushWhileWriting(
  dir: string,
  sizeBytes: number,
): Promise<BackgroundFlush | undefined> {
  if (!flushesWhileWriting(sizeBytes, await backgroundWritebackThreshold())) return undefined;
  return repeatFlush(() => flushToDisk(dir));
}

/** Whether restoring `sizeBytes` gains from flushWhileWriting, given the kernel's threshold. */
export function flushesWhileWriting(sizeBytes: number, threshold: number | undefined): boolean {
  return threshold !== undefined && sizeBytes > 0 && sizeBytes < threshold;
}

/**
 * How much written data the kernel keeps in memory before it starts writing it out in the
 * background: `vm.dirty_background_bytes`, or `vm.dirty_background_ratio` percent of the memory
 * available (the kernel's "dirtyable" memory is close to MemAvailable). Undefined where unknown.
 */
export async function backgroundWritebackThreshold(proc = "/proc"): Promise<number | undefined> {
  const read = (file: string) => fs.readFile(path.join(proc, file), "utf8").catch(() => undefined);
  const bytes = Number((await read("sys/vm/dirty_background_bytes"))?.trim());
  if (Number.isFinite(bytes) && bytes > 0) return bytes;
  const ratio = Number((await read("sys/vm/dirty_background_ratio"))?.trim());
  const availableKiB = Number(/^MemAvailable:\s+(\d+) kB$/m.exec((await read("meminfo")) ?? "")?.[1]);
  if (!Number.isFinite(ratio) || !Number.isFinite(availableKiB) || ratio <= 0) return undefined;
  return (availableKiB * 1024 * ratio) / 100;
}

/**
 * Writes a staged tree's data to disk (`sync -f`: the file system holding it) before the swap:
 * the new data is durable before the old is moved aside, and the flush is done while the
 * containers still run (the engine would otherwise wait for it when it stops them).
 */
export async function flushToDisk(dir: string): Promise<void> {
  await runTool(["sync", "-f", dir]);
}
