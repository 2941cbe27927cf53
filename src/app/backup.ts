// The backup use case: cold, consistent snapshots of each unit's data, containers back as they were.
import { randomUUID } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import { Readable } from "node:stream";
import { collectFsMetadata, surveyTree } from "../adapters/fs/metadata.js";
import { findOpenFiles } from "../adapters/host/open-files.js";
import type { RepositoryStatus } from "../adapters/kopia/kopia-client.js";
import { startTarWriter, tarEntryName } from "../adapters/tar/gnu-tar.js";
import { rebaseArchive } from "../adapters/tar/rebase.js";
import { ExitCode, ExternalError, errorMessage, InterruptedError, UsageError } from "../domain/errors.js";
import { EXCLUDE_LABEL, mergeExcludes, parseExcludeLabel, tarExcludePattern } from "../domain/excludes.js";
import { FS_METADATA_FILE, type FsMetadata, fsMetadataSourcePath } from "../domain/fs-metadata.js";
import type { BackupFormat, BackupScope, BackupUnit, Container } from "../domain/model.js";
import { type CoverageEntry, composeFilesOf, resolveThroughMounts } from "../domain/recipe.js";
import type { SnapshotRecord } from "../domain/restore-points.js";
import { errorDetail, type RunErrorDetail, type RunRecord } from "../domain/run-record.js";
import {
  bindTags,
  dockerConfigTags,
  fsMetadataTags,
  networksTags,
  recipeTags,
  type Tags,
  volumeTags,
} from "../domain/tags.js";
import { planStops } from "../domain/units.js";
import { VERSION } from "../version.js";
import { type StartProblem, startContainers, stopContainers, verifyStillRunning } from "./containers.js";
import type { Context } from "./context.js";
import { discover, selectUnits } from "./discover.js";
import { applyGlobalPolicy, syncSourcePolicy } from "./policy.js";
import { checkFreeSpace, checkRepositoryWritable, estimateNewData } from "./preflight.js";
import { stageDockerConfig, stageNetworks, stageRecipe } from "./recipe.js";
import { exclusiveRun, journalOf, type RecoverReport, writeRunRecord } from "./run-guard.js";

export interface BackupRequest {
  units: readonly string[];
  dryRun: boolean;
  /** Overrides `backup.backup_format` for this run. */
  format?: BackupFormat | undefined;
  /** Overrides `backup.backup_scope` for this run. */
  scope?: BackupScope | undefined;
}

export interface SnapshotItemResult {
  kind: "volume" | "bind" | "recipe" | "networks" | "docker_config";
  name: string;
  path: string;
  format: "direct" | "tar";
  /** Patterns left out of the snapshot. */
  excludes: string[];
  /** Why this volume is read through the Engine API in the TAR format (no readable host path). */
  fallbackReason?: string;
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
  notRestarted: StartProblem[];
  downtimeMs: number;
  warnings: string[];
  error?: string;
  /** Each error with the phase it happened in, the exit code and stderr tail of what failed. */
  errorDetails?: RunErrorDetail[];
  /** What of the unit is not protected, and why (from the recipe's coverage manifest, or planned). */
  gaps?: CoverageEntry[];
  /** Custom networks saved (scopes standard and full). */
  networks?: number;
}

export interface BackupReport {
  dryRun: boolean;
  /** Containers a crashed earlier run had left stopped, started again before this run. */
  recovered?: RecoverReport;
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
  /** Gitignore-style patterns: the config's, and the label of every container mounting the item. */
  excludes: string[];
}

function planItems(
  unit: BackupUnit,
  backupId: string,
  scope: BackupScope,
  timestamp: Date,
  configExcludes: readonly string[],
): PlannedItem[] {
  const common = {
    unit: unit.name,
    backupId,
    scope,
    timestamp,
    unitItems:
      unit.volumes.length + unit.binds.length + (scope === "minimal" ? 0 : 2) + (scope === "full" ? 1 : 0),
  };
  const excludesFor = (usedBy: readonly string[]) =>
    mergeExcludes(
      configExcludes,
      ...unit.containers
        .filter((c) => usedBy.includes(c.name))
        .map((c) => parseExcludeLabel(c.labels[EXCLUDE_LABEL])),
    );
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
        excludes: excludesFor(v.usedBy),
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
        excludes: excludesFor(b.usedBy),
      }),
    ),
  ];
}

