// The history use case: run records, newest first, filtered.
import type { HistoryEntry } from "../domain/run-record.js";
import type { Context } from "./context.js";
import { runRecordsOf } from "./run-guard.js";

export interface HistoryRequest {
  unit?: string | undefined;
  failedOnly?: boolean;
  last?: number | undefined;
}

export async function readHistory(
  ctx: Pick<Context, "settings" | "log">,
  request: HistoryRequest,
): Promise<{ entries: HistoryEntry[]; skipped: string[] }> {
  const { entries, skipped } = await runRecordsOf(ctx).read();
  for (const s of skipped) ctx.log.warn(`skipped ${s}`);
  const filtered = entries
    .filter((e) => request.unit === undefined || e.unit === request.unit)
    .filter((e) => !request.failedOnly || !e.success);
  return { entries: request.last !== undefined ? filtered.slice(0, request.last) : filtered, skipped };
}
