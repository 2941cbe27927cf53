// The backup use case: cold, consistent snapshots of each unit's data, containers back as they were.
import { randomUUID } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import os from "node:os";
import { Readable } from "node:stream";
import { type ChangedFiles, collectFsMetadata, surveyTree } from "../adapters/fs/metadata.js";
import { type ReadAhead, startReadAhead } from "../adapters/fs/read-ahead.js";
import { findOpenFiles } from "../adapters/host/open-files.js";
import type { SnapshotCreateOptions } from "../adapters/kopia/argv.js";
import {
  type GatedSnapshot,
  GateMissedError,
  type Policies,
  type RepositoryStatus,
  type SourcePolicy,
} from "../adapters/kopia/kopia-client.js";
import type { StdinProducer } from "../adapters/process/runner.js";
import { tarEntryName, tarWriter } from "../adapters/tar/gnu-tar.js";
import { rebaseArchive } from "../adapters/tar/rebase.js";
import { ExitCode, ExternalError, errorMessage, InterruptedError, UsageError } from "../domain/errors.js";
import { EXCLUDE_LABEL, mergeExcludes, parseExcludeLabel, tarExcludePattern } from "../domain/excludes.js";
import { FS_METADATA_FILE, type FsMetadata, fsMetadataSourcePath } from "../domain/fs-metadata.js";
import type { BackupFormat, BackupScope, BackupUnit, Container } from "../domain/model.js";
import {
  changedSinceNs,
  READ_AHEAD_MIN_FILE_BYTES,
  type ReadAheadFile,
  readAheadBudget,
  withinBudget,
} from "../domain/read-ahead.js";
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
  withSparseFiles,
} from "../domain/tags.js";
import { planStops } from "../domain/units.js";
import { VERSION } from "../version.js";
import {
  SETTLE_MS,
  type StartProblem,
  startContainers,
  stopContainers,
  verifyStillRunning,
} from "./containers.js";
import type { Context } from "./context.js";
import { type Discovery, discover, selectUnits } from "./discover.js";
import { type MaintenanceOutcome, maintainWhenDue } from "./maintenance.js";
import {
  applyGlobalPolicy,
  cacheDirsFromGlobal,
  gateable,
  parallelFileReads,
  policiesOf,
  syncSourcePolicy,
} from "./policy.js";
import { checkFreeSpace, checkRepositoryWritable, estimateNewData, hasRoomFor } from "./preflight.js";
import { stageDockerConfig, stageNetworks, stageRecipe } from "./recipe.js";
import { exclusiveRun, journalOf, type RecoverReport, runRecordsOf, writeRunRecord } from "./run-guard.js";

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
  /** Bytes of its files changed since the unit's last backup that were read ahead for Kopia. */
  readAheadBytes?: number;
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
  /** Kopia's maintenance after the last unit: quick hourly, full daily, else "not due". */
  maintenance?: MaintenanceOutcome;
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
  /** Files Kopia reads at once for a direct snapshot, where kopi-docka sets it (see parallelFileReads). */
  parallel?: number;
}

