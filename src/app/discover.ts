// Discovery: what the host holds, grouped into backup units.
import type { DockerEngine } from "../adapters/docker/engine.js";
import { unreadableReason } from "../adapters/fs/tree.js";
import type { BackupFormat, BackupUnit, Container, Volume } from "../domain/model.js";
import { groupUnits } from "../domain/units.js";
import { withComposeFileDependencies } from "./compose-dependencies.js";

export interface Discovery {
  units: BackupUnit[];
  containers: Container[];
  volumes: Volume[];
  dockerRoot: string;
  /** Compose v1 projects whose start order is unknown (their compose files unusable), and why. */
  orderProblems: Map<string, string>;
}

/** Why a volume must fall back to the TAR format: no readable host path. */
async function hostPathProblem(volume: Volume): Promise<string | undefined> {
  if (volume.driver !== "local") return `volume driver "${volume.driver}" has no host path`;
  const type = volume.options.type;
  if (type && type !== "none" && type !== "bind")
    return `local volume of type "${type}" is mounted only while a container uses it`;
  return unreadableReason(volume.mountpoint);
}

export async function discover(docker: DockerEngine, format: BackupFormat): Promise<Discovery> {
  const [{ containers, problems: orderProblems }, volumes, version] = await Promise.all([
    docker.listContainers().then(withComposeFileDependencies),
    docker.listVolumes(),
    docker.version(),
  ]);
  const problems = new Map<string, string>();
  await Promise.all(
    volumes.map(async (volume) => {
      const problem = await hostPathProblem(volume);
      if (problem) problems.set(volume.name, problem);
    }),
  );
  const units = groupUnits(containers, volumes, {
    format,
    dockerRoot: version.rootDir,
    hostPathProblem: (volume) => problems.get(volume.name),
  });
  return { units, containers, volumes, dockerRoot: version.rootDir, orderProblems };
}

/** The units named on the command line (all when none), or the names that do not exist. */
export function selectUnits(
  units: readonly BackupUnit[],
  names: readonly string[],
): { selected: BackupUnit[]; unknown: string[] } {
  if (names.length === 0) return { selected: [...units], unknown: [] };
  const byName = new Map(units.map((u) => [u.name, u]));
  const unknown = names.filter((n) => !byName.has(n));
  const selected = [...new Set(names)]
    .map((n) => byName.get(n))
    .filter((u): u is BackupUnit => u !== undefined);
  return { selected, unknown };
}
