// The restore use case: a unit's data back from a restore point, all of it or nothing.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { applyFsMetadataFull, parseFsMetadata } from "../adapters/fs/metadata.js";
import {
  dropSafetyCopy,
  flushToDisk,
  flushWhileWriting,
  repairInterruptedSwap,
  type Swap,
  stagingPath,
  swapBack,
  swapIn,
} from "../adapters/fs/swap.js";
import { isEmptyOrMissing, unreadableReason } from "../adapters/fs/tree.js";
import type { DirectoryEntry } from "../adapters/kopia/kopia-client.js";
import { extractTar, startTarWriter, tarEntryName } from "../adapters/tar/gnu-tar.js";
import { type ArchiveRoot, rebaseArchive } from "../adapters/tar/rebase.js";
import { createTarGuard } from "../adapters/tar/tar-guard.js";
import { ExitCode, ExternalError, errorMessage, InterruptedError, UsageError } from "../domain/errors.js";
import { FS_METADATA_FILE } from "../domain/fs-metadata.js";
import { type Container, isRunning } from "../domain/model.js";
import { isAtOrBelow } from "../domain/paths.js";
import { relocateBind } from "../domain/recipe.js";
import type { RestorePoint, RestorePointItem } from "../domain/restore-points.js";
import { errorDetail, type RunErrorDetail, type RunRecord } from "../domain/run-record.js";
import { startOrder } from "../domain/start-order.js";
import { decodeJsonTag, mayHoldHoles } from "../domain/tags.js";
import { dependents } from "../domain/units.js";
import { VERSION } from "../version.js";
import { withComposeFileDependencies } from "./compose-dependencies.js";
import {
  type StartProblem,
  type StopResult,
  startContainers,
  stopContainers,
  verifyStillRunning,
} from "./containers.js";
import type { Context } from "./context.js";
import {
  discardStagingScript,
  dropSafetyScript,
  helperImageFor,
  prepareScript,
  runInVolume,
  STAGING_DIR,
  stageIntoVolume,
  swapBackScript,
  swapScript,
} from "./engine-volume.js";
import { chooseStart, missingSecrets, readEnvFile, type StartReport, startUnit } from "./recreate.js";
import { exclusiveRun, journalOf, type RecoverReport, writeRunRecord } from "./run-guard.js";
import { listRestorePoints } from "./snapshots.js";
import {
  applyStack,
  discardStackPlan,
  planStack,
  type StackPlan,
  type StackReport,
} from "./stack-restore.js";

export interface RestoreRequest {
  unit: string;
  backupId?: string | undefined;
  volumes: readonly string[];
  toDir?: string | undefined;
  host?: string | undefined;
  /** Where a compose unit's files go (default: its original directory when it exists here, else restore.stacks_directory/<unit>). */
  stackDir?: string | undefined;
  /** Replace existing compose and project files in the stack directory. */
  overwriteFiles?: boolean;
  /** Replace existing networks of the same name that no container uses by the saved ones. */
  replaceNetworks?: boolean;
  /** Bring the unit up after the restore (docker compose, or containers recreated from the recipe). */
  start?: boolean;
  /** KEY=VALUE lines for env values the recipe holds redacted. */
  envFile?: string | undefined;
  /** Asked once the plan is known; false cancels with nothing changed. */
  confirm: (plan: RestorePlan) => Promise<boolean>;
}

export interface RestorePlanItem {
  kind: "volume" | "bind";
  name: string;
  snapshotId: string;
  format: "direct" | "tar";
  /** Host path the data goes to (for a volume, its mountpoint). */
  target: string;
  /** How the data is put in place: on the host, or through the Engine API (no readable host path). */
  via?: "host" | "engine";
}

export interface RestorePlan {
  point: RestorePoint;
  items: RestorePlanItem[];
  /** Running containers that will be stopped and started again. */
  stops: string[];
  toDir?: string;
  /** Where the compose and project files go, for a whole compose unit with a recipe. */
  stackDir?: string;
  /** Custom networks the restore point holds (created when missing). */
  networks?: string[];
}