/** A direct item's snapshot: its tags, and how many files Kopia reads at once where kopi-docka says. */
function snapshotOptions(item: PlannedItem, sizeBytes: number): SnapshotCreateOptions {
  return { tags: item.tags(sizeBytes), ...(item.parallel ? { parallel: item.parallel } : {}) };
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
    unitItems: unitItemCount(unit, scope),
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
  // Kopia's reads (they change nothing) start now, beside the engine's discovery. Should the run
  // end before it needs them, they are let end first; their own failure is reported where used.
  const reads = request.dryRun ? undefined : readRepository(ctx);
  const readsEnded = reads?.then(
    () => undefined,
    () => undefined,
  );
  let found: Discovery;
  let selected: BackupUnit[];
  try {
    found = await discover(ctx.docker, request.format ?? settings.config.backup.backup_format);
    const selection = selectUnits(found.units, request.units);
    if (selection.unknown.length > 0)
      throw new UsageError(
        `unknown unit ${selection.unknown.join(", ")}: known units are ${found.units.map((u) => u.name).join(", ") || "(none)"}; see \`kopi-docka list\``,
      );
    selected = selection.selected;
  } catch (error) {
    await readsEnded;
    throw error;
  }
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
            warnings: unknownOrder(found, unit),
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
    // Pre-flight: nothing is stopped until the repository answers with the right password, a
    // local one is there and writable, and the global policy is in line with the config. The
    // first unit's preparation runs beside it (it writes to the repository only once it passed).
    const preflight = (async () => checkRepository(ctx, await (reads ?? readRepository(ctx))))();
    // When each unit's last backup began (its files changed since are read ahead): one listing.
    const lastBackupOf = runRecordsOf(ctx).lastSuccessfulBackups();
    const prepare = (unit: BackupUnit) =>
      prepareUnit(ctx, unit, current.containers, scope, preflight, lastBackupOf);
    let next = units[0] ? prepare(units[0]) : undefined;
    let repository: RepositoryState;
    try {
      repository = await preflight;
    } catch (error) {
      await next;
      throw error;
    }
    for (const unit of units) for (const warning of unknownOrder(current, unit)) ctx.log.warn(warning);

    const results: UnitBackupResult[] = [];
    let maintenance: Promise<void> | undefined;
    let maintenanceOutcome: MaintenanceOutcome | undefined;
    for (const [index, unit] of units.entries()) {
      const prepared = await (next ?? prepare(unit));
      next = undefined;
      if (ctx.signal.aborted) {
        prepared.gates.abandon();
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
      const { result, finished } =
        prepared.result.status === "ok"
          ? await backupUnit(ctx, prepared, current.containers, repository)
          : { result: prepared.result, finished: Promise.resolve() };
      // While this unit finishes (its containers already run): the next unit's preparation, or
      // after the last unit, Kopia's maintenance when due (never while containers are down).
      const following = units[index + 1];
      if (following && !ctx.signal.aborted) next = prepare(following);
      if (!following && !ctx.signal.aborted && [...results, result].some((r) => r.status === "ok"))
        maintenance = maintainWhenDue(ctx).then(
          (outcome) => {
            maintenanceOutcome = outcome;
          },
          (error: unknown) => {
            warnings.push(errorMessage(error));
          },
        );
      await finished;
      results.push(result);
      await writeRunRecord(
        ctx,
        backupRecord(
          result,
          prepared.started,
          ctx.clock.now(),
          scope,
          request.format ?? settings.config.backup.backup_format,
          ctx.signal,
        ),
        prepared.started,
      ).catch((error: unknown) =>
        warnings.push(`could not write the run record of ${unit.name}: ${errorMessage(error)}`),
      );
    }
    await maintenance;
    return {
      dryRun: false,
      scope,
      units: results,
      warnings,
      recovered,
      ...(maintenanceOutcome ? { maintenance: maintenanceOutcome } : {}),
    };
  });
}

/** What the run needs to know of the repository before it stops anything. */
interface RepositoryState {
  status: RepositoryStatus;
  /** Earlier snapshots, for the free-space estimate of a local repository: read once, when needed. */
  previous: () => Promise<readonly SnapshotRecord[]>;
  /** Each source's own policy (this user and host), by path. */
  sourcePolicies: ReadonlyMap<string, SourcePolicy>;
  /** Whether a source takes "cache directories kept" from the global policy (see cacheDirsFromGlobal). */
  cacheDirsFromGlobal: (source: string) => boolean;
  /** Whether a snapshot of a source can start ahead of the stop (see gateable). */
  gateable: (source: string) => boolean;
  /** The `--parallel` for a direct snapshot of a source, if any (see parallelFileReads). */
  parallelReads: (source: string) => number | undefined;
}

/** What the run reads of the repository before it checks anything. */
interface RepositoryReads {
  status: RepositoryStatus;
  policies: Policies;
}

/**
 * Kopia's policies and this client's status, side by side: the policies come from kopia (which
 * proves the password and the storage); the host, user and storage from kopia's config file,
 * without a second kopia process. Both end before a failure is reported, the status's first.
 */
async function readRepository(ctx: Context): Promise<RepositoryReads> {
  const reads = [ctx.kopia.localStatus(), ctx.kopia.policies()] as const;
  await Promise.allSettled(reads);
  const [status, policies] = await Promise.all(reads);
  return { status, policies };
}

