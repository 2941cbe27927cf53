// Pure types of the domain: what a Docker host holds, as kopi-docka sees it.

export type BackupFormat = "direct" | "tar";
export const BACKUP_FORMATS: readonly BackupFormat[] = ["direct", "tar"];
export type BackupScope = "minimal" | "standard" | "full";
export const BACKUP_SCOPES: readonly BackupScope[] = ["minimal", "standard", "full"];

export type ContainerState = "running" | "restarting" | "paused" | "exited" | "created" | "dead" | "removing";

export type ContainerMount =
  | { kind: "volume"; name: string; destination: string; readOnly: boolean }
  | { kind: "bind"; source: string; destination: string; readOnly: boolean };

export interface Container {
  id: string;
  /** Without the leading slash. */
  name: string;
  image: string;
  state: ContainerState;
  labels: Readonly<Record<string, string>>;
  mounts: readonly ContainerMount[];
  /** Names of the networks it is attached to. */
  networks?: readonly string[];
  /** The engine's network mode as created (`bridge`, `host`, `container:<id or name>`, ...). */
  networkMode?: string;
  /**
   * The services of its compose project it waits for, as the project's compose files say, where
   * compose recorded no `com.docker.compose.depends_on` label (compose v1). Unset: not read.
   */
  composeDependsOn?: readonly string[];
}

export interface Volume {
  name: string;
  driver: string;
  /** Host path of the volume's data, as the engine reports it. */
  mountpoint: string;
  labels: Readonly<Record<string, string>>;
  options: Readonly<Record<string, string>>;
}

export interface UnitVolume {
  volume: Volume;
  /** Names of the unit's containers that mount it. */
  usedBy: readonly string[];
  /** Format this volume will be written in, and why when it is not the configured one. */
  format: BackupFormat;
  formatReason?: string;
}

export interface UnitBind {
  source: string;
  destination: string;
  readOnly: boolean;
  usedBy: readonly string[];
}

export interface SkippedMount {
  source: string;
  destination: string;
  container: string;
  reason: string;
}

export interface BackupUnit {
  name: string;
  kind: "compose" | "standalone";
  /** In start order. */
  containers: readonly Container[];
  volumes: readonly UnitVolume[];
  binds: readonly UnitBind[];
  skipped: readonly SkippedMount[];
}

export const COMPOSE_PROJECT_LABEL = "com.docker.compose.project";
export const COMPOSE_SERVICE_LABEL = "com.docker.compose.service";
export const COMPOSE_DEPENDS_ON_LABEL = "com.docker.compose.depends_on";
export const COMPOSE_CONTAINER_NUMBER_LABEL = "com.docker.compose.container-number";
export const COMPOSE_CONFIG_FILES_LABEL = "com.docker.compose.project.config_files";
export const COMPOSE_WORKING_DIR_LABEL = "com.docker.compose.project.working_dir";

export function isRunning(container: Pick<Container, "state">): boolean {
  return container.state === "running" || container.state === "restarting";
}
