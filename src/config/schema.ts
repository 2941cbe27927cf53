// The configuration: one schema with defaults and descriptions. Key names and meanings follow the
// older Python kopi-docka's config.json, so an existing config works unchanged; keys marked
// "(kopi-docka TS)" are our own additions.
import { z } from "zod";

/** Kopia's password-based key derivations for a new repository (`--format-block-key-derivation-algorithm`). */
export const KEY_DERIVATIONS = ["scrypt-65536-8-1", "pbkdf2-sha256-600000"] as const;

const seconds = z.number().int().min(0);
const keepCount = z.number().int().min(0);

export const kopiaSectionSchema = z
  .object({
    kopia_params: z
      .string()
      .default("filesystem --path /backup/kopia-repository")
      .describe("storage kind and flags appended to `kopia repository create|connect`"),
    password: z.string().optional().describe("repository password (prefer password_file)"),
    password_file: z.string().optional().describe("file holding the repository password (mode 0600)"),
    profile: z
      .string()
      .regex(/^[\w.-]+$/, "use letters, digits, '.', '_' or '-'")
      .default("kopi-docka")
      .describe("Kopia config profile: ~/.config/kopia/repository-<profile>.config"),
    config_file: z.string().optional().describe("(kopi-docka TS) Kopia config file; overrides profile"),
    cache_directory: z.string().optional().describe("Kopia cache directory"),
    compression: z.string().default("zstd").describe("compression set as Kopia's global policy"),
    hostname: z
      .string()
      .optional()
      .describe("(kopi-docka TS) Kopia client hostname (default: this machine's)"),
    binary: z.string().default("kopia").describe("(kopi-docka TS) the kopia executable"),
    key_derivation: z
      .enum(KEY_DERIVATIONS)
      .optional()
      .describe(
        "(kopi-docka TS) how a repository init creates derives its key from the password (default: Kopia's, scrypt-65536-8-1)",
      ),
  })
  .default({});

export const backupSectionSchema = z
  .object({
    base_path: z.string().default("/backup/kopi-docka").describe("working directory for metadata"),
    staging_directory: z
      .string()
      .default("/var/cache/kopi-docka/staging")
      .describe("(kopi-docka TS) where recipes, networks and daemon config are staged for their snapshots"),
    state_directory: z
      .string()
      .default("/var/lib/kopi-docka")
      .describe(
        "(kopi-docka TS) the run lock, the journal of stopped containers and when maintenance last ran (local disk)",
      ),
    backup_scope: z.enum(["minimal", "standard", "full"]).default("standard"),
    backup_format: z.enum(["direct", "tar"]).default("direct").describe("(kopi-docka TS) format for volumes"),
    stop_timeout: seconds.default(30).describe("seconds a container gets to stop before it is killed"),
    start_timeout: seconds.default(60).describe("seconds a container gets to run (and be healthy)"),
    exclude_patterns: z.array(z.string()).default([]),
    hooks: z.record(z.unknown()).default({}),
  })
  .default({});

export const dockerSectionSchema = z
  .object({
    daemon_json: z
      .string()
      .default("/etc/docker/daemon.json")
      .describe("(kopi-docka TS) daemon config, full scope"),
    service_dropin_dir: z
      .string()
      .default("/etc/systemd/system/docker.service.d")
      .describe("(kopi-docka TS) systemd drop-ins of docker.service, full scope"),
  })
  .default({});

export const restoreSectionSchema = z
  .object({
    stacks_directory: z
      .string()
      .default("/opt/stacks")
      .describe("(kopi-docka TS) where a restore writes a compose unit's files: <dir>/<unit>"),
  })
  .default({});

export const retentionSectionSchema = z
  .object({
    latest: keepCount.default(10),
    hourly: keepCount.default(0),
    daily: keepCount.default(7),
    weekly: keepCount.default(4),
    monthly: keepCount.default(12),
    annual: keepCount.default(3),
  })
  .default({});

export const configSchema = z.object({
  kopia: kopiaSectionSchema,
  backup: backupSectionSchema,
  docker: dockerSectionSchema,
  restore: restoreSectionSchema,
  retention: retentionSectionSchema,
  notifications: z.record(z.unknown()).default({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Keys the schema knows, as dotted paths; sections whose content is free (hooks, notifications) end in ".*". */
function knownKeys(schema: z.ZodTypeAny, prefix: string, out: Set<string>): void {
  let inner: z.ZodTypeAny = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodEffects) {
    inner = inner instanceof z.ZodEffects ? inner.innerType() : inner._def.innerType;
  }
  if (inner instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodTypeAny>)) {
      const path = prefix ? `${prefix}.${key}` : key;
      out.add(path);
      knownKeys(child, path, out);
    }
  } else if (inner instanceof z.ZodRecord) {
    out.add(`${prefix}.*`);
  }
}

const KNOWN = (() => {
  const set = new Set<string>();
  knownKeys(configSchema, "", set);
  return set;
})();

/** Dotted paths of keys in `input` that the schema does not know (reported as warnings). */
export function unknownKeys(input: unknown, prefix = ""): string[] {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return [];
  if (prefix && KNOWN.has(`${prefix}.*`)) return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (!KNOWN.has(path)) found.push(path);
    else found.push(...unknownKeys(value, path));
  }
  return found;
}

/** Validates a parsed JSON document: the typed config, or every problem with its path. */
export function validateConfig(
  input: unknown,
): { ok: true; config: Config; warnings: string[] } | { ok: false; problems: string[] } {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return { ok: false, problems: ["(root): must be a JSON object"] };
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    };
  }
  const warnings = unknownKeys(input).map((key) => `unknown key ${key} is ignored`);
  return { ok: true, config: parsed.data, warnings };
}