/** The checks that a local repository is there and writable, and the global policy brought in line. */
async function checkRepository(
  ctx: Context,
  { status, policies }: RepositoryReads,
): Promise<RepositoryState> {
  await checkRepositoryWritable(status);
  await applyGlobalPolicy(ctx, policies.global);
  const own = policiesOf(policies, status.hostname, status.username);
  let previous: Promise<SnapshotRecord[]> | undefined;
  return {
    status,
    previous: () => {
      previous ??= status.storageType === "filesystem" ? ctx.kopia.listSnapshots() : Promise.resolve([]);
      return previous;
    },
    cacheDirsFromGlobal: (source) => cacheDirsFromGlobal(own, source),
    gateable: (source) => gateable(own, source),
    parallelReads: (source) => parallelFileReads(policies.global, own, source, os.availableParallelism()),
    sourcePolicies: new Map(own.sources.map((p) => [p.path, p])),
  };
}

/** A small directory staged before the stop and saved as its own snapshot after the start. */
interface StagedItem {
  kind: "recipe" | "networks" | "docker_config";
  dir: string;
  tags: Tags;
}

/** A unit made ready while its containers still run; `result.status` is "failed" when it cannot be backed up. */
interface PreparedUnit {
  unit: BackupUnit;
  /** When its preparation began: the run record's start and the snapshots' `timestamp` tag. */
  started: Date;
  backupId: string;
  items: PlannedItem[];
  /** Bytes of each item, as walked before the stop. */
  sizes: number[];
  /** Each item's large files changed since the unit's last backup, read ahead for Kopia at the stop. */
  readAhead: ReadAheadFile[][];
  staged: StagedItem[];
  result: UnitBackupResult;
  /** Direct snapshots started ahead of the stop (none until the unit is ready). */
  gates: Gates;
}

/**
 * The unit's direct snapshots that start ahead of the stop (see adapters/kopia/gate.ts): each
 * kopia opens the repository and loads its policy while the containers still run, then waits
 * until it is released. At most one waits ahead of the snapshot being taken.
 */
interface Gates {
  /** Starts the snapshot of the first gateable item from `index` on, unless one is started already. */
  ahead(index: number): void;
  /** The snapshot started for item `index`, if any (a start that failed gives undefined). */
  take(index: number): Promise<GatedSnapshot | undefined> | undefined;
  /** Ends every snapshot started and not taken: nothing read, nothing saved. */
  abandon(): void;
}

function unitGates(
  ctx: Context,
  items: readonly PlannedItem[],
  sizes: readonly number[],
  gateable: readonly boolean[],
): Gates {
  const started = new Map<number, Promise<GatedSnapshot | undefined>>();
  return {
    ahead(index) {
      if (started.size > 0) return;
      const next = gateable.findIndex((can, i) => i >= index && can);
      const item = items[next];
      if (!item) return;
      started.set(
        next,
        ctx.kopia
          .startGatedSnapshot(item.path, snapshotOptions(item, sizes[next] ?? 0), ctx.signal)
          .catch((error: unknown) => {
            ctx.log.info(`${item.name}: Kopia starts after the stop (${errorMessage(error)})`);
            return undefined;
          }),
      );
    },
    take(index) {
      const gate = started.get(index);
      started.delete(index);
      return gate;
    },
    abandon() {
      for (const gate of started.values()) void gate.then((g) => g?.abort());
      started.clear();
    },
  };
}

/**
 * Everything of a unit that can be done while its containers run (no downtime is spent on it):
 * its volumes still there, one walk of each item, the recipe, networks and daemon configuration
 * staged, and, once the `repository` pre-flight has passed, Kopia's policy for each direct item
 * (its ignore rules) in line. Never rejects.
 */
