// Staging what a unit needs besides its data (scopes standard and full): the recipe, the
// networks, and the Docker daemon configuration, each in a stable per-unit staging directory
// that is then snapshotted as it is (stable paths keep Kopia's incremental reuse and retention).
import { promises as fs } from "node:fs";
import path from "node:path";
import { errorMessage } from "../domain/errors.js";
import { type BackupUnit, COMPOSE_WORKING_DIR_LABEL, type Container } from "../domain/model.js";
import {
  type CoverageEntry,
  composeFilesOf,
  customNetworks,
  isProjectFile,
  RECIPE_INFO_FILE,
  redactInspect,
  resolveThroughMounts,
} from "../domain/recipe.js";
import type { Context } from "./context.js";

export interface Staged {
  dir: string;
  coverage: CoverageEntry[];
}

async function freshDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}

function stagingDir(
  ctx: Pick<Context, "settings">,
  kind: "recipes" | "networks" | "docker-config",
  unit: string,
): string {
  return path.join(ctx.settings.config.backup.staging_directory, kind, unit);
}

/**
 * The recipe: compose files (flattened by base name, as the older tool does), compose_order.json,
 * project files beside them, one redacted inspect document per container, and a coverage
 * manifest of every mount and file the unit depends on.
 */
export async function stageRecipe(
  ctx: Pick<Context, "docker" | "settings">,
  unit: BackupUnit,
  allContainers: readonly Container[] = [],
): Promise<Staged> {
  const dir = stagingDir(ctx, "recipes", unit.name);
  await freshDir(dir);
  const coverage: CoverageEntry[] = [];
  const composeFiles = [...new Set(unit.containers.flatMap((c) => composeFilesOf(c)))];
  const order: string[] = [];
  const projectDirs = new Set<string>();
  for (const file of composeFiles) {
    try {
      // The path as the labels say, else through the mounts of a managing container.
      const hostPath = await firstReadable([file, ...resolveThroughMounts(file, allContainers)]);
      await fs.copyFile(hostPath ?? file, path.join(dir, path.basename(file)));
      order.push(path.basename(file));
      projectDirs.add(path.dirname(hostPath ?? file));
      coverage.push({
        kind: "compose file",
        name: file,
        status: "backed up",
        ...(hostPath && hostPath !== file
          ? { reason: `found at ${hostPath} through a managing container's mount` }
          : {}),
      });
    } catch (error) {
      coverage.push({
        kind: "compose file",
        name: file,
        status: "not protected",
        reason: `cannot be read here, nor through any container's mount (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`,
      });
    }
  }
  if (order.length > 0)
    await fs.writeFile(path.join(dir, "compose_order.json"), `${JSON.stringify(order)}\n`);
  // Ours (readers that do not know it ignore it): where the project lived, so a restore into
  // another stack directory can move the bind mounts that lived inside it along.
  const workingDir = unit.containers
    .map((c) => c.labels[COMPOSE_WORKING_DIR_LABEL])
    .find((w) => w !== undefined);
  await fs.writeFile(
    path.join(dir, RECIPE_INFO_FILE),
    `${JSON.stringify({ unit: unit.name, kind: unit.kind, working_dir: workingDir ?? null, compose_files: composeFiles }, null, 2)}\n`,
  );
  for (const projectDir of projectDirs) {
    const names = await fs.readdir(projectDir).catch(() => [] as string[]);
    for (const name of names.filter(isProjectFile).sort()) {
      const source = path.join(projectDir, name);
      if (!(await fs.stat(source).catch(() => undefined))?.isFile()) continue;
      await fs.mkdir(path.join(dir, "project-files"), { recursive: true, mode: 0o700 });
      await fs.copyFile(source, path.join(dir, "project-files", name));
      coverage.push({ kind: "project file", name: source, status: "backed up" });
    }
  }
  for (const container of unit.containers) {
    const inspect = await ctx.docker.inspectContainerDocument(container.id);
    await fs.writeFile(
      path.join(dir, `${container.name}_inspect.json`),
      `${JSON.stringify([redactInspect(inspect)], null, 2)}\n`,
      {
        mode: 0o600,
      },
    );
    coverage.push({ kind: "container config", name: container.name, status: "backed up" });
  }
  for (const v of unit.volumes)
    coverage.push({
      kind: "volume",
      name: v.volume.name,
      status: "backed up",
      reason: v.formatReason ? `TAR through the Engine API: ${v.formatReason}` : `${v.format} format`,
    });
  for (const b of unit.binds) coverage.push({ kind: "bind", name: b.source, status: "backed up" });
  for (const s of unit.skipped)
    coverage.push({ kind: "bind", name: s.source, status: "not protected", reason: s.reason });
  await fs.writeFile(
    path.join(dir, "coverage-manifest.json"),
    `${JSON.stringify({ unit: unit.name, entries: coverage }, null, 2)}\n`,
  );
  return { dir, coverage };
}

/** networks.json (inspect documents of the unit's custom networks) and networks_metadata.json. */
export async function stageNetworks(
  ctx: Pick<Context, "docker" | "settings" | "clock">,
  unit: BackupUnit,
): Promise<Staged & { count: number }> {
  const dir = stagingDir(ctx, "networks", unit.name);
  await freshDir(dir);
  const documents: unknown[] = [];
  const coverage: CoverageEntry[] = [];
  for (const name of customNetworks(unit.containers)) {
    const doc = await ctx.docker.inspectNetworkDocument(name);
    if (doc) {
      documents.push(doc);
      coverage.push({ kind: "network", name, status: "backed up" });
    } else coverage.push({ kind: "network", name, status: "skipped at runtime", reason: "no longer exists" });
  }
  await fs.writeFile(path.join(dir, "networks.json"), `${JSON.stringify(documents, null, 2)}\n`);
  await fs.writeFile(
    path.join(dir, "networks_metadata.json"),
    `${JSON.stringify({ unit: unit.name, network_count: documents.length, timestamp: ctx.clock.now().toISOString() }, null, 2)}\n`,
  );
  return { dir, coverage, count: documents.length };
}

/** daemon.json and docker.service.d/ (full scope), from the configured paths. */
export async function stageDockerConfig(
  ctx: Pick<Context, "settings">,
  unit: BackupUnit,
): Promise<Staged & { files: string[] }> {
  const dir = stagingDir(ctx, "docker-config", unit.name);
  await freshDir(dir);
  const coverage: CoverageEntry[] = [];
  const files: string[] = [];
  const { daemon_json: daemonJson, service_dropin_dir: dropins } = ctx.settings.config.docker;
  try {
    await fs.copyFile(daemonJson, path.join(dir, "daemon.json"));
    files.push("daemon.json");
    coverage.push({ kind: "daemon config", name: daemonJson, status: "backed up" });
  } catch {
    coverage.push({
      kind: "daemon config",
      name: daemonJson,
      status: "skipped at runtime",
      reason: "not present",
    });
  }
  try {
    await fs.cp(dropins, path.join(dir, "docker.service.d"), { recursive: true, preserveTimestamps: true });
    files.push("docker.service.d/");
    coverage.push({ kind: "daemon config", name: dropins, status: "backed up" });
  } catch {
    coverage.push({
      kind: "daemon config",
      name: dropins,
      status: "skipped at runtime",
      reason: "not present",
    });
  }
  return { dir, coverage, files };
}

async function firstReadable(paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) {
    if ((await fs.stat(p).catch(() => undefined))?.isFile()) return p;
  }
  return undefined;
}