export interface RestoreReport {
  status: "ok" | "failed" | "cancelled" | "interrupted";
  unit: string;
  backupId: string;
  /** Each item, restored or not, with the time its data took to restore beside its target (`stageMs`). */
  items: (RestorePlanItem & { restored: boolean; stageMs?: number })[];
  stopped: string[];
  notRestarted: StartProblem[];
  /** Containers a crashed earlier run had left stopped, started again before this run. */
  recovered?: RecoverReport;
  /** Networks created and stack files written (a whole unit with a recipe). */
  stack?: StackReport;
  /** What --start brought up. */
  start?: StartReport;
  error?: string;
  errorDetails?: RunErrorDetail[];
}

function pickRestorePoint(points: RestorePoint[], unit: string, backupId: string | undefined): RestorePoint {
  if (points.length === 0)
    throw new UsageError(
      `no restore points for unit ${unit}: see \`kopi-docka snapshots\` for the units in the repository`,
    );
  if (backupId === undefined) return points[0] as RestorePoint;
  const point = points.find((p) => p.backupId === backupId);
  if (!point)
    throw new UsageError(
      `unit ${unit} has no restore point with backup id ${backupId}: see \`kopi-docka snapshots --unit ${unit}\``,
    );
  return point;
}

function selectItems(point: RestorePoint, volumes: readonly string[]): RestorePointItem[] {
  const data = point.items.filter((i) => i.kind === "volume" || i.kind === "bind");
  if (volumes.length === 0) return data;
  const byName = new Map(data.filter((i) => i.kind === "volume").map((i) => [i.name ?? "", i]));
  const unknown = volumes.filter((v) => !byName.has(v));
  if (unknown.length > 0)
    throw new UsageError(
      `restore point ${point.backupId} of ${point.unit} has no volume ${unknown.join(", ")}: it holds ${[...byName.keys()].join(", ") || "no volumes"}`,
    );
  return [...new Set(volumes)].map((v) => byName.get(v) as RestorePointItem);
}

/** The metadata record of a data item in the same restore point, if it has one. */
function metadataItem(
  point: RestorePoint,
  item: { kind: string; name: string },
): RestorePointItem | undefined {
  return point.items.find(
    (i) =>
      i.kind === "fs_metadata" &&
      i.record.tags.for_type === item.kind &&
      (item.kind === "volume" ? i.record.tags.volume === item.name : i.record.tags.bind_source === item.name),
  );
}

/**
 * Restores one data item into a directory that does not exist yet, in the format its snapshot
 * was written in: direct (kopia restore, then the metadata record) or TAR (the archive streamed
 * from kopia through the member guard into GNU tar).
 */
async function restoreItemInto(
  ctx: Context,
  point: RestorePoint,
  item: RestorePlanItem,
  dir: string,
): Promise<void> {
  if (item.format === "tar") {
    await restoreTarInto(ctx, point, item, dir);
    return;
  }
  // The metadata record is read while kopia restores the data. Holes are written only where its
  // walk may have seen some: checking every block for zeros slows kopia's writing by about 10%.
  const meta = metadataItem(point, item);
  const sparse = mayHoldHoles(meta?.record.tags);
  const [, text] = await Promise.all([
    ctx.kopia.restore(item.snapshotId, dir, ctx.signal, { sparse, bulk: true }),
    meta ? ctx.kopia.showText(`${meta.record.rootObject}/${FS_METADATA_FILE}`, ctx.signal) : undefined,
  ]);
  if (text !== undefined) {
    const applied = await applyFsMetadataFull(dir, parseFsMetadata(text));
    for (const failure of applied.failures) ctx.log.warn(`${item.kind} ${item.name}: ${failure}`);
    if (applied.skippedSockets > 0)
      ctx.log.info(
        `${item.kind} ${item.name}: ${applied.skippedSockets} socket(s) not recreated (a program makes them when it starts)`,
      );
  }
}

