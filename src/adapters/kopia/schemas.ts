// Schemas for Kopia's JSON output. Kopia's shapes stop here: callers get domain types.
import { z } from "zod";
import type { SnapshotRecord } from "../../domain/restore-points.js";
import { stripTagPrefix } from "../../domain/tags.js";

const optionalDate = z
  .string()
  .optional()
  .transform((value) => {
    if (!value) return undefined;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  });

export const snapshotManifestSchema = z
  .object({
    id: z.string(),
    source: z.object({ host: z.string(), userName: z.string(), path: z.string() }),
    startTime: optionalDate,
    endTime: optionalDate,
    incomplete: z.string().optional(),
    tags: z.record(z.string()).optional(),
    rootEntry: z
      .object({
        obj: z.string().optional(),
        summ: z
          .object({
            size: z.number().optional(),
            files: z.number().optional(),
            numFailed: z.number().optional(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
    stats: z
      .object({ totalSize: z.number().optional(), fileCount: z.number().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type SnapshotManifest = z.infer<typeof snapshotManifestSchema>;

export function toSnapshotRecord(manifest: SnapshotManifest): SnapshotRecord {
  return {
    id: manifest.id,
    host: manifest.source.host,
    user: manifest.source.userName,
    path: manifest.source.path,
    startTime: manifest.startTime,
    endTime: manifest.endTime,
    // Kopia sets `incomplete` to the reason (e.g. "canceled") when a snapshot did not finish.
    incomplete: manifest.incomplete !== undefined && manifest.incomplete !== "",
    tags: stripTagPrefix(manifest.tags),
    rootObject: manifest.rootEntry?.obj ?? "",
    totalSize: manifest.rootEntry?.summ?.size ?? manifest.stats?.totalSize ?? 0,
    files: manifest.rootEntry?.summ?.files ?? manifest.stats?.fileCount ?? 0,
  };
}

export const repositoryStatusSchema = z
  .object({
    configFile: z.string().optional(),
    clientOptions: z
      .object({ hostname: z.string(), username: z.string(), readonly: z.boolean().optional() })
      .passthrough(),
    storage: z
      .object({ type: z.string(), config: z.record(z.unknown()).optional() })
      .passthrough()
      .optional(),
    volume: z.object({ capacity: z.number(), available: z.number() }).partial().optional(),
  })
  .passthrough();
export type RepositoryStatusJson = z.infer<typeof repositoryStatusSchema>;

/** Kopia's own repository config file (`--config-file`): what `repository status` reads of the client. */
export const kopiaConfigFileSchema = z
  .object({
    storage: z.object({ type: z.string(), config: z.record(z.unknown()).optional() }).passthrough(),
    hostname: z.string(),
    username: z.string(),
  })
  .passthrough();
export type KopiaConfigFile = z.infer<typeof kopiaConfigFileSchema>;

/** The text of kopia's config file, read; undefined when it is not JSON kopia wrote. */
export function parseKopiaConfigFile(text: string): KopiaConfigFile | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = kopiaConfigFileSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export const retentionPolicySchema = z
  .object({
    keepLatest: z.number().optional(),
    keepHourly: z.number().optional(),
    keepDaily: z.number().optional(),
    keepWeekly: z.number().optional(),
    keepMonthly: z.number().optional(),
    keepAnnual: z.number().optional(),
  })
  .passthrough();

/** `kopia show <directory object>` prints the directory's manifest. */
export const directoryObjectSchema = z
  .object({
    stream: z.literal("kopia:directory"),
    entries: z.array(
      z
        .object({ name: z.string(), type: z.string(), obj: z.string(), size: z.number().optional() })
        .passthrough(),
    ),
  })
  .passthrough();

const actionCommandSchema = z
  .object({
    path: z.string().optional(),
    args: z.array(z.string()).optional(),
    script: z.string().optional(),
    timeout: z.number().optional(),
    mode: z.string().optional(),
  })
  .passthrough();

/** A policy's actions (`actions` of `kopia policy list --json`). */
export const actionsPolicySchema = z
  .object({
    beforeFolder: actionCommandSchema.optional(),
    afterFolder: actionCommandSchema.optional(),
    beforeSnapshotRoot: actionCommandSchema.optional(),
    afterSnapshotRoot: actionCommandSchema.optional(),
  })
  .passthrough();

/** One entry of `kopia policy list --json`: the policy defined at a target (not the effective one). */
export const policyListEntrySchema = z
  .object({
    target: z.object({ host: z.string(), userName: z.string(), path: z.string() }).passthrough(),
    retention: retentionPolicySchema.optional(),
    compression: z.object({ compressorName: z.string().optional() }).passthrough().optional(),
    files: z
      .object({ ignore: z.array(z.string()).optional(), ignoreCacheDirs: z.boolean().optional() })
      .passthrough()
      .optional(),
    actions: actionsPolicySchema.optional(),
    upload: z.object({ maxParallelFileReads: z.number().optional() }).passthrough().optional(),
  })
  .passthrough();
export const policyListSchema = z.array(policyListEntrySchema);
export type GlobalPolicyJson = Pick<z.infer<typeof policyListEntrySchema>, "retention" | "compression"> & {
  /** Whether directories holding a CACHEDIR.TAG are stored empty (undefined: Kopia's default, true). */
  ignoreCacheDirs?: boolean | undefined;
  /** Whether its snapshot-root actions are the snapshot gate's (see gate.ts). */
  gate?: boolean | undefined;
  /** How many files a snapshot reads at once, where the policy says (Kopia's default: one per processor). */
  maxParallelFileReads?: number | undefined;
};
