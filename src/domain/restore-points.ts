// Grouping snapshots into restore points: one per (unit, backup_id).
import type { BackupFormat, BackupScope } from "./model.js";
import { formatFromTags, parseTimestampTag, type SnapshotKind, scopeFromTags, type Tags } from "./tags.js";

/** A snapshot as the domain sees it, whatever Kopia's JSON looked like. */
export interface SnapshotRecord {
  id: string;
  host: string;
  user: string;
  path: string;
  startTime: Date | undefined;
  endTime: Date | undefined;
  incomplete: boolean;
  tags: Tags;
  /** Object id of the snapshot's root entry (for `kopia show`). */
  rootObject: string;
  totalSize: number;
  files: number;
}

export interface RestorePointItem {
  snapshotId: string;
  kind: SnapshotKind | string;
  /** Volume name (volume), host source path (bind). */
  name: string | undefined;
  format: BackupFormat | undefined;
  sizeBytes: number;
  record: SnapshotRecord;
}

export interface RestorePoint {
  unit: string;
  backupId: string;
  time: Date | undefined;
  host: string;
  user: string;
  scope: BackupScope;
  items: RestorePointItem[];
}

function itemOf(record: SnapshotRecord): RestorePointItem {
  const kind = record.tags.type ?? "unknown";
  const name = kind === "volume" ? record.tags.volume : kind === "bind" ? record.tags.bind_source : undefined;
  const size = Number.parseInt(record.tags.size_bytes ?? "", 10);
  return {
    snapshotId: record.id,
    kind,
    name,
    format: kind === "volume" ? formatFromTags(record.tags) : kind === "bind" ? "direct" : undefined,
    sizeBytes: Number.isFinite(size) ? size : record.totalSize,
    record,
  };
}

function timeOf(record: SnapshotRecord): Date | undefined {
  return record.startTime ?? parseTimestampTag(record.tags.timestamp);
}

/**
 * Groups snapshots into restore points, newest first. Snapshots without `unit` or `backup_id`
 * are not kopi-docka's; incomplete snapshots are never part of a restore point.
 */
export function groupRestorePoints(records: readonly SnapshotRecord[]): RestorePoint[] {
  const groups = new Map<string, SnapshotRecord[]>();
  for (const record of records) {
    const { unit, backup_id: backupId } = record.tags;
    if (!unit || !backupId || record.incomplete) continue;
    const key = JSON.stringify([unit, backupId]);
    const list = groups.get(key) ?? [];
    list.push(record);
    groups.set(key, list);
  }
  const points: RestorePoint[] = [];
  for (const list of groups.values()) {
    const first = list[0];
    // A group of nothing but our metadata records holds no data to restore.
    if (!first || list.every((r) => r.tags.type === "fs_metadata")) continue;
    // A run that died part-way saved fewer snapshots than it announced: not a restore point.
    // (unit_items counts every snapshot of the run but the metadata records.)
    const announced = Math.max(0, ...list.map((r) => Number.parseInt(r.tags.unit_items ?? "", 10) || 0));
    const saved = list.filter((r) => r.tags.type !== "fs_metadata").length;
    if (announced > 0 && saved < announced) continue;
    const times = list.map(timeOf).filter((t): t is Date => t !== undefined);
    const time = times.length > 0 ? new Date(Math.min(...times.map((t) => t.getTime()))) : undefined;
    const items = list.map(itemOf).sort((a, b) => {
      const ka = `${a.kind}\u0000${a.name ?? ""}`;
      const kb = `${b.kind}\u0000${b.name ?? ""}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    points.push({
      unit: first.tags.unit ?? "",
      backupId: first.tags.backup_id ?? "",
      time,
      host: first.host,
      user: first.user,
      scope: scopeFromTags(first.tags),
      items,
    });
  }
  return points.sort((a, b) => (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0));
}