/** The one file of a TAR-format snapshot: `volumes/<unit>/<volume>` (or its only file). */
async function tarArchiveEntry(
  ctx: Context,
  point: RestorePoint,
  source: RestorePointItem | undefined,
  item: RestorePlanItem,
): Promise<DirectoryEntry> {
  if (!source)
    throw new ExternalError(`snapshot ${item.snapshotId} is not part of restore point ${point.backupId}`);
  const expected = tarEntryName(
    source.record.tags.unit ?? point.unit,
    source.record.tags.volume ?? item.name,
  );
  const files = (await ctx.kopia.listDirectory(source.record.rootObject, ctx.signal)).filter(
    (e) => e.type === "f",
  );
  const entry = files.find((e) => e.name === expected) ?? (files.length === 1 ? files[0] : undefined);
  if (!entry) throw new ExternalError(`TAR snapshot ${item.snapshotId} holds no archive named ${expected}`);
  return entry;
}

async function restoreTarInto(
  ctx: Context,
  point: RestorePoint,
  item: RestorePlanItem,
  dir: string,
): Promise<void> {
  const source = point.items.find((i) => i.snapshotId === item.snapshotId);
  const entry = await tarArchiveEntry(ctx, point, source, item);
  await fs.mkdir(dir, { mode: 0o700 });
  const show = await ctx.kopia.showStream(entry.objectId, ctx.signal);
  await Promise.all([extractTar(show.stdout, dir, ctx.signal), show.done]);
}

/** The volume's mountpoint; a volume that no longer exists is created with its recorded driver, options and labels. */
async function volumeTarget(ctx: Context, item: RestorePointItem): Promise<string> {
  const name = item.name ?? "";
  let volume = await ctx.docker.inspectVolume(name);
  if (!volume) {
    const labels = decodeJsonTag(item.record.tags.volume_labels);
    const options = decodeJsonTag(item.record.tags.volume_options);
    ctx.log.info(`volume ${name} no longer exists: creating it`);
    volume = await ctx.docker.createVolume({
      name,
      driver: item.record.tags.volume_driver || "local",
      labels: (labels && typeof labels === "object" ? labels : {}) as Record<string, string>,
      options: (options && typeof options === "object" ? options : {}) as Record<string, string>,
    });
  }
  return volume?.mountpoint ?? "";
}

function usesTargets(container: Container, volumeNames: Set<string>, bindSources: Set<string>): boolean {
  return container.mounts.some((m) =>
    m.kind === "volume"
      ? volumeNames.has(m.name)
      : [...bindSources].some((s) => isAtOrBelow(m.source, s) || isAtOrBelow(s, m.source)),
  );
}

export async function runRestore(ctx: Context, request: RestoreRequest): Promise<RestoreReport> {
  const { points } = await listRestorePoints(ctx, { unit: request.unit, host: request.host });
  const point = pickRestorePoint(points, request.unit, request.backupId);
  const chosen = selectItems(point, request.volumes);
  if (point.scope === "minimal")
    ctx.log.warn(
      `restore point ${point.backupId} has scope minimal: it holds the data only, so the unit's containers and networks must be recreated by hand`,
    );
  if (request.toDir !== undefined && chosen.length !== 1)
    throw new UsageError("--to-dir restores exactly one volume: name it with --volume NAME");
  if (chosen.length === 0)
    throw new UsageError(`restore point ${point.backupId} of ${point.unit} holds no volume or bind data`);

  const report: RestoreReport = {
    status: "ok",
    unit: point.unit,
    backupId: point.backupId,
    items: [],
    stopped: [],
    notRestarted: [],
  };

  if (request.toDir !== undefined) {
    const dir = path.resolve(request.toDir);
    if (!(await isEmptyOrMissing(dir)))
      throw new UsageError(`--to-dir ${dir} is not empty: give an empty or new directory`);
    const item = chosen[0] as RestorePointItem;
    const planItem: RestorePlanItem = {
      kind: item.kind as "volume" | "bind",
      name: item.name ?? "",
      snapshotId: item.snapshotId,
      format: item.format ?? "direct",
      target: dir,
    };
    if (!(await request.confirm({ point, items: [planItem], stops: [], toDir: dir })))
      return { ...report, status: "cancelled" };
    await fs.rm(dir, { recursive: true, force: true });
    await restoreItemInto(ctx, point, planItem, dir);
    report.items.push({ ...planItem, restored: true });
    return report;
  }

  // A whole unit: its recipe says where its files go and which networks it needs.
  const wholeUnit = request.volumes.length === 0;
  const stackPlan = wholeUnit ? await planStack(ctx, point, request.stackDir) : undefined;
  try {
    return await restorePlanned(ctx, request, point, chosen, report, stackPlan);
  } finally {
    if (stackPlan) await discardStackPlan(stackPlan);
  }
}

