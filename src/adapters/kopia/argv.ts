// Pure builders of kopia argv arrays. Each is tested by asserting the exact array.
import { type Tags, tagArgs } from "../../domain/tags.js";
import { actionFlagValue, GATE_TIMEOUT_SECONDS, type GateActions } from "./gate.js";

export interface KopiaLocation {
  binary: string;
  /** Absolute path of kopia's repository config file. */
  configFile: string;
  /** Absolute path of kopia's log directory. */
  logDir: string;
}

/**
 * Flags every kopia call gets: its own config file and log dir, warnings only on the console, and
 * its log file without debug lines (Kopia's default writes a line or more per file: 60,000 lines
 * for a restore of 20,000 files, about 2% of its time). Kopia's content logs are kept.
 */
export function baseArgs(location: KopiaLocation): string[] {
  return [
    location.binary,
    `--config-file=${location.configFile}`,
    `--log-dir=${location.logDir}`,
    "--log-level=warning",
    "--file-log-level=info",
    "--no-progress",
  ];
}

export interface ConnectOptions {
  /** Storage kind and its flags, e.g. ["filesystem", "--path", "/backup/kopia-repository"]. */
  storage: readonly string[];
  cacheDirectory: string;
  hostname?: string;
  username?: string;
  /** A new repository's key derivation (see KEY_DERIVATIONS in the config schema); Kopia's default without. */
  keyDerivation?: string;
}

function connectFlags(options: ConnectOptions): string[] {
  return [
    ...options.storage,
    `--cache-directory=${options.cacheDirectory}`,
    "--no-check-for-updates",
    "--no-persist-credentials",
    ...(options.hostname ? [`--override-hostname=${options.hostname}`] : []),
    ...(options.username ? [`--override-username=${options.username}`] : []),
  ];
}

/**
 * The content hash of the repositories kopi-docka creates. Kopia's default (BLAKE2B-256-128)
 * hashes with encryption at about half the speed (`kopia benchmark crypto`: 0.57 against
 * 1.2 GB/s on the benchmark's machine); every byte a snapshot reads is hashed, so a first backup
 * of 1.9 GiB took about 2 s less (four pairs, 0.6 to 4.3 s). Any Kopia since 0.8 (2021) reads such a repository.
 */
export const CONTENT_HASH = "BLAKE3-256-128";

/**
 * The key derivation of a repository whose password kopi-docka generated (256 random bits).
 * Every kopia process derives the key from the password once; Kopia's default, scrypt-65536-8-1,
 * costs 0.2-0.3 s of processor time for it (about half of a short kopia command), PBKDF2 with
 * 600,000 rounds half of that, and a backup runs several kopia processes per unit. The cost of the
 * derivation guards a guessable password; a random one of 256 bits needs none. Kopia names it
 * since the release after 0.16 (0.16 knows only an older "pbkdf2" of other rounds).
 */
export const GENERATED_PASSWORD_KEY_DERIVATION = "pbkdf2-sha256-600000";

/** Creates a repository (with CONTENT_HASH, and the key derivation asked for) and connects to it. */
export function repositoryCreateArgs(location: KopiaLocation, options: ConnectOptions): string[] {
  return [
    ...baseArgs(location),
    "repository",
    "create",
    ...connectFlags(options),
    `--block-hash=${CONTENT_HASH}`,
    ...(options.keyDerivation ? [`--format-block-key-derivation-algorithm=${options.keyDerivation}`] : []),
  ];
}

export function repositoryConnectArgs(location: KopiaLocation, options: ConnectOptions): string[] {
  return [...baseArgs(location), "repository", "connect", ...connectFlags(options)];
}

export function repositoryStatusArgs(location: KopiaLocation): string[] {
  return [...baseArgs(location), "repository", "status", "--json"];
}

export interface SnapshotCreateOptions {
  tags: Tags;
  description?: string;
  /** Name of the single file a stdin snapshot holds (TAR format, metadata records). */
  stdinFile?: string;
  /** Record the snapshot under this source path instead of the path read. */
  overrideSource?: string;
  /** Run the policy's actions (the snapshot gate, see gate.ts) even where this client disables them. */
  gated?: boolean;
  /** Files read at once (`--parallel`), instead of what the source's policy says (see app/policy.ts). */
  parallel?: number;
}

/**
 * `snapshot create` without automatic maintenance: maintenance would run while the unit's
 * containers are down. The backup use case runs it once after the containers are up again.
 */
