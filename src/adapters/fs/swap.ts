// Putting restored data in place without a moment of mixed content: the new tree is restored
// beside the old one, then two renames on the same file system swap them; the old tree is kept
// until every swap of the unit has succeeded.
import { promises as fs } from "node:fs";
import { runProcess } from "../process/runner.js";
import { pathExists } from "./tree.js";

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
  if (swap.hadOld) await fs.rm(safetyPath(swap.target), { recursive: true, force: true });
}

/**
 * Writes a staged tree's data to disk (`sync -f`: the file system holding it) before the swap:
 * the new data is durable before the old is moved aside, and the flush is done while the
 * containers still run (the engine would otherwise wait for it when it stops them).
 */
export async function flushToDisk(dir: string): Promise<void> {
  const result = await runProcess({ argv: ["sync", "-f", dir] });
  if (result.exitCode !== 0) throw new Error(`sync -f ${dir} failed: ${result.stderrTail.trim()}`);
}
