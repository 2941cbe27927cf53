// The backup use case: cold, consistent snapshots of each unit's data, containers back as they were.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { collectFsMetadata } from "../adapters/fs/metadata.js";
import { treeSize } from "../adapters/fs/tree.js";
import { findOpenFiles } from "../adapters/host/open-files.js";
import { errorMessage, InterruptedError, UsageError } from "../domain/errors.js";
import { FS_METADATA_FILE, type FsMetadata, fsMetadataSourcePath } from "../domain/fs-metadata.js";
import type { BackupScope, BackupUnit, Container } from "../domain/model.js";
import { bindTags, fsMetadataTags, type Tags, volumeTags } from "../domain/tags.js";
import { planStops } from "../domain/units.js";
import { startContainers, stopContainers } from "./containers.js";
import type { Context } from "./context.js";
import { discover, selectUnits } from "./discover.js";
import { applyGlobalPolicy } from "./policy.js";

export interface BackupRequest {
  units: readonly string[];
  dryRun: boolean;
}

export interface SnapshotItemResult {
  kind: "volume" | "bind";
  name: string;
  path: string;
  format: "direct" | "tar";
  snapshotId?: string;
  sizeBytes: number;
  durationMs?: number;
  error?: string;
}

export type UnitStatus = "ok" | "failed" | "interrupted" | "planned";

export interface UnitBackupResult {
  unit: string;
  status: UnitStatus;
  backupId: string;
  items: SnapshotItemResult[];
  /** Containers stopped for the snapshot, in stop order. */
  stopped: string[];
  /** Containers that could not be brought back, with the reason. */
  notRestarted: { container: string; reason: string }[];
  downtimeMs: number;
  warnings: string[];
  error?: string;
}

export interface BackupReport {
  dryRun: boolean;
  scope: BackupScope;
  units: UnitBackupResult[];
  warnings: string[];
}

interface PlannedItem {
  kind: "volume" | "bind";
  name: string;
  path: string;
  format: "direct" | "tar";
  formatReason?: string;
  tags: (sizeBytes: number) => Tags;
  metadataTags: Tags;
}

function planItems(unit: BackupUnit, backupId: string, scope: BackupScope, timestamp: Date): PlannedItem[] {
  const common = { unit: unit.name, backupId, scope, timestamp };
  return [
    ...unit.volumes.map(
      (v): PlannedItem => ({
        kind: "volume",
        name: v.volume.name,
        path: v.volume.mountpoint,
        format: v.format,
        ...(v.formatReason ? { formatReason: v.formatReason } : {}),
        tags: (sizeBytes) => volumeTags({ ...common, volume: v.volume, format: v.format, sizeBytes }),
        metadataTags: fsMetadataTags({ ...common, for: "volume", volume: v.volume.name }),
      }),
    ),
    ...unit.binds.map(
      (b): PlannedItem => ({
        kind: "bind",
        name: b.source,
        path: b.source,
        format: "direct",
        tags: (sizeBytes) =>
          bindTags({
            ...common,
            source: b.source,
            destination: b.destination,
            readOnly: b.readOnly,
            sizeBytes,
          }),
        metadataTags: fsMetadataTags({ ...common, for: "bind", source: b.source }),
      }),
    ),
  ];
}

export async function runBackup(ctx: Context, request: BackupRequest): Promise<BackupReport> {
  const { settings } = ctx;
  const scope = settings.config.backup.backup_scope;
  const found = await discover(ctx.docker, settings.config.backup.backup_format);
  const { selected, unknown } = selectUnits(found.units, request.units);
  if (unknown.length > 0)
    throw new UsageError(
      `unknown unit ${unknown.join(", ")}: known units are ${found.units.map((u) => u.name).join(", ") || "(none)"}; see \`kopi-docka list\``,
    );
  const warnings: string[] = [];

  if (request.dryRun) {
    const now = ctx.clock.now();
    return {
      dryRun: true,
      scope,
      warnings,
      units: selected.map((unit) => {
        const plan = planStops(unit, found.containers);
        return {
          unit: unit.name,
          status: "planned",
          backupId: "",
          items: planItems(unit, "", scope, now).map((i) => ({
            kind: i.kind,
            name: i.name,
            path: i.path,
            format: i.format,
            sizeBytes: 0,
            ...(i.formatReason ? { error: `falls back to TAR: ${i.formatReason}` } : {}),
          })),
          stopped: plan.stop.map((c) => c.name),
          notRestarted: [],
          downtimeMs: 0,
          warnings: [],
        };
      }),
    };
  }

  // Pre-flight: nothing is stopped until the repository answers with the right password.
  await ctx.kopia.status();
  warnings.push(...(await applyGlobalPolicy(ctx)));

  const results: UnitBackupResult[] = [];
  for (const unit of selected) {
    if (ctx.signal.aborted) {
      results.push({
        unit: unit.name,
        status: "interrupted",
        backupId: "",
        items: [],
        stopped: [],
        notRestarted: [],
        downtimeMs: 0,
        warnings: [],
        error: "not started: the run was interrupted",
      });
      continue;
    }
    results.push(await backupUnit(ctx, unit, found.containers, scope));
  }
  if (!ctx.signal.aborted && results.some((r) => r.status === "ok")) {
    try {
      await ctx.kopia.maintenance();
    } catch (error) {
      warnings.push(`kopia maintenance failed: ${errorMessage(error)}`);
    }
  }
  return { dryRun: false, scope, units: results, warnings };
}

