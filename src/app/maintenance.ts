// Kopia's maintenance, run by the backup once its containers are up, when it is due.
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writePrivateFile } from "../adapters/fs/private-file.js";
import { errorMessage } from "../domain/errors.js";
import { type MaintenanceState, maintenanceDue } from "../domain/maintenance.js";
import type { Context } from "./context.js";

/** What the run did: the kind it ran, nothing (not due), or nothing (another client owns it). */
export type MaintenanceOutcome = "quick" | "full" | "not due" | "not owner";

function stateFile(ctx: Pick<Context, "settings">): string {
  return path.join(ctx.settings.config.backup.state_directory, "maintenance.json");
}

const stateSchema = z.object({ quick: z.string().optional(), full: z.string().optional() });

/** The recorded times; a missing, unreadable or malformed file counts as never (maintenance is due). */
async function readState(file: string): Promise<MaintenanceState> {
  try {
    return stateSchema.safeParse(JSON.parse(await fs.readFile(file, "utf8"))).data ?? {};
  } catch {
    return {};
  }
}

async function writeState(file: string, state: MaintenanceState): Promise<void> {
  await writePrivateFile(file, `${JSON.stringify(state)}\n`, { overwrite: true });
}

/**
 * Records quick and full maintenance as done at `at`: for a repository just created, which holds
 * nothing to maintain (the first backup then need not run it; it runs on the usual schedule after).
 */
export async function recordMaintained(ctx: Pick<Context, "settings">, at: Date): Promise<void> {
  await writeState(stateFile(ctx), { quick: at.toISOString(), full: at.toISOString() });
}

/**
 * Runs quick or full maintenance when due (see domain/maintenance.ts) and records when. Its
 * errors say in one line which step failed.
 */
export async function maintainWhenDue(
  ctx: Pick<Context, "kopia" | "settings" | "clock">,
): Promise<MaintenanceOutcome> {
  const file = stateFile(ctx);
  const state = await readState(file);
  const now = ctx.clock.now();
  const due = maintenanceDue(state, now);
  if (!due) return "not due";
  let ran: "ran" | "skipped";
  try {
    ran = await ctx.kopia.maintenance(due === "full");
  } catch (error) {
    throw new Error(`kopia ${due} maintenance failed: ${errorMessage(error)}`);
  }
  const at = now.toISOString();
  try {
    await writeState(file, { ...state, quick: at, ...(due === "full" ? { full: at } : {}) });
  } catch (error) {
    throw new Error(
      `kopia ${due} maintenance ran, but its time could not be recorded in ${file} (it runs again next time): ${errorMessage(error)}`,
    );
  }
  return ran === "skipped" ? "not owner" : due;
}
