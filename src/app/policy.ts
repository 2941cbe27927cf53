// Keeping Kopia's global policy in line with the config's retention and compression (and cache
// directories kept), and each source's own policy with the unit's ignore rules.
import type { GlobalPolicyChange } from "../adapters/kopia/argv.js";
import { GATE_ACTIONS } from "../adapters/kopia/gate.js";
import type {
  GlobalPolicyJson,
  LevelPolicy,
  Policies,
  SourcePolicy,
} from "../adapters/kopia/kopia-client.js";
import { isAtOrBelow } from "../domain/paths.js";
import type { Context } from "./context.js";

const RETENTION_KEYS = {
  latest: "keepLatest",
  hourly: "keepHourly",
  daily: "keepDaily",
  weekly: "keepWeekly",
  monthly: "keepMonthly",
  annual: "keepAnnual",
} as const;

/**
 * Writes only what of the global policy (as read by `kopia.policies()`) differs from the config,
 * and keeps directories holding a CACHEDIR.TAG with their contents (Kopia's default stores them
 * empty; TAR keeps them), so a source needs a policy of its own only for ignore rules.
 */
export async function applyGlobalPolicy(
  ctx: Pick<Context, "kopia" | "settings" | "log">,
  current: GlobalPolicyJson,
): Promise<void> {
  const wanted = ctx.settings.config.retention;
  const change: GlobalPolicyChange = {};
  for (const [key, field] of Object.entries(RETENTION_KEYS) as [
    keyof typeof RETENTION_KEYS,
    (typeof RETENTION_KEYS)[keyof typeof RETENTION_KEYS],
  ][]) {
    if (current.retention?.[field] !== wanted[key]) {
      change.retention = { ...(change.retention ?? {}), [key]: wanted[key] };
    }
  }
  const compression = ctx.settings.config.kopia.compression;
  if (compression && (current.compression?.compressorName ?? "none") !== compression)
    change.compression = compression;
  if (current.ignoreCacheDirs !== false) change.ignoreCacheDirs = false;
  if (current.gate !== true) change.gate = GATE_ACTIONS;
  if (change.retention || change.compression || change.ignoreCacheDirs !== undefined || change.gate) {
    ctx.log.info(
      "updating Kopia's global policy (retention, compression, cache directories kept, snapshot gate) to match the config",
    );
    await ctx.kopia.setGlobalPolicy(change);
  }
}

/**
 * The policies that apply to `user@host` besides the global one: its paths' policies, and the
 * policies for all its paths (the user@host's, the host's).
 */
export function policiesOf(
  policies: Pick<Policies, "sources" | "levels">,
  host: string,
  user: string,
): Pick<Policies, "sources" | "levels"> {
  return {
    sources: policies.sources.filter((p) => p.host === host && p.user === user),
    levels: policies.levels.filter((p) => p.host === host && (p.user === user || p.user === "")),
  };
}

/**
 * Whether a snapshot of `source` can be started ahead of the stop (see adapters/kopia/gate.ts),
 * once the global policy holds the gate (applyGlobalPolicy's job): none of `own` (policiesOf this
 * user@host) defines an action, be it for all paths or for a path at, above or below the
 * source; such an action would replace the gate or run beside it.
 */
export function gateable(own: Pick<Policies, "sources" | "levels">, source: string): boolean {
  return (
    !own.levels.some((p) => p.actions) &&
    !own.sources.some((p) => p.actions && (isAtOrBelow(source, p.path) || isAtOrBelow(p.path, source)))
  );
}

/**
 * Whether `source` takes its cache-directory setting from the global policy (which
 * applyGlobalPolicy makes keep them): none of `own` (policiesOf this user@host) between the two
 * (a parent path's, the user@host's, the host's) says anything about cache directories.
 */
export function cacheDirsFromGlobal(own: Pick<Policies, "sources" | "levels">, source: string): boolean {
  return inheritedBy(own, source, { ownPolicy: false }).every((p) => p.ignoreCacheDirs === undefined);
}

/**
 * The policies of `own` (policiesOf this user@host) that `source` inherits from, besides the
 * global one: its parent paths', the user@host's and the host's, and (ownPolicy) its own.
 */
function inheritedBy(
  own: Pick<Policies, "sources" | "levels">,
  source: string,
  { ownPolicy }: { ownPolicy: boolean },
): (SourcePolicy | LevelPolicy)[] {
  return [
    ...own.sources.filter((p) => (ownPolicy || p.path !== source) && isAtOrBelow(source, p.path)),
    ...own.levels,
  ];
}

/**
 * How many files Kopia reads at once for a snapshot: Kopia's default is one per processor, and
 * Kopia's own work on the data (hash, compression, encryption) waits on each read; with fewer than
 * four processors, four reads keep them busy while a read waits on the disk (raw Kopia's first
 * backup of 2 GiB like this project's benchmark data, by hand: median 16.3 s against 18.3 s with
 * two, ten runs each, interleaved, page cache emptied; 5% in the benchmark's median round; see
 * docs/benchmarks.md).
 */
export const MIN_PARALLEL_FILE_READS = 4;

/**
 * The `--parallel` for a direct snapshot of `source` on a machine with `cpus` processors:
 * MIN_PARALLEL_FILE_READS where Kopia would read fewer files at once, undefined (Kopia's own
 * choice) where it reads as many already or a policy says how many (the global one, this
 * user@host's or host's, or a path's at or above the source: kopia's `--parallel` would override
 * what the user set there).
 */
export function parallelFileReads(
  global: Pick<GlobalPolicyJson, "maxParallelFileReads">,
  own: Pick<Policies, "sources" | "levels">,
  source: string,
  cpus: number,
): number | undefined {
  if (cpus >= MIN_PARALLEL_FILE_READS || global.maxParallelFileReads !== undefined) return undefined;
  const set = inheritedBy(own, source, { ownPolicy: true }).some((p) => p.maxParallelFileReads !== undefined);
  return set ? undefined : MIN_PARALLEL_FILE_READS;
}

/**
 * Makes Kopia's policy for one data path say exactly what kopi-docka wants: these ignore rules,
 * and directories holding a CACHEDIR.TAG kept. `current` is the source's own policy as read by
 * `kopia.policies()` (undefined: none); `inheritedKept` says the source inherits "kept" from the
 * global policy (see cacheDirsFromGlobal). kopia is called only when something differs: a
 * source without ignore rules that inherits "kept" needs no policy of its own.
 */
export async function syncSourcePolicy(
  ctx: Pick<Context, "kopia">,
  source: string,
  patterns: readonly string[],
  current: Pick<SourcePolicy, "ignore" | "ignoreCacheDirs"> | undefined,
  inheritedKept: boolean,
): Promise<void> {
  const ignore = current?.ignore ?? [];
  const addIgnore = patterns.filter((p) => !ignore.includes(p));
  const removeIgnore = ignore.filter((p) => !patterns.includes(p));
  const cacheDirsWrong =
    current?.ignoreCacheDirs === undefined ? !inheritedKept : current.ignoreCacheDirs !== false;
  if (addIgnore.length === 0 && removeIgnore.length === 0 && !cacheDirsWrong) return;
  await ctx.kopia.setSourcePolicy(source, {
    addIgnore,
    removeIgnore,
    ...(cacheDirsWrong ? { ignoreCacheDirs: false } : {}),
  });
}