async function restorePlanned(
  ctx: Context,
  request: RestoreRequest,
  point: RestorePoint,
  chosen: RestorePointItem[],
  report: RestoreReport,
  stackPlan: StackPlan | undefined,
): Promise<RestoreReport> {
  // A project that still exists here keeps its directory; on another host it moves to the stack directory.
  if (
    stackPlan?.workingDir &&
    !request.stackDir &&
    (await fs.stat(stackPlan.workingDir).catch(() => undefined))?.isDirectory()
  )
    stackPlan.stackDir = stackPlan.workingDir;
  // --start: secrets redacted in the recipe must come from the env file, checked before anything changes.
  const envValues = await readEnvFile(request.envFile);
  if (request.start && stackPlan) {
    const missing = missingSecrets((await chooseStart(stackPlan)).docs, envValues);
    if (missing.length > 0)
      throw new UsageError(
        `the recipe of ${point.unit} holds ${missing.join(", ")} redacted: give their values with --env-file FILE (KEY=VALUE lines) to start it`,
      );
  }
  // Plan: where each item goes, which running containers use those places.
  const planItems: RestorePlanItem[] = [];
  for (const item of chosen) {
    const kind = item.kind as "volume" | "bind";
    planItems.push({
      kind,
      name: item.name ?? "",
      snapshotId: item.snapshotId,
      format: item.format ?? "direct",
      target:
        kind === "volume" ? "" : relocateBind(item.name ?? "", stackPlan?.workingDir, stackPlan?.stackDir),
    });
  }
  // Compose v1 projects' dependencies read from their compose files, as discovery reads them.
  const listContainers = async () =>
    (await withComposeFileDependencies(await ctx.docker.listContainers())).containers;
  const containers = await listContainers();
  const volumeNames = new Set(planItems.filter((i) => i.kind === "volume").map((i) => i.name));
  const bindSources = new Set(planItems.filter((i) => i.kind === "bind").map((i) => i.target));
  const affectedOf = (all: readonly Container[]) => {
    const running = all.filter(isRunning);
    const users = running.filter((c) => usesTargets(c, volumeNames, bindSources));
    return startOrder([...users, ...dependents(users, running)]);
  };
  const affected = affectedOf(containers);
  const plan: RestorePlan = {
    point,
    items: planItems,
    stops: [...affected].reverse().map((c) => c.name),
    ...(stackPlan?.stackDir ? { stackDir: stackPlan.stackDir } : {}),
    ...(stackPlan && stackPlan.networks.length > 0
      ? { networks: stackPlan.networks.map((n) => String((n as { Name?: unknown }).Name ?? "?")) }
      : {}),
  };
  if (!(await request.confirm(plan))) return { ...report, status: "cancelled" };

  return exclusiveRun(ctx, "restore", async (recovered) => {
    const started = ctx.clock.now();
    report.recovered = recovered;
    if (stackPlan)
      report.stack = await applyStack(
        ctx,
        stackPlan,
        request.overwriteFiles === true,
        request.replaceNetworks === true,
      );
    // Containers may have been started again by the recovery: decide what to stop now.
    const current = recovered.started.length > 0 ? await listContainers() : containers;
    const affected = affectedOf(current);

    // Where each item goes: a host path swapped locally, or a volume reached through the Engine API.
    const targets: DataTarget[] = [];
    for (const item of planItems) {
      if (item.kind === "volume") {
        item.target = await volumeTarget(
          ctx,
          chosen.find((c) => c.kind === "volume" && c.name === item.name) as RestorePointItem,
        );
        const hidden = await unreadableReason(item.target);
        if (hidden) {
          const image = helperImageFor(containers, item.name);
          if (!image)
            throw new UsageError(
              `volume ${item.name} has no readable host path here (${hidden}) and no container mounts it, so it cannot be reached through the Engine API: create the unit's containers first, or restore it with --to-dir`,
            );
          item.via = "engine";
          targets.push(engineTarget(ctx, point, item, image));
          continue;
        }
      }
      item.via = "host";
      targets.push(hostTarget(ctx, point, item, besideIsOutOfSight(item.target, current)));
    }
    for (const target of targets) await target.prepare();

    let stop: StopResult = { stopped: [], killed: [] };
    let journalId: string | undefined;
    const swapped: DataTarget[] = [];
    let phase = "restore";
    let inconsistent = false;
    const stageMs: number[] = [];
    const stage = async (target: DataTarget) => {
      const started = Date.now();
      await target.stage();
      stageMs[targets.indexOf(target)] = Date.now() - started;
    };
    try {
      // 1. What the containers do not see is restored beside its target while they still run:
      //    their downtime is the swap, not the restore. Nothing current is touched yet.
      for (const target of targets) if (target.outOfSight) await stage(target);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      // 2. The containers stop (the journal first: if kopi-docka dies, `recover` starts them).
      phase = "stop";
      if (affected.length > 0)
        journalId = await journalOf(ctx).record({
          operation: "restore",
          unit: point.unit,
          stoppedAt: ctx.clock.now().toISOString(),
          containers: affected.map((c) => ({ id: c.id, name: c.name })),
        });
      stop = await stopContainers(
        ctx.docker,
        [...affected].reverse(),
        ctx.settings.config.backup.stop_timeout,
        ctx.log,
      );
      report.stopped = stop.stopped.map((c) => c.name);
      if (stop.error) throw new Error(stop.error);
      // 3. What they would see (staged inside a volume reached through the Engine API) now.
      phase = "restore";
      for (const target of targets) if (!target.outOfSight) await stage(target);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      // 4. All staged: swap them in. A failing swap puts back the ones already done.
      phase = "swap";
      for (const target of targets) {
        await target.swapIn();
        swapped.push(target);
      }
      report.items = planItems.map((i, index) => ({ ...i, restored: true, stageMs: stageMs[index] }));
      // The new data is in place: the old copies go. One the containers would see goes before
      // they start; the others once they have started, while they settle (not during the starts:
      // thousands of unlinks fill the file system's journal, and the engine's own writes for a
      // start wait behind them, which kept the containers down 0.5 s longer at 20,000 files).
      for (const target of targets) if (!target.outOfSight) await dropSafety(ctx, target);
    } catch (error) {
      const notUndone: string[] = [];
      for (const target of swapped.reverse()) {
        await target.swapBack().catch((e: unknown) => {
          notUndone.push(target.describe);
          ctx.log.warn(`could not undo the swap of ${target.describe}: ${errorMessage(e)}`);
        });
      }
      for (const target of targets) await target.discard().catch(() => {});
      report.items = planItems.map((i) => ({ ...i, restored: false }));
      const interrupted = error instanceof InterruptedError || ctx.signal.aborted;
      report.status = interrupted ? "interrupted" : "failed";
      report.error =
        notUndone.length > 0
          ? `${interrupted ? "interrupted" : errorMessage(error)}; the swap of ${notUndone.join(", ")} could not be undone, so the unit's data is not consistent: its containers stay stopped (the old data is in the .kopi-docka-old copies)`
          : `${interrupted ? "interrupted" : errorMessage(error)}; the current data was kept unchanged`;
      report.errorDetails = [errorDetail(phase, error)];
      inconsistent = notUndone.length > 0;
    } finally {
      const stoppedIds = new Set(stop.stopped.map((c) => c.id));
      const toStart = affected.filter((c) => stoppedIds.has(c.id));
      // Containers never run on data that is half old, half new.
      report.notRestarted = inconsistent
        ? toStart.map((c) => ({
            container: c.name,
            reason: "left stopped: the unit's data is not consistent",
          }))
        : await startContainers(ctx.docker, toStart, ctx.settings.config.backup.start_timeout, ctx.log);
      if (journalId && !report.notRestarted.some((p) => p.engineUnreachable))
        await journalOf(ctx).clear(journalId);
      if (!inconsistent) {
        const failedToStart = new Set(report.notRestarted.map((p) => p.container));
        const [problems] = await Promise.all([
          verifyStillRunning(
            ctx.docker,
            toStart.filter((c) => !failedToStart.has(c.name)),
            RESTORE_SETTLE_MS,
          ),
          // Status still ok: every swap went through (a failure set it in the catch).
          report.status === "ok" &&
            Promise.all(targets.filter((t) => t.outOfSight).map((t) => dropSafety(ctx, t))),
        ]);
        report.notRestarted.push(...problems);
      }
    }
    if (report.status === "ok" && report.notRestarted.length > 0) {
      report.status = "failed";
      report.error = `data restored, but ${report.notRestarted.map((p) => `${p.container} (${p.reason})`).join(", ")} did not come back`;
    }
    if (request.start && report.status === "ok") {
      if (!stackPlan?.recipeDir)
        ctx.log.warn(`restore point ${point.backupId} holds no recipe: start the unit's containers by hand`);
      else {
        try {
          report.start = await startUnit(ctx, point.unit, stackPlan, envValues);
        } catch (error) {
          report.status = "failed";
          report.error = `data restored, but starting the unit failed: ${errorMessage(error)}`;
          report.errorDetails = [errorDetail("start", error)];
        }
      }
    }
    await writeRunRecord(ctx, restoreRecord(report, started, ctx.clock.now(), ctx.signal), started).catch(
      (error: unknown) =>
        ctx.log.warn(`could not write the run record of ${report.unit}: ${errorMessage(error)}`),
    );
    return report;
  });
}