export function snapshotCreateArgs(
  location: KopiaLocation,
  source: string,
  options: SnapshotCreateOptions,
): string[] {
  return [
    ...baseArgs(location),
    "--no-auto-maintenance",
    "snapshot",
    "create",
    ...(options.stdinFile ? [`--stdin-file=${options.stdinFile}`, "-"] : [source]),
    ...(options.overrideSource ? [`--override-source=${options.overrideSource}`] : []),
    ...(options.gated ? ["--force-enable-actions"] : []),
    ...(options.parallel ? [`--parallel=${options.parallel}`] : []),
    "--json",
    ...(options.description ? [`--description=${options.description}`] : []),
    ...tagArgs(options.tags),
  ];
}

/** Deletes snapshots by manifest id (`--delete` confirms; without it kopia only says what it would do). */
export function snapshotDeleteArgs(location: KopiaLocation, ids: readonly string[]): string[] {
  return [...baseArgs(location), "--no-auto-maintenance", "snapshot", "delete", ...ids, "--delete"];
}

export function snapshotListArgs(location: KopiaLocation): string[] {
  return [...baseArgs(location), "snapshot", "list", "--json", "--all"];
}

export interface RestoreOptions {
  /** Zero blocks written as holes (`--write-sparse-files`); default true. */
  sparse?: boolean;
}

/** Restores a directory snapshot into target with owners, modes, times and (by default) holes. */
export function restoreArgs(
  location: KopiaLocation,
  snapshotId: string,
  target: string,
  options: RestoreOptions = {},
): string[] {
  return [
    ...baseArgs(location),
    "restore",
    snapshotId,
    target,
    ...(options.sparse === false ? [] : ["--write-sparse-files"]),
    "--no-ignore-permission-errors",
    "--no-skip-owners",
    "--no-skip-permissions",
    "--no-skip-times",
  ];
}

/** Streams a file object's bytes to stdout (used for TAR snapshots). */
export function showArgs(location: KopiaLocation, objectPath: string): string[] {
  return [...baseArgs(location), "show", objectPath];
}

/** Every policy defined in the repository (the global one and each source's own), in one call. */
export function policyListArgs(location: KopiaLocation): string[] {
  return [...baseArgs(location), "policy", "list", "--json"];
}

export interface GlobalPolicyChange {
  retention?: Partial<Record<"latest" | "hourly" | "daily" | "weekly" | "monthly" | "annual", number>>;
  compression?: string;
  /** false: directories holding a CACHEDIR.TAG are stored with their contents. */
  ignoreCacheDirs?: boolean;
  /** The snapshot gate's before- and after-snapshot-root actions (see gate.ts). */
  gate?: GateActions;
}

export function policySetGlobalArgs(location: KopiaLocation, change: GlobalPolicyChange): string[] {
  const retention = Object.entries(change.retention ?? {}).map(([key, value]) => `--keep-${key}=${value}`);
  return [
    ...baseArgs(location),
    "policy",
    "set",
    "--global",
    ...retention,
    ...(change.compression ? [`--compression=${change.compression}`] : []),
    ...(change.ignoreCacheDirs !== undefined ? [`--ignore-cache-dirs=${change.ignoreCacheDirs}`] : []),
    ...(change.gate ? gateArgs(change.gate) : []),
  ];
}

/** Both actions take the one timeout and mode of the command that sets them. */
function gateArgs(gate: GateActions): string[] {
  const { beforeSnapshotRoot: before, afterSnapshotRoot: after } = gate;
  return [
    `--before-snapshot-root-action=${actionFlagValue(before)}`,
    `--after-snapshot-root-action=${actionFlagValue(after)}`,
    `--action-command-timeout=${before.timeout ?? GATE_TIMEOUT_SECONDS}s`,
    `--action-command-mode=${before.mode ?? "essential"}`,
  ];
}

export interface SourcePolicyChange {
  addIgnore: readonly string[];
  removeIgnore: readonly string[];
  /** Kopia stores directories holding a CACHEDIR.TAG empty unless this is false. */
  ignoreCacheDirs?: boolean;
}

export function policySetSourceArgs(
  location: KopiaLocation,
  source: string,
  change: SourcePolicyChange,
): string[] {
  return [
    ...baseArgs(location),
    "policy",
    "set",
    source,
    ...change.addIgnore.map((p) => `--add-ignore=${p}`),
    ...change.removeIgnore.map((p) => `--remove-ignore=${p}`),
    ...(change.ignoreCacheDirs !== undefined ? [`--ignore-cache-dirs=${change.ignoreCacheDirs}`] : []),
  ];
}

/** Quick maintenance, or full (`--full`: also drops the content no snapshot refers to any more). */
export function maintenanceRunArgs(location: KopiaLocation, full = false): string[] {
  return [...baseArgs(location), "maintenance", "run", ...(full ? ["--full"] : [])];
}

export function versionArgs(location: Pick<KopiaLocation, "binary">): string[] {
  return [location.binary, "--version"];
}
