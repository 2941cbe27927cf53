// Grouping containers into backup units: one per compose project, one per standalone container.
import { bindSkipReason } from "./bind-policy.js";
import {
  type BackupFormat,
  type BackupUnit,
  COMPOSE_PROJECT_LABEL,
  type Container,
  isRunning,
  type SkippedMount,
  type UnitBind,
  type UnitVolume,
  type Volume,
} from "./model.js";
import { dependencyFacts, dependsOn, networkProvider, startOrder, stopOrder } from "./start-order.js";

export interface GroupingOptions {
  /** The format configured for volumes (`backup.backup_format`). */
  format: BackupFormat;
  /** The engine's data root, for the bind-mount policy. */
  dockerRoot?: string;
  /**
   * Why a volume's data cannot be read through its host path (so it must be written as TAR),
   * or undefined when it can.
   */
  hostPathProblem?: (volume: Volume) => string | undefined;
}

export function unitNameOf(container: Pick<Container, "name" | "labels">): string {
  return container.labels[COMPOSE_PROJECT_LABEL] ?? container.name;
}

/** Containers that belong in a backup: every running one, plus stopped members of compose projects. */
export function isBackupCandidate(container: Container): boolean {
  return isRunning(container) || container.labels[COMPOSE_PROJECT_LABEL] !== undefined;
}

/** Groups containers into units, sorted by unit name; containers within a unit in start order. */
export function groupUnits(
  containers: readonly Container[],
  volumes: readonly Volume[],
  options: GroupingOptions,
): BackupUnit[] {
  const volumesByName = new Map(volumes.map((v) => [v.name, v]));
  const byUnit = new Map<string, Container[]>();
  for (const container of containers.filter(isBackupCandidate)) {
    const name = unitNameOf(container);
    const list = byUnit.get(name) ?? [];
    list.push(container);
    byUnit.set(name, list);
  }
  const units: BackupUnit[] = [];
  for (const [name, members] of [...byUnit].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ordered = startOrder(members);
    const unitVolumes = new Map<string, { volume: Volume; usedBy: string[] }>();
    const binds = new Map<string, UnitBind & { usedBy: string[] }>();
    const skipped: SkippedMount[] = [];
    for (const container of ordered) {
      for (const mount of container.mounts) {
        if (mount.kind === "volume") {
          const volume = volumesByName.get(mount.name);
          if (!volume) {
            skipped.push({
              source: mount.name,
              destination: mount.destination,
              container: container.name,
              reason: "volume is not known to the engine",
            });
            continue;
          }
          const entry = unitVolumes.get(volume.name) ?? { volume, usedBy: [] };
          if (!entry.usedBy.includes(container.name)) entry.usedBy.push(container.name);
          unitVolumes.set(volume.name, entry);
        } else {
          const reason = bindSkipReason(mount.source, options.dockerRoot);
          if (reason) {
            skipped.push({
              source: mount.source,
              destination: mount.destination,
              container: container.name,
              reason,
            });
            continue;
          }
          const existing = binds.get(mount.source);
          if (existing) {
            if (!existing.usedBy.includes(container.name)) existing.usedBy.push(container.name);
            existing.readOnly = existing.readOnly && mount.readOnly;
          } else {
            binds.set(mount.source, {
              source: mount.source,
              destination: mount.destination,
              readOnly: mount.readOnly,
              usedBy: [container.name],
            });
          }
        }
      }
    }
    const volumeList: UnitVolume[] = [...unitVolumes.values()]
      .sort((a, b) => (a.volume.name < b.volume.name ? -1 : 1))
      .map(({ volume, usedBy }) => {
        const problem = options.hostPathProblem?.(volume);
        return problem
          ? { volume, usedBy, format: "tar" as const, formatReason: problem }
          : { volume, usedBy, format: options.format };
      });
    units.push({
      name,
      kind: members.some((c) => c.labels[COMPOSE_PROJECT_LABEL] !== undefined) ? "compose" : "standalone",
      containers: ordered,
      volumes: volumeList,
      binds: [...binds.values()].sort((a, b) => (a.source < b.source ? -1 : 1)),
      skipped,
    });
  }
  return units;
}

export interface StopPlan {
  /** Running containers to stop, in stop order: other users of the unit's data first, then the unit's own. */
  stop: Container[];
  /** The same containers in the order to start them again. */
  start: Container[];
}

/**
 * The containers of `candidates` related to one of `start`, or to one of those, and so on, where
 * `related(c, seen)` says whether `c` is related to one of `seen`.
 */
function closure<T extends Container>(
  start: readonly T[],
  candidates: readonly T[],
  related: (c: T, seen: readonly T[]) => boolean,
): T[] {
  const seen = [...start];
  for (let added = true; added; ) {
    added = false;
    for (const c of candidates) {
      if (seen.includes(c) || !related(c, seen)) continue;
      seen.push(c);
      added = true;
    }
  }
  return seen.slice(start.length);
}

/**
 * The containers of `candidates` that join the network namespace of one of `stopped`, or of one
 * of those, and so on (see networkProvider): a restart of that one leaves them running without
 * network, so they are stopped before it and started after it.
 */
export function networkJoiners<T extends Container>(stopped: readonly T[], candidates: readonly T[]): T[] {
  return closure(stopped, candidates, (c, seen) => networkProvider(c, seen) !== undefined);
}

/**
 * What must stop while the data of `users` is swapped, besides them: the containers of
 * `candidates` that join the network namespace of one of them (see networkJoiners), those of
 * the same compose project whose `depends_on` names the service of one of them, and so on. A
 * dependent left running would carry on across the swap with what it holds from the data that
 * was replaced (a web app's caches, sessions, or connections to a database now older), as
 * compose's `depends_on` with `restart: true` restarts a service with what it depends on.
 * Where a compose v1 project's files could not be read, only the network namespace relates its
 * containers.
 */
export function dependents<T extends Container>(users: readonly T[], candidates: readonly T[]): T[] {
  const facts = new Map([...users, ...candidates].map((c) => [c, dependencyFacts(c)]));
  const factsOf = (c: T) => facts.get(c) ?? dependencyFacts(c);
  return closure(users, candidates, (c, seen) => seen.some((s) => dependsOn(factsOf(c), factsOf(s))));
}

/**
 * Which running containers must be stopped to snapshot a unit consistently: its own running
 * containers, any other running container that mounts one of its volumes or bind sources, and
 * any other running container that joins the network of one of those (see networkProvider: it
 * would keep running without network once that one has stopped and started again).
 */
export function planStops(unit: BackupUnit, allContainers: readonly Container[]): StopPlan {
  const own = unit.containers.filter(isRunning);
  const ownIds = new Set(unit.containers.map((c) => c.id));
  const volumeNames = new Set(unit.volumes.map((v) => v.volume.name));
  const bindSources = new Set(unit.binds.map((b) => b.source));
  const candidates = allContainers.filter((c) => isRunning(c) && !ownIds.has(c.id));
  const users = candidates.filter((c) =>
    c.mounts.some((m) => (m.kind === "volume" ? volumeNames.has(m.name) : bindSources.has(m.source))),
  );
  const others = [...users, ...networkJoiners([...own, ...users], candidates)];
  const otherOrder = startOrder(others);
  const ownStart = startOrder(own);
  return {
    stop: [...[...otherOrder].reverse(), ...stopOrder(own)],
    start: [...ownStart, ...otherOrder],
  };
}
