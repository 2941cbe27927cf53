// The protocol around every run that stops containers: one run at a time (the lock), and the
// journal that lets a later run, or `kopi-docka recover`, start what a crashed run left stopped.
import path from "node:path";
import { Journal } from "../adapters/host/journal.js";
import { acquireLock } from "../adapters/host/lock.js";
import { RunRecords } from "../adapters/host/run-records.js";
import { BusyError, errorMessage } from "../domain/errors.js";
import type { RunRecord } from "../domain/run-record.js";
import type { Context } from "./context.js";

export interface RecoverReport {
  started: { container: string; unit: string }[];
  skipped: { container: string; unit: string; reason: string }[];
  failed: { container: string; unit: string; reason: string }[];
  problems: string[];
}

export function journalOf(ctx: Pick<Context, "settings">): Journal {
  return new Journal(path.join(ctx.settings.config.backup.state_directory, "journal"));
}

export function lockFileOf(ctx: Pick<Context, "settings">): string {
  return path.join(ctx.settings.config.backup.state_directory, "kopi-docka.lock");
}

/** Runs fn holding the lock, after starting what a crashed earlier run left stopped. */
export async function exclusiveRun<T>(
  ctx: Context,
  command: string,
  fn: (recovered: RecoverReport) => Promise<T>,
): Promise<T> {
  const file = lockFileOf(ctx);
  const lock = await acquireLock(file, command, ctx.clock.now());
  if (!lock.acquired)
    throw new BusyError(
      `another kopi-docka run (pid ${lock.holder.pid}, ${lock.holder.command}, since ${lock.holder.since}) holds ${file}: wait for it to finish`,
    );
  if (lock.staleRemoved)
    ctx.log.warn(
      `took over the stale lock of pid ${lock.staleRemoved.pid} (${lock.staleRemoved.command}), which no longer runs`,
    );
  try {
    const recovered = await recoverStopped(ctx);
    return await fn(recovered);
  } finally {
    await lock.release();
  }
}

/**
 * Starts, in start order, the containers a crashed run's journal left stopped, unless someone
 * has started or removed them since. Call it holding the lock.
 */
export async function recoverStopped(
  ctx: Pick<Context, "docker" | "settings" | "log">,
): Promise<RecoverReport> {
  const journal = journalOf(ctx);
  const { entries, problems } = await journal.pending();
  const report: RecoverReport = { started: [], skipped: [], failed: [], problems };
  for (const problem of problems) ctx.log.warn(`unreadable journal entry ${problem}`);
  for (const entry of entries) {
    const since = new Date(entry.stoppedAt);
    for (const container of entry.containers) {
      const ref = { container: container.name, unit: entry.unit };
      const status = await ctx.docker.containerStatus(container.id);
      if (!status) {
        report.skipped.push({ ...ref, reason: "removed since" });
      } else if (status.running) {
        report.skipped.push({ ...ref, reason: "already running" });
      } else if (status.startedAt && status.startedAt.getTime() > since.getTime()) {
        report.skipped.push({ ...ref, reason: "started by someone else since, and stopped again" });
      } else {
        try {
          ctx.log.info(
            `recovering: starting ${container.name}, left stopped by an interrupted ${entry.operation} of ${entry.unit}`,
          );
          await ctx.docker.start(container.id);
          const reason = await ctx.docker.waitRunning(
            container.id,
            ctx.settings.config.backup.start_timeout * 1000,
          );
          if (reason) report.failed.push({ ...ref, reason });
          else report.started.push(ref);
        } catch (error) {
          report.failed.push({ ...ref, reason: errorMessage(error) });
        }
      }
    }
    await journal.clear(entry.runId);
  }
  return report;
}

export function runRecordsOf(ctx: Pick<Context, "settings">): RunRecords {
  return new RunRecords(ctx.settings.config.backup.base_path);
}

/** Writes one unit's run record (the older tool's metadata layout, our fields added). */
export async function writeRunRecord(
  ctx: Pick<Context, "settings">,
  record: RunRecord,
  when: Date,
): Promise<string> {
  return runRecordsOf(ctx).write(record, when);
}