export async function runBackup(ctx: Context, request: BackupRequest): Promise<BackupReport> {
  const { settings } = ctx;
  const scope = request.scope ?? settings.config.backup.backup_scope;
  const excludes = settings.config.backup.exclude_patterns;
  const found = await discover(ctx.docker, request.format ?? settings.config.backup.backup_format);
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
      units: await Promise.all(
        selected.map(async (unit) => {
          const plan = planStops(unit, found.containers);
          const composeGaps = scope === "minimal" ? [] : await unreadableComposeFiles(unit, found.containers);
          return {
            unit: unit.name,
            status: "planned",
            backupId: "",
            items: planItems(unit, "", scope, now, excludes).map((i) => ({
              kind: i.kind,
              name: i.name,
              path: i.path,
              format: i.format,
              excludes: i.excludes,
              sizeBytes: 0,
              ...(i.formatReason ? { fallbackReason: i.formatReason } : {}),
            })),
            stopped: plan.stop.map((c) => c.name),
            notRestarted: [],
            downtimeMs: 0,
            warnings: [],
            gaps: [
              ...unit.skipped.map((m) => ({
                kind: "bind" as const,
                name: m.source,
                status: "not protected" as const,
                reason: m.reason,
              })),
              ...composeGaps,
            ],
          };
        }),
      ),
    };
  }

  return exclusiveRun(ctx, "backup", async (recovered) => {
    // A crashed earlier run's containers were just started again: see the host as it is now.
    const current =
      recovered.started.length > 0
        ? await discover(ctx.docker, request.format ?? settings.config.backup.backup_format)
        : found;
    const units = selectUnits(current.units, request.units).selected;
    // Pre-flight: nothing is stopped until the repository answers with the right password.
    const status = await ctx.kopia.status();
    await checkRepositoryWritable(status);
    const previous = status.storageType === "filesystem" ? await ctx.kopia.listSnapshots() : [];
    await applyGlobalPolicy(ctx);

    const results: UnitBackupResult[] = [];
    for (const unit of units) {
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
      const started = ctx.clock.now();
      const result = await backupUnit(ctx, unit, current.containers, scope, { status, previous });
      results.push(result);
      await writeRunRecord(
        ctx,
        backupRecord(
          result,
          started,
          ctx.clock.now(),
          scope,
          request.format ?? settings.config.backup.backup_format,
          ctx.signal,
        ),
        started,
      ).catch((error: unknown) =>
        warnings.push(`could not write the run record of ${unit.name}: ${errorMessage(error)}`),
      );
    }
    if (!ctx.signal.aborted && results.some((r) => r.status === "ok")) {
      try {
        await ctx.kopia.maintenance();
      } catch (error) {
        warnings.push(`kopia maintenance failed: ${errorMessage(error)}`);
      }
    }
    return { dryRun: false, scope, units: results, warnings, recovered };
  });
}