/**
 * Whether what is put beside a host path (`<target>.kopi-docka-new`, `.kopi-docka-old`) is out of
 * every container's sight: no container bind-mounts the directory holding them, or one above it.
 */
export function besideIsOutOfSight(target: string, containers: readonly Container[]): boolean {
  const beside = path.dirname(target);
  return !containers.some((c) => c.mounts.some((m) => m.kind === "bind" && isAtOrBelow(beside, m.source)));
}

/**
 * How long after the starts a restore looks again whether the containers still run: longer than a
 * backup's, as they now run on other data.
 */
const RESTORE_SETTLE_MS = 1000;

/** Removes a target's safety copy; a failure leaves it behind with a warning (the restore stands). */
async function dropSafety(ctx: Context, target: DataTarget): Promise<void> {
  try {
    await target.dropSafety();
  } catch (error) {
    ctx.log.warn(
      `could not remove the old copy of ${target.describe}: ${errorMessage(error)}; remove it by hand`,
    );
  }
}

/** One item's destination: staged beside the current data, then swapped in, all or nothing. */
interface DataTarget {
  describe: string;
  /**
   * The staged and the old copy lie where the unit's containers do not see them (beside a host
   * path no container mounts a parent of): staged while they run, the old copy removed after.
   */
  outOfSight: boolean;
  /** Checks and clean-up while the containers still run. */
  prepare(): Promise<void>;
  stage(): Promise<void>;
  swapIn(): Promise<void>;
  swapBack(): Promise<void>;
  dropSafety(): Promise<void>;
  discard(): Promise<void>;
}

