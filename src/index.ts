// The library entry: use cases, adapters and domain types for programs that drive kopi-docka.

export { DockerEngine } from "./adapters/docker/engine.js";
export { KopiaClient } from "./adapters/kopia/kopia-client.js";
export type { BackupReport, BackupRequest, UnitBackupResult } from "./app/backup.js";
export { runBackup } from "./app/backup.js";
export type { Clock, Context, Logger } from "./app/context.js";
export { discover } from "./app/discover.js";
export type { RestoreReport, RestoreRequest } from "./app/restore.js";
export { runRestore } from "./app/restore.js";
export { listRestorePoints } from "./app/snapshots.js";
export { loadSettings, locateConfig, readPassword } from "./config/load.js";
export * from "./domain/errors.js";
export * from "./domain/model.js";
export type { RestorePoint, SnapshotRecord } from "./domain/restore-points.js";
export { groupRestorePoints } from "./domain/restore-points.js";
export { groupUnits } from "./domain/units.js";
export { VERSION } from "./version.js";