async function backupUnit(
  ctx: Context,
  unit: BackupUnit,
  allContainers: readonly Container[],
  scope: BackupScope,
  repository: { status: RepositoryStatus; previous: readonly SnapshotRecord[] },
): Promise<UnitBackupResult> {
  const { log, settings } = ctx;
  const backupId = randomUUID();
  const timestamp = ctx.clock.now();
  const items = planItems(unit, backupId, scope, timestamp, settings.config.backup.exclude_patterns);
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
  // Units run one after another: what discovery saw may have changed since. A volume that is
  // gone fails the unit before anything stops; containers removed or stopped since are left alone.
  for (const v of unit.volumes) {
    if (!(await ctx.docker.inspectVolume(v.volume.name))) {
      result.status = "failed";
      result.error = `volume ${v.volume.name} no longer exists (removed after discovery); nothing was stopped`;
      result.errorDetails = [{ phase: "plan", message: result.error }];
      return result;
    }
  }
  // One walk of each item while the containers still run (no downtime is spent on it): its size,
  // and its names that are not valid UTF-8. Kopia would mangle those: such a volume is written
  // as TAR, which keeps them; a bind mount cannot be, so the unit fails before anything stops.
  const surveys = await Promise.all(items.map((i) => surveyTree(i.path)));
  for (const [index, item] of items.entries()) {
    const names = surveys[index]?.nonUtf8Names ?? [];
    if (item.format !== "direct" || names.length === 0) continue;
    const sample = names.slice(0, 3).join(", ");
    if (item.kind === "bind") {
      result.status = "failed";
      result.error = `bind ${item.name} holds ${names.length} name(s) that are not valid UTF-8 (${sample}); Kopia would mangle them: rename them, or move the data into a volume`;
      return result;
    }
    item.format = "tar";
    item.tags = retagFormat(item.tags, "tar");
    const warning = `volume ${item.name} holds ${names.length} name(s) that are not valid UTF-8 (${sample}): written in the TAR format, which keeps them`;
    result.warnings.push(warning);
    log.warn(`${unit.name}: ${warning}`);
  }
  const sizes = surveys.map((survey) => survey.sizeBytes);
  try {
    const estimate = estimateNewData(
      items.map((item, index) => ({
        path: item.path,
        sizeBytes: sizes[index] ?? 0,
        stdinSource: item.format === "tar" ? tarSourcePath(unit.name, item.name) : undefined,
      })),
      repository.previous,
      repository.status.hostname,
    );
    checkFreeSpace(repository.status, estimate, unit.name);
  } catch (error) {
    result.status = "failed";
    result.error = errorMessage(error);
    result.errorDetails = [errorDetail("plan", error)];
    return result;
  }
  // Kopia's ignore rules for each direct source, set while the containers still run.
  try {
    for (const item of items)
      if (item.format === "direct") await syncSourcePolicy(ctx, item.path, item.excludes);
  } catch (error) {
    result.status = "failed";
    result.error = `could not set Kopia's policy for the unit's data: ${errorMessage(error)}`;
    result.errorDetails = [errorDetail("plan", error)];
    return result;
  }
  // The recipe, the networks and the daemon configuration do not change when the containers
  // stop: they are saved before, while everything still runs.
  if (scope !== "minimal") {
    try {
      const common = {
        unit: unit.name,
        backupId,
        scope,
        timestamp,
        unitItems: unitItemCount(unit, scope),
      };
      const recipe = await stageRecipe(ctx, unit, allContainers);
      result.gaps = recipe.coverage.filter((c) => c.status !== "backed up");
      result.items.push(await snapshotStaged(ctx, "recipe", unit.name, recipe.dir, recipeTags(common)));
      const networks = await stageNetworks(ctx, unit);
      result.items.push(
        await snapshotStaged(
          ctx,
          "networks",
          unit.name,
          networks.dir,
          networksTags({ ...common, networkCount: networks.count }),
        ),
      );
      if (scope === "full") {
        const docker = await stageDockerConfig(ctx, unit);
        result.items.push(
          await snapshotStaged(
            ctx,
            "docker_config",
            unit.name,
            docker.dir,
            dockerConfigTags({ ...common, files: docker.files }),
          ),
        );
      }
    } catch (error) {
      result.status = ctx.signal.aborted ? "interrupted" : "failed";
      result.error = `could not save the unit's recipe: ${errorMessage(error)}`;
      result.errorDetails = [errorDetail("recipe", error)];
      const saved = result.items.map((i) => i.snapshotId).filter((id): id is string => id !== undefined);
      await ctx.kopia.deleteSnapshots(saved).catch(() => undefined);
      return result;
    }
  }
  const planned = planStops(unit, allContainers);
  const stillRunning = new Set<string>();
  for (const c of planned.stop) if ((await ctx.docker.containerStatus(c.id))?.running) stillRunning.add(c.id);
  const plan = {
    stop: planned.stop.filter((c) => stillRunning.has(c.id)),
    start: planned.start.filter((c) => stillRunning.has(c.id)),
  };
  log.info(`unit ${unit.name}: ${items.length} item(s), stopping ${plan.stop.length} container(s)`);
  const downStart = Date.now();
  let stoppedContainers: Container[] = [];
  let journalId: string | undefined;
  let phase = "stop";
  const metadataRecords: { item: PlannedItem; metadata: FsMetadata }[] = [];
  try {
    // Written before the first stop: if kopi-docka dies, `recover` knows what to start again.
    if (plan.stop.length > 0)
      journalId = await journalOf(ctx).record({
        operation: "backup",
        unit: unit.name,
        stoppedAt: ctx.clock.now().toISOString(),
        containers: plan.start.map((c) => ({ id: c.id, name: c.name })),
      });
    const stop = await stopContainers(ctx.docker, plan.stop, settings.config.backup.stop_timeout, log);
    stoppedContainers = stop.stopped;
    result.stopped = stop.stopped.map((c) => c.name);
    for (const name of stop.killed)
      result.warnings.push(
        `${name} did not stop within ${settings.config.backup.stop_timeout} s and was killed by the engine`,
      );
    if (stop.error) throw new Error(stop.error);
    // Something outside the stopped containers may still write: say so (checked while Kopia reads).
    const openFiles = findOpenFiles(items.map((i) => i.path)).then((open) => {
      for (const f of open) {
        const warning = `process ${f.pid} (${f.command}) outside the stopped containers has ${f.path} open during the snapshot`;
        result.warnings.push(warning);
        log.warn(`${unit.name}: ${warning}`);
      }
    });
    phase = "snapshot";
    for (const [index, item] of items.entries()) {
      const sizeBytes = sizes[index] ?? 0;
      const started = Date.now();
      const itemResult: SnapshotItemResult = {
        kind: item.kind,
        name: item.name,
        path: item.path,
        format: item.format,
        excludes: item.excludes,
        ...(item.formatReason ? { fallbackReason: item.formatReason } : {}),
        sizeBytes,
      };
      result.items.push(itemResult);
      log.info(`snapshot ${item.kind} ${item.name}`);
      if (item.format === "tar") {
        itemResult.snapshotId =
          item.formatReason !== undefined
            ? await snapshotTarThroughEngine(ctx, unit, item, sizeBytes)
            : await snapshotTar(ctx, unit, item, sizeBytes);
        itemResult.durationMs = Date.now() - started;
        continue;
      }
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
    result.errorDetails = [errorDetail(phase, error)];
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
    // Kept when the engine could not be reached: `recover` starts those later.
    if (journalId && !result.notRestarted.some((p) => p.engineUnreachable))
      await journalOf(ctx).clear(journalId);
    result.downtimeMs = stoppedContainers.length > 0 ? Date.now() - downStart : 0;
    const failedToStart = new Set(result.notRestarted.map((p) => p.container));
    result.notRestarted.push(
      ...(await verifyStillRunning(
        ctx.docker,
        toStart.filter((c) => !failedToStart.has(c.name)),
      )),
    );
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
      result.errorDetails = [errorDetail("metadata", error)];
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

/** Source path under which a unit's TAR volume snapshots are recorded: stable per unit and volume. */
export function tarSourcePath(unit: string, volume: string): string {
  return `/var/cache/kopi-docka/staging/tar/${encodeURIComponent(unit)}/${encodeURIComponent(volume)}`;
}

/**
 * The legacy TAR format: GNU tar's stream piped straight into `kopia snapshot create --stdin-file`.
 * A tar failure fails the snapshot, and what kopia saved of the truncated stream is deleted.
 */
async function snapshotTar(
  ctx: Context,
  unit: BackupUnit,
  item: PlannedItem,
  sizeBytes: number,
): Promise<string> {
  const excludes = item.excludes.map(tarExcludePattern).filter((p): p is string => p !== undefined);
  const tar = startTarWriter(item.path, excludes, ctx.signal);
  return snapshotTarStream(ctx, unit, item, sizeBytes, tar.stream, tar.done);
}

/**
 * Saves a TAR stream as the item's snapshot (one file `volumes/<unit>/<volume>`, under a stable
 * source per volume). `produced` settles when the stream's producer has finished: when it fails,
 * kopia has saved a truncated stream, which is deleted, and the item fails.
 */
async function snapshotTarStream(
  ctx: Context,
  unit: BackupUnit,
  item: PlannedItem,
  sizeBytes: number,
  stream: Readable,
  produced: Promise<void>,
): Promise<string> {
  const failed = produced.then(
    () => undefined,
    (error: unknown) => error,
  );
  const record = await ctx.kopia.snapshotCreate(
    "-",
    {
      tags: item.tags(sizeBytes),
      stdinFile: tarEntryName(unit.name, item.name),
      overrideSource: tarSourcePath(unit.name, item.name),
    },
    ctx.signal,
    stream,
  );
  const error = await failed;
  if (error) {
    await ctx.kopia.deleteSnapshots([record.id]).catch(() => undefined);
    throw error;
  }
  return record.id;
}

function retagFormat(tags: (sizeBytes: number) => Tags, format: BackupFormat): (sizeBytes: number) => Tags {
  return (sizeBytes) => ({ ...tags(sizeBytes), backup_format: format });
}

/**
 * The fallback for a volume whose data has no readable host path (a volume plugin, an NFS mount,
 * or kopi-docka running where /var/lib/docker is not visible): the Engine API's archive of the
 * volume's mount in one of the unit's (stopped) containers, re-rooted to the TAR format's "./…".
 */
async function snapshotTarThroughEngine(
  ctx: Context,
  unit: BackupUnit,
  item: PlannedItem,
  sizeBytes: number,
): Promise<string> {
  const holder = unit.containers.find((c) =>
    c.mounts.some((m) => m.kind === "volume" && m.name === item.name),
  );
  const mount = holder?.mounts.find((m) => m.kind === "volume" && m.name === item.name);
  if (!holder || !mount) throw new ExternalError(`no container of ${unit.name} mounts volume ${item.name}`);
  const archive = await ctx.docker.archive(holder.id, mount.destination);
  const rebased = rebaseArchive(archive, { excludes: item.excludes });
  const produced = rebased.done.catch((error: unknown) => {
    throw new ExternalError(
      `reading volume ${item.name} through the Engine API failed: ${errorMessage(error)}`,
    );
  });
  return snapshotTarStream(ctx, unit, item, sizeBytes, rebased.stream, produced);
}

function unitExitCode(status: string, signal: AbortSignal): number {
  if (status === "ok") return ExitCode.ok;
  if (status === "interrupted")
    return signal.reason instanceof InterruptedError ? signal.reason.exitCode : ExitCode.interrupted;
  return ExitCode.failure;
}

function backupRecord(
  result: UnitBackupResult,
  started: Date,
  ended: Date,
  scope: BackupScope,
  format: BackupFormat,
  signal: AbortSignal,
): RunRecord {
  return {
    unit_name: result.unit,
    timestamp: started.toISOString(),
    duration_seconds: (ended.getTime() - started.getTime()) / 1000,
    backup_id: result.backupId,
    success: result.status === "ok",
    kopia_snapshot_ids: result.items.map((i) => i.snapshotId).filter((id): id is string => id !== undefined),
    volumes_backed_up: result.items.filter((i) => i.kind === "volume" && i.snapshotId).length,
    networks_backed_up: result.networks ?? 0,
    errors: result.error ? [result.error] : [],
    backup_scope: scope,
    backup_format: format,
    operation: "backup",
    status: result.status,
    exit_code: unitExitCode(result.status, signal),
    error_details: [
      ...(result.errorDetails ?? []),
      ...result.notRestarted.map((p) => ({ phase: "start", message: `${p.container}: ${p.reason}` })),
    ],
    stopped_containers: result.stopped,
    not_restarted: result.notRestarted,
    downtime_ms: result.downtimeMs,
    writer: `kopi-docka-ts ${VERSION}`,
  };
}

async function snapshotStaged(
  ctx: Context,
  kind: "recipe" | "networks" | "docker_config",
  unit: string,
  dir: string,
  tags: Tags,
): Promise<SnapshotItemResult> {
  const started = Date.now();
  const record = await ctx.kopia.snapshotCreate(dir, { tags }, ctx.signal);
  return {
    kind,
    name: unit,
    path: dir,
    format: "direct",
    excludes: [],
    snapshotId: record.id,
    sizeBytes: record.totalSize,
    durationMs: Date.now() - started,
  };
}

/** Snapshots a run writes for a unit, metadata records not counted: the `unit_items` tag. */
function unitItemCount(unit: BackupUnit, scope: BackupScope): number {
  return unit.volumes.length + unit.binds.length + (scope === "minimal" ? 0 : 2) + (scope === "full" ? 1 : 0);
}

/** Compose files named by the unit's labels that cannot be read here (shown by dry-run). */
async function unreadableComposeFiles(
  unit: BackupUnit,
  allContainers: readonly Container[],
): Promise<CoverageEntry[]> {
  const files = [...new Set(unit.containers.flatMap((c) => composeFilesOf(c)))];
  const gaps: CoverageEntry[] = [];
  for (const file of files) {
    const candidates = [file, ...resolveThroughMounts(file, allContainers)];
    try {
      await Promise.any(candidates.map((p) => fs.access(p, constants.R_OK)));
    } catch (error) {
      gaps.push({
        kind: "compose file",
        name: file,
        status: "not protected",
        reason: `cannot be read here, nor through any container's mount (${((error as AggregateError).errors?.[0] as NodeJS.ErrnoException | undefined)?.code ?? "error"})`,
      });
    }
  }
  return gaps;
}