function hostTarget(
  ctx: Context,
  point: RestorePoint,
  item: RestorePlanItem,
  outOfSight: boolean,
): DataTarget {
  let swap: Swap | undefined;
  return {
    describe: item.target,
    outOfSight,
    async prepare() {
      for (const line of await repairInterruptedSwap(item.target)) ctx.log.warn(line);
    },
    async stage() {
      ctx.log.info(`restoring ${item.kind} ${item.name} into ${item.target}`);
      await fs.mkdir(path.dirname(item.target), { recursive: true });
      await fs.rm(stagingPath(item.target), { recursive: true, force: true });
      const source = point.items.find((i) => i.snapshotId === item.snapshotId);
      const flushing = await flushWhileWriting(
        path.dirname(item.target),
        source?.sizeBytes || source?.record.totalSize || 0,
      );
      try {
        await restoreItemInto(ctx, point, item, stagingPath(item.target));
      } finally {
        await flushing?.stop();
      }
      await flushToDisk(stagingPath(item.target));
    },
    async swapIn() {
      swap = await swapIn(item.target);
    },
    async swapBack() {
      if (swap) await swapBack(swap);
    },
    async dropSafety() {
      if (swap) await dropSafetyCopy(swap);
    },
    async discard() {
      await fs.rm(stagingPath(item.target), { recursive: true, force: true });
    },
  };
}