async function prepareUnit(
  ctx: Context,
  unit: BackupUnit,
  allContainers: readonly Container[],
  scope: BackupScope,
  repository: Promise<RepositoryState>,
  lastBackupOf: (unit: string) => Promise<Date | undefined>,
): Promise<PreparedUnit> {
  const { log, settings } = ctx;
  const started = ctx.clock.now();
  const backupId = randomUUID();
  const items = planItems(unit, backupId, scope, started, settings.config.backup.exclude_patterns);
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
  const prepared: PreparedUnit = {
    unit,
    started,
    backupId,
    items,
    sizes: [],
    readAhead: [],
    staged: [],
    result,
    gates: unitGates(ctx, items, [], []),
  };
  const fail = (phase: string, message: string, error?: unknown) => {
    result.status = ctx.signal.aborted ? "interrupted" : "failed";
    result.error = message;
    result.errorDetails = [error === undefined ? { phase, message } : errorDetail(phase, error)];
    return prepared;
  };
  try {
    // Units run one after another: what discovery saw may have changed since. A volume that is
    // gone fails the unit before anything stops; containers removed or stopped since are left alone.
    // (Beside it: when the unit's last backup began, from which its files count as changed.)
    const [present, lastBackup] = await Promise.all([
      Promise.all(unit.volumes.map((v) => ctx.docker.inspectVolume(v.volume.name))),
      lastBackupOf(unit.name),
    ]);
    const gone = unit.volumes.find((_, index) => !present[index]);
    if (gone)
      return fail(
        "plan",
        `volume ${gone.volume.name} no longer exists (removed after discovery); nothing was stopped`,
      );
    // One walk of each item (its size, and its names that are not valid UTF-8), beside the staging
    // of what the recipe saves: the recipe, the networks and the daemon configuration do not change
    // when the containers stop.
    // Kopia's policy for each direct item, beside both (kopia is called only where it differs).
    const budget = lastBackup ? readAheadBudget(os.freemem()) : 0;
    const changed = (item: PlannedItem): ChangedFiles | undefined =>
      lastBackup && budget > 0 && item.format === "direct"
        ? { minBytes: READ_AHEAD_MIN_FILE_BYTES, sinceNs: changedSinceNs(lastBackup), maxBytes: budget }
        : undefined;
    const [surveys, staged, policies] = await Promise.all([
      Promise.all(items.map((i) => surveyTree(i.path, { changed: changed(i) }))),
      stageUnit(ctx, prepared, allContainers, scope).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      repository
        .then((repo) => syncItemPolicies(ctx, items, repo))
        .then(
          () => ({}),
          (error: unknown) => ({ error }),
        ),
    ]);
    if ("error" in staged)
      return fail("recipe", `could not save the unit's recipe: ${errorMessage(staged.error)}`, staged.error);
    // (A failed pre-flight lands here too; the run reports it instead, with nothing stopped.)
    if ("error" in policies)
      return fail(
        "plan",
        `could not set Kopia's policy for the unit's data: ${errorMessage(policies.error)}`,
        policies.error,
      );
    prepared.staged = staged.value;
    prepared.sizes = surveys.map((survey) => survey.sizeBytes);
    const repo = await repository;
    // Kopia would mangle names that are not valid UTF-8: such a volume is written as TAR, which
    // keeps them; a bind mount cannot be, so the unit fails before anything stops.
    for (const [index, item] of items.entries()) {
      const names = surveys[index]?.nonUtf8Names ?? [];
      if (item.format !== "direct" || names.length === 0) continue;
      const sample = names.slice(0, 3).join(", ");
      if (item.kind === "bind")
        return fail(
          "plan",
          `bind ${item.name} holds ${names.length} name(s) that are not valid UTF-8 (${sample}); Kopia would mangle them: rename them, or move the data into a volume`,
        );
      item.format = "tar";
      item.tags = retagFormat(item.tags, "tar");
      const warning = `volume ${item.name} holds ${names.length} name(s) that are not valid UTF-8 (${sample}): written in the TAR format, which keeps them`;
      result.warnings.push(warning);
      log.warn(`${unit.name}: ${warning}`);
    }
    // (An item found to need TAR above reads nothing ahead: TAR reads all of it anyway.)
    prepared.readAhead = withinBudget(
      items.map((item, index) => (item.format === "direct" ? (surveys[index]?.changed ?? []) : [])),
      budget,
    );
    for (const item of items) {
      const parallel = item.format === "direct" ? repo.parallelReads(item.path) : undefined;
      if (parallel) item.parallel = parallel;
    }
    // The first direct snapshot starts now: Kopia's own start runs while the containers still run.
    prepared.gates = unitGates(
      ctx,
      items,
      prepared.sizes,
      items.map(
        (item, index) =>
          item.format === "direct" && surveys[index]?.directory === true && repo.gateable(item.path),
      ),
    );
    prepared.gates.ahead(0);
    return prepared;
  } catch (error) {
    return fail("plan", errorMessage(error), error);
  }
}

/**
 * Kopia's ignore rules for each direct item, side by side, kopia called only where the
 * repository's policy differs. An item found to need TAR later keeps its policy (harmless: it
 * applies only to a direct snapshot of that path).
 */
async function syncItemPolicies(
  ctx: Context,
  items: readonly PlannedItem[],
  repository: RepositoryState,
): Promise<void> {
  await Promise.all(
    items
      .filter((item) => item.format === "direct")
      .map((item) =>
        syncSourcePolicy(
          ctx,
          item.path,
          item.excludes,
          repository.sourcePolicies.get(item.path),
          repository.cacheDirsFromGlobal(item.path),
        ),
      ),
  );
}