async function backupUnit(
  ctx: Context,
  unit: BackupUnit,
  allContainers: readonly Container[],
  scope: BackupScope,
): Promise<UnitBackupResult> {
  const { log, settings } = ctx;
  const backupId = randomUUID();
  const timestamp = ctx.clock.now();
  const items = planItems(unit, backupId, scope, timestamp);
  const result: UnitBackupResult = {
    unit: unit.name,
    status: "ok",
    backupId,
    items: [],
    stopped: [],
    notRestarted: [],
    downtimeMs: 0,
    warnings: [],
  };
  const tarItem = items.find((i) => i.format === "tar");
  if (tarItem) {
    result.status = "failed";
    result.error = `${tarItem.kind} ${tarItem.name} needs the TAR format (${tarItem.formatReason ?? "configured"}), which this version does not write yet`;
    return result;
  }
  // Sizes are read while the containers still run: no downtime is spent on them.
  const sizes = await Promise.all(items.map((i) => treeSize(i.path)));
  const plan = planStops(unit, allContainers);
  log.info(`unit ${unit.name}: ${items.length} item(s), stopping ${plan.stop.length} container(s)`);
  const downStart = Date.now();
  let stoppedContainers: Container[] = [];
  const metadataRecords: { item: PlannedItem; metadata: FsMetadata }[] = [];
  try {
    const stop = await stopContainers(ctx.docker, plan.stop, settings.config.backup.stop_timeout, log);
    stoppedContainers = stop.stopped;
    result.stopped = stop.stopped.map((c) => c.name);
    if (stop.error) throw new Error(stop.error);
    // Something outside the stopped containers may still write: say so (checked while Kopia reads).
    const openFiles = findOpenFiles(items.map((i) => i.path)).then((open) => {
      for (const f of open) {
        const warning = `process ${f.pid} (${f.command}) outside the stopped containers has ${f.path} open during the snapshot`;
        result.warnings.push(warning);
        log.warn(`${unit.name}: ${warning}`);
      }
    });
    for (const [index, item] of items.entries()) {
      const sizeBytes = sizes[index] ?? 0;
      const started = Date.now();
      const itemResult: SnapshotItemResult = {
        kind: item.kind,
        name: item.name,
        path: item.path,
        format: item.format,
        sizeBytes,
      };
      result.items.push(itemResult);
      log.info(`snapshot ${item.kind} ${item.name}`);
      // What Kopia does not keep is read while Kopia reads the data: no extra downtime.
      const [record, metadata] = await Promise.all([
        ctx.kopia.snapshotCreate(item.path, { tags: item.tags(sizeBytes) }, ctx.signal),
        collectFsMetadata(item.path),
      ]);
      itemResult.snapshotId = record.id;
      itemResult.durationMs = Date.now() - started;
      metadataRecords.push({ item, metadata });
    }
    await openFiles;
  } catch (error) {
    const interrupted = error instanceof InterruptedError || ctx.signal.aborted;
    result.status = interrupted ? "interrupted" : "failed";
    result.error = interrupted ? "interrupted: containers were started again" : errorMessage(error);
    const last = result.items.at(-1);
    if (last && !last.snapshotId) last.error = result.error;
  } finally {
    const stoppedIds = new Set(stoppedContainers.map((c) => c.id));
    const toStart = plan.start.filter((c) => stoppedIds.has(c.id));
    result.notRestarted = await startContainers(
      ctx.docker,
      toStart,
      settings.config.backup.start_timeout,
      log,
    );
    result.downtimeMs = stoppedContainers.length > 0 ? Date.now() - downStart : 0;
  }
  // The metadata records are written after the containers run again.
  const metadataIds: string[] = [];
  if (result.status === "ok") {
    try {
      for (const { item, metadata } of metadataRecords) {
        const record = await ctx.kopia.snapshotCreate(
          "-",
          {
            tags: item.metadataTags,
            stdinFile: FS_METADATA_FILE,
            overrideSource: fsMetadataSourcePath(unit.name, item.kind, item.name),
          },
          ctx.signal,
          Readable.from([Buffer.from(JSON.stringify(metadata))]),
        );
        metadataIds.push(record.id);
      }
    } catch (error) {
      result.status = ctx.signal.aborted ? "interrupted" : "failed";
      result.error = `data snapshots saved, but the metadata record failed: ${errorMessage(error)}`;
    }
  }
  // A unit that failed leaves no partial restore point behind: what this run saved is deleted.
  if (result.status === "failed" || result.status === "interrupted") {
    const saved = [
      ...result.items.map((i) => i.snapshotId).filter((id): id is string => id !== undefined),
      ...metadataIds,
    ];
    if (saved.length > 0) {
      try {
        await ctx.kopia.deleteSnapshots(saved);
        result.warnings.push(`deleted the ${saved.length} snapshot(s) this failed run had saved`);
      } catch (error) {
        result.warnings.push(
          `could not delete the partial snapshots ${saved.join(", ")} of this failed run: ${errorMessage(error)}`,
        );
      }
    }
  }
  if (result.notRestarted.length > 0 && result.status === "ok") {
    result.status = "failed";
    result.error = `snapshots saved, but ${result.notRestarted.map((p) => `${p.container} (${p.reason})`).join(", ")} did not come back`;
  }
  return result;
}
