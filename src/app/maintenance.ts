// Kopia's maintenance, run by the backup once its containers are up, when it is due.
import { promises as fs } from "node:fs";
import path from "node:path";
import { writePrivateFile } from "../adapters/fs/private-file.js";
import { type MaintenanceState, maintenanceDue } from "../domain/maintenance.js";
import type { Context } from "./context.js";

/** What the run did: the kind it ran, nothing (not due), or nothing (another client owns it). */
export type MaintenanceOutcome = "quick" | "full" | "not due" | "not owner";

function stateFile(ctx: Pick<Context, "settings">): string {
  return path.join(ctx.settings.config.backup.state_directory, "maintenance.json");
}

async function readState(file: string): Promise<MaintenanceState> {
  try {
    const parsed: unknown = JSON.parse(await fs.readFile(file, "utf8"));
    return parsed && typeof parsed === "object" ? (parsed as MaintenanceState) : {};
  } catch {
    return {};
  }
}

/** Runs quick or full maintenance when due (see domain/maintenance.ts) and records when. */
export async function maintainWhenDue(
  ctx: Pick<Context, "kopia" | "settings" | "clock">,
): Promise<MaintenanceOutcome> {
  const file = stateFile(ctx);
  const state = await readState(file);
  const now = ctx.clock.now();
  const due = maintenanceDue(state, now);
  if (!due) return "not due";
  const ran = await ctx.kopia.maintenance(due === "full");
  const at = now.toISOString();
  await writePrivateFile(
    file,
    `${JSON.stringify({ ...state, quick: at, ...(due === "full" ? { full: at } : {}) })}\n`,
    {
      overwrite: true,
    },
  );
  return ran === "skipped" ? "not owner" : due;
}
