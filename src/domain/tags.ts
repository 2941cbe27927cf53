// Tag encoding and decoding: the repository contract that links the snapshots of one backup run.
import type { BackupFormat, BackupScope, Volume } from "./model.js";

/**
 * The contract's kinds, plus `fs_metadata` (ours): the record of what a direct snapshot of a
 * volume or bind mount loses, tied to it by unit, backup_id and volume / bind_source.
 */
export type SnapshotKind = "volume" | "bind" | "recipe" | "networks" | "docker_config" | "fs_metadata";
export const SNAPSHOT_KINDS: readonly SnapshotKind[] = [
  "volume",
  "bind",
  "recipe",
  "networks",
  "docker_config",
  "fs_metadata",
];

export type Tags = Record<string, string>;

interface CommonTagInput {
  unit: string;
  backupId: string;
  scope: BackupScope;
  /** When the run started. Written as UTC ISO-8601. */
  timestamp: Date;
  /**
   * How many snapshots the run writes for the unit, metadata records not counted: a restore
   * point with fewer is incomplete (the run died part-way) and is not offered.
   */
  unitItems?: number;
}

function common(kind: SnapshotKind, input: CommonTagInput): Tags {
  return {
    type: kind,
    unit: input.unit,
    backup_id: input.backupId,
    backup_scope: input.scope,
    timestamp: input.timestamp.toISOString(),
    ...(input.unitItems !== undefined ? { unit_items: String(input.unitItems) } : {}),
  };
}

/** Labels and driver options survive in one base64url JSON tag so a lost volume can be recreated. */
export function encodeJsonTag(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeJsonTag(value: string | undefined): unknown {
  if (value === undefined || value === "") return undefined;
  try {
    return JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

export function volumeTags(
  input: CommonTagInput & { volume: Volume; format: BackupFormat; sizeBytes: number },
): Tags {
  return {
    ...common("volume", input),
    volume: input.volume.name,
    backup_format: input.format,
    size_bytes: String(input.sizeBytes),
    volume_driver: input.volume.driver,
    volume_labels: encodeJsonTag(input.volume.labels),
    volume_options: encodeJsonTag(input.volume.options),
  };
}

export function bindTags(
  input: CommonTagInput & { source: string; destination: string; readOnly: boolean; sizeBytes: number },
): Tags {
  return {
    ...common("bind", input),
    bind_source: input.source,
    bind_destination: input.destination,
    read_only: input.readOnly ? "true" : "false",
    size_bytes: String(input.sizeBytes),
  };
}

/** A unit's recipe: compose files, project files, inspect documents, coverage manifest. */
export function recipeTags(input: CommonTagInput): Tags {
  return common("recipe", input);
}

export function networksTags(input: CommonTagInput & { networkCount: number }): Tags {
  return { ...common("networks", input), network_count: String(input.networkCount) };
}

export function dockerConfigTags(input: CommonTagInput & { files: readonly string[] }): Tags {
  return { ...common("docker_config", input), files: input.files.join(",") };
}

/** The metadata record of one volume or bind snapshot. */
export function fsMetadataTags(
  input:
    | (CommonTagInput & { for: "volume"; volume: string })
    | (CommonTagInput & { for: "bind"; source: string }),
): Tags {
  return {
    ...common("fs_metadata", input),
    for_type: input.for,
    ...(input.for === "volume" ? { volume: input.volume } : { bind_source: input.source }),
  };
}

/**
 * A metadata record's tags with the number of files with holes its walk found (`sparse_files`),
 * known only once the data snapshot's walk is done.
 */
export function withSparseFiles(tags: Tags, sparseFiles: number | undefined): Tags {
  return sparseFiles === undefined ? tags : { ...tags, sparse_files: String(sparseFiles) };
}

/**
 * Whether a direct snapshot may hold files with holes, from its metadata record's tags (none
 * when it has no record): only a record that counted none says no. Restoring with holes costs
 * time (Kopia checks every block for zeros and writes around them); without, a file with holes
 * would be written out in full.
 */
export function mayHoldHoles(metadataTags: Tags | undefined): boolean {
  return metadataTags?.sparse_files !== "0";
}

/** Kopia returns user tags as `"tag:key": "value"`; this strips the prefix and drops Kopia's own. */
export function stripTagPrefix(raw: Readonly<Record<string, string>> | undefined): Tags {
  const tags: Tags = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (key.startsWith("tag:")) tags[key.slice(4)] = value;
  }
  return tags;
}

/** `backup_format == "direct"` is direct; anything else (missing, "tar") is the legacy TAR format. */
export function formatFromTags(tags: Tags): BackupFormat {
  return tags.backup_format === "direct" ? "direct" : "tar";
}

/** Before 5.5.1 there was no backup_scope tag: treat it as standard. */
export function scopeFromTags(tags: Tags): BackupScope {
  const scope = tags.backup_scope;
  return scope === "minimal" || scope === "full" ? scope : "standard";
}

/** Parses the `timestamp` tag. Naive times (older writers) are taken as UTC. */
export function parseTimestampTag(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim());
  const date = new Date(hasZone ? value.trim() : `${value.trim()}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Turns a tag map into kopia's `--tags key:value` arguments. */
export function tagArgs(tags: Tags): string[] {
  return Object.entries(tags).flatMap(([key, value]) => ["--tags", `${key}:${value}`]);
}