function engineTarget(ctx: Context, point: RestorePoint, item: RestorePlanItem, image: string): DataTarget {
  let root: ArchiveRoot | undefined;
  const volume = item.name;
  return {
    describe: `volume ${volume} (through the Engine API)`,
    outOfSight: false,
    async prepare() {
      await runInVolume(ctx, volume, image, prepareScript(), "preparing the restore");
    },
    async stage() {
      ctx.log.info(`restoring volume ${volume} through the Engine API (helper image ${image})`);
      root = await stageThroughEngine(ctx, point, item, image);
    },
    async swapIn() {
      await runInVolume(ctx, volume, image, swapScript(root), "swapping in the restored data");
    },
    async swapBack() {
      await runInVolume(ctx, volume, image, swapBackScript(), "undoing the swap");
    },
    async dropSafety() {
      await runInVolume(ctx, volume, image, dropSafetyScript(), "removing the old data");
    },
    async discard() {
      await runInVolume(ctx, volume, image, discardStagingScript(), "removing the staged data");
    },
  };
}

/**
 * Writes the item's content into `.kopi-docka-new/` inside the volume. A TAR snapshot is streamed
 * from kopia through the member guard; a direct snapshot is restored into a local temporary
 * directory first (with its metadata record) and archived from there.
 */
async function stageThroughEngine(
  ctx: Context,
  point: RestorePoint,
  item: RestorePlanItem,
  image: string,
): Promise<ArchiveRoot | undefined> {
  const rebaseTo = { from: "dot" as const, to: `${STAGING_DIR}/` };
  if (item.format === "tar") {
    const source = point.items.find((i) => i.snapshotId === item.snapshotId) as RestorePointItem;
    const entry = await tarArchiveEntry(ctx, point, source, item);
    const show = await ctx.kopia.showStream(entry.objectId, ctx.signal);
    const guard = createTarGuard();
    show.stdout.on("error", (e: Error) => guard.destroy(e));
    show.stdout.pipe(guard);
    const rebased = rebaseArchive(guard, rebaseTo);
    await Promise.all([stageIntoVolume(ctx, item.name, image, rebased.stream), rebased.done, show.done]);
    return rebased.root();
  }
  const temp = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-restore-"));
  try {
    const dir = path.join(temp, "data");
    await restoreItemInto(ctx, point, item, dir);
    const tar = startTarWriter(dir, [], ctx.signal);
    const rebased = rebaseArchive(tar.stream, rebaseTo);
    await Promise.all([stageIntoVolume(ctx, item.name, image, rebased.stream), rebased.done, tar.done]);
    return rebased.root();
  } finally {
    await fs.rm(temp, { recursive: true, force: true });
  }
}

function restoreRecord(report: RestoreReport, started: Date, ended: Date, signal: AbortSignal): RunRecord {
  const status = report.status;
  return {
    unit_name: report.unit,
    timestamp: started.toISOString(),
    duration_seconds: (ended.getTime() - started.getTime()) / 1000,
    backup_id: report.backupId,
    success: status === "ok",
    kopia_snapshot_ids: report.items.map((i) => i.snapshotId),
    volumes_backed_up: report.items.filter((i) => i.kind === "volume" && i.restored).length,
    networks_backed_up: 0,
    errors: report.error ? [report.error] : [],
    operation: "restore",
    status,
    exit_code:
      status === "ok"
        ? ExitCode.ok
        : status === "interrupted"
          ? signal.reason instanceof InterruptedError
            ? signal.reason.exitCode
            : ExitCode.interrupted
          : ExitCode.failure,
    error_details: [
      ...(report.errorDetails ?? []),
      ...report.notRestarted.map((p) => ({ phase: "start", message: `${p.container}: ${p.reason}` })),
    ],
    stopped_containers: report.stopped,
    not_restarted: report.notRestarted,
    downtime_ms: 0,
    writer: `kopi-docka-ts ${VERSION}`,
  };
}