/** Stages the recipe, the networks and (scope full) the daemon configuration, side by side. */
async function stageUnit(
  ctx: Context,
  prepared: PreparedUnit,
  allContainers: readonly Container[],
  scope: BackupScope,
): Promise<StagedItem[]> {
  if (scope === "minimal") return [];
  const { unit, result } = prepared;
  const common = {
    unit: unit.name,
    backupId: prepared.backupId,
    scope,
    timestamp: prepared.started,
    unitItems: unitItemCount(unit, scope),
  };
  const [recipe, networks, docker] = await Promise.all([
    stageRecipe(ctx, unit, allContainers),
    stageNetworks(ctx, unit),
    scope === "full" ? stageDockerConfig(ctx, unit) : undefined,
  ]);
  result.gaps = recipe.coverage.filter((c) => c.status !== "backed up");
  result.networks = networks.count;
  return [
    { kind: "recipe", dir: recipe.dir, tags: recipeTags(common) },
    { kind: "networks", dir: networks.dir, tags: networksTags({ ...common, networkCount: networks.count }) },
    ...(docker
      ? [
          {
            kind: "docker_config" as const,
            dir: docker.dir,
            tags: dockerConfigTags({ ...common, files: docker.files }),
          },
        ]
      : []),
  ];
}

/**
 * Where a compose v1 project's order is unknown (its compose files cannot be used), a line that
 * says so and why; said once the run is sure to go ahead, so that an error stays one line.
 */
function unknownOrder(found: Discovery, unit: BackupUnit): string[] {
  const problem = found.orderProblems.get(unit.name);
  return problem
    ? [
        `${unit.name}: start order unknown, so its containers stop and start one at a time in the order of their names: ${problem}`,
      ]
    : [];
}

/**
 * Records a failure of the unit's stop or snapshots (or the interruption) in its result; the
 * item being snapshotted, if it saved nothing, carries the error too.
 */
function failSnapshots(result: UnitBackupResult, phase: string, error: unknown, signal: AbortSignal): void {
  const interrupted = error instanceof InterruptedError || signal.aborted;
  result.status = interrupted ? "interrupted" : "failed";
  result.error = interrupted ? "interrupted: containers were started again" : errorMessage(error);
  result.errorDetails = [errorDetail(phase, error)];
  const last = result.items.at(-1);
  if (last && !last.snapshotId) last.error = result.error;
}

/**
 * Backs up one prepared unit: stop, snapshot, start; it returns once the containers run again.
 * `finished` ends when what needs no downtime is saved and the started containers have been seen
 * still running a moment later; the result is final only then.
 */
async function backupUnit(
  ctx: Context,
  prepared: PreparedUnit,
  allContainers: readonly Container[],
  repository: RepositoryState,
): Promise<{ result: UnitBackupResult; finished: Promise<void> }> {
  const { log, settings } = ctx;
  const { unit, items, sizes, result } = prepared;
  const { gates } = prepared;
  const done = () => {
    gates.abandon();
    return { result, finished: Promise.resolve() };
  };
  try {
    const estimate = (previous: readonly SnapshotRecord[]) =>
      estimateNewData(
        items.map((item, index) => ({
          path: item.path,
          sizeBytes: sizes[index] ?? 0,
          stdinSource: item.format === "tar" ? tarSourcePath(unit.name, item.name) : undefined,
        })),
        previous,
        repository.status.hostname,
      );
    // The earlier snapshots are read only when the unit would not fit if nothing deduplicated.
    let needed = estimate([]);
    if (!hasRoomFor(repository.status, needed)) needed = estimate(await repository.previous());
    checkFreeSpace(repository.status, needed, unit.name);
  } catch (error) {
    result.status = "failed";
    result.error = errorMessage(error);
    result.errorDetails = [errorDetail("plan", error)];
    return done();
  }
  const planned = planStops(unit, allContainers);
  const running = await Promise.all(planned.stop.map((c) => ctx.docker.containerStatus(c.id)));
  const stillRunning = new Set(planned.stop.filter((_, index) => running[index]?.running).map((c) => c.id));
  const plan = {
    stop: planned.stop.filter((c) => stillRunning.has(c.id)),
    start: planned.start.filter((c) => stillRunning.has(c.id)),
  };
  log.info(`unit ${unit.name}: ${items.length} item(s), stopping ${plan.stop.length} container(s)`);
  const downStart = Date.now();
  let stoppedContainers: Container[] = [];
  let toStart: Container[] = [];
  let journalId: string | undefined;
  let readAhead: ReadAhead | undefined;
  let readAheadEnded: Promise<void> = Promise.resolve();
  let phase = "stop";
  const metadataRecords: { item: PlannedItem; metadata: FsMetadata }[] = [];
  // The gated snapshots' manifests: the last one is written while the containers start again.
  const records: Promise<void>[] = [];
  let lastRecord: Promise<void> | undefined;
  try {
    // Written before the first stop: if kopi-docka dies, `recover` knows what to start again.
    if (plan.stop.length > 0)
      journalId = await journalOf(ctx).record({
        operation: "backup",
        unit: unit.name,
        stoppedAt: ctx.clock.now().toISOString(),
        containers: plan.start.map((c) => ({ id: c.id, name: c.name })),
      });
    readAhead = startUnitReadAhead(ctx, prepared);
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
        gates.ahead(index + 1);
        itemResult.snapshotId =
          item.formatReason !== undefined
            ? await snapshotTarThroughEngine(ctx, unit, item, sizeBytes)
            : await snapshotTar(ctx, unit, item, sizeBytes);
        itemResult.durationMs = Date.now() - started;
        continue;
      }
      // What Kopia does not keep is read while Kopia reads the data: no extra downtime.
      const gate = await gates.take(index);
      if (gate && (await gate.waiting)) {
        const metadata = collectFsMetadata(item.path);
        gate.release();
        gates.ahead(index + 1);
        const saved = gate.record.then((record) => {
          itemResult.snapshotId = record.id;
          itemResult.durationMs = Date.now() - started;
        });
        records.push(saved.catch(() => undefined));
        if (index === items.length - 1) {
          // Read to the end: the containers may start while Kopia writes the manifest.
          lastRecord = saved;
          await Promise.all([gate.read, metadata]);
        } else await Promise.all([saved, metadata]);
        metadataRecords.push({ item, metadata: await metadata });
        continue;
      }
      if (gate) {
        // It ended without waiting: its error (or, had it read while the containers ran, its
        // snapshot, deleted) is not this item's; the snapshot is taken now, as without a gate.
        const missed = await gate.record.then(
          () => undefined,
          (error: unknown) => error,
        );
        if (missed instanceof InterruptedError || ctx.signal.aborted) throw missed;
        log.info(`${item.name}: ${errorMessage(missed)}; Kopia starts now`);
        if (missed instanceof GateMissedError)
          result.warnings.push(
            `${item.name}: Kopia read it without waiting for the stop (its policy changed during the run?): that snapshot was deleted, the data snapshotted again after the stop`,
          );
      }
      gates.ahead(index + 1);
      const [record, metadata] = await Promise.all([
        ctx.kopia.snapshotCreate(item.path, snapshotOptions(item, sizeBytes), ctx.signal),
        collectFsMetadata(item.path),
      ]);
      itemResult.snapshotId = record.id;
      itemResult.durationMs = Date.now() - started;
      metadataRecords.push({ item, metadata });
    }
    await openFiles;
  } catch (error) {
    failSnapshots(result, phase, error, ctx.signal);
  } finally {
    gates.abandon();
    // Kopia has read what it reads: the reading ahead ends (its count lands in the data items,
    // which are result.items in item order until the small snapshots join them).
    if (readAhead) {
      const dataItems = [...result.items];
      readAheadEnded = readAhead.stop().then((bytes) => {
        for (const [index, item] of dataItems.entries()) {
          const read = bytes[index] ?? 0;
          if (read > 0) item.readAheadBytes = read;
        }
      });
    }
    const stoppedIds = new Set(stoppedContainers.map((c) => c.id));
    toStart = plan.start.filter((c) => stoppedIds.has(c.id));
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
  }
  // The containers run again. What needs no downtime is saved now, side by side, while they
  // settle: the metadata records and the staged recipe, networks and daemon configuration. Then
  // every started container must still run (checked at least SETTLE_MS after the last start).
  const startedAt = Date.now();
  const failedToStart = new Set(result.notRestarted.map((p) => p.container));
  const finished = (async () => {
    await Promise.all([...records, readAheadEnded]);
    if (lastRecord)
      await lastRecord.catch((error: unknown) => {
        if (result.status === "ok") failSnapshots(result, "snapshot", error, ctx.signal);
      });
    const savedAfterStart =
      result.status === "ok" ? await saveAfterStart(ctx, prepared, metadataRecords) : [];
    // A unit that failed leaves no partial restore point behind: what this run saved is deleted.
    if (result.status === "failed" || result.status === "interrupted") {
      const saved = [
        ...result.items.map((i) => i.snapshotId).filter((id): id is string => id !== undefined),
        ...savedAfterStart,
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
    result.notRestarted.push(
      ...(await verifyStillRunning(
        ctx.docker,
        toStart.filter((c) => !failedToStart.has(c.name)),
        Math.max(0, SETTLE_MS - (Date.now() - startedAt)),
      )),
    );
    if (result.notRestarted.length > 0 && result.status === "ok") {
      result.status = "failed";
      result.error = `snapshots saved, but ${result.notRestarted.map((p) => `${p.container} (${p.reason})`).join(", ")} did not come back`;
    }
  })();
  return { result, finished };
}

/**
 * Reads the unit's large files changed since its last backup into the page cache from the moment
 * its containers begin to stop, so that Kopia finds them there (see domain/read-ahead.ts).
 */
function startUnitReadAhead(ctx: Context, prepared: PreparedUnit): ReadAhead | undefined {
  const files = prepared.readAhead.flat();
  if (files.length === 0) return undefined;
  const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
  ctx.log.info(
    `unit ${prepared.unit.name}: reading ahead ${files.length} file(s) changed since its last backup (${(bytes / 1024 / 1024).toFixed(0)} MiB) for Kopia`,
  );
  return startReadAhead(prepared.readAhead);
}

/**
 * The unit's snapshots that need no downtime, taken side by side once its containers run again:
 * the metadata records and the staged recipe, networks and daemon configuration. A failure
 * fails the unit; the ids of the metadata records saved are returned (the others are items).
 */
async function saveAfterStart(
  ctx: Context,
  prepared: PreparedUnit,
  metadataRecords: readonly { item: PlannedItem; metadata: FsMetadata }[],
): Promise<string[]> {
  const { unit, result } = prepared;
  const [metadata, staged] = await Promise.all([
    Promise.allSettled(
      metadataRecords.map(({ item, metadata }) =>
        ctx.kopia.snapshotCreate(
          "-",
          {
            tags: withSparseFiles(item.metadataTags, metadata.sparseFiles),
            stdinFile: FS_METADATA_FILE,
            overrideSource: fsMetadataSourcePath(unit.name, item.kind, item.name),
          },
          ctx.signal,
          Readable.from([Buffer.from(JSON.stringify(metadata))]),
        ),
      ),
    ),
    Promise.allSettled(prepared.staged.map((s) => snapshotStaged(ctx, s.kind, unit.name, s.dir, s.tags))),
  ]);
  result.items = [...staged.flatMap((s) => (s.status === "fulfilled" ? [s.value] : [])), ...result.items];
  const recipeFailure = staged.find((s) => s.status === "rejected");
  const failure = recipeFailure ?? metadata.find((m) => m.status === "rejected");
  if (failure?.status === "rejected") {
    result.status = ctx.signal.aborted ? "interrupted" : "failed";
    result.error = recipeFailure
      ? `data snapshots saved, but the unit's recipe could not be saved: ${errorMessage(failure.reason)}`
      : `data snapshots saved, but the metadata record failed: ${errorMessage(failure.reason)}`;
    result.errorDetails = [errorDetail(recipeFailure ? "recipe" : "metadata", failure.reason)];
  }
  return metadata.flatMap((m) => (m.status === "fulfilled" ? [m.value.id] : []));
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
  const tar = tarWriter(item.path, excludes, ctx.signal);
  return snapshotTarStream(ctx, unit, item, sizeBytes, tar.feed, tar.done);
}

/**
 * Saves a TAR stream as the item's snapshot (one file `volumes/<unit>/<volume>`, under a stable
 * source per volume). `source` is the stream, or a producer handed kopia's stdin pipe. `produced`
 * settles when the producer has finished: when it fails, kopia has saved a truncated stream,
 * which is deleted, and the item fails.
 */
async function snapshotTarStream(
  ctx: Context,
  unit: BackupUnit,
  item: PlannedItem,
  sizeBytes: number,
  source: Readable | StdinProducer,
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
    source,
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
