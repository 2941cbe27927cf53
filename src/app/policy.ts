// Keeping Kopia's global policy in line with the config's retention and compression.
import type { GlobalPolicyChange } from "../adapters/kopia/argv.js";
import type { GlobalPolicyJson, SourcePolicy } from "../adapters/kopia/kopia-client.js";
import type { Context } from "./context.js";

const RETENTION_KEYS = {
  latest: "keepLatest",
  hourly: "keepHourly",
  daily: "keepDaily",
  weekly: "keepWeekly",
  monthly: "keepMonthly",
  annual: "keepAnnual",
} as const;

/** Writes only what of the global policy (as read by `kopia.policies()`) differs from the config. */
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
  if (change.retention || change.compression) {
    ctx.log.info("updating Kopia's global policy (retention, compression) to match the config");
    await ctx.kopia.setGlobalPolicy(change);
  }
}

/**
 * Makes Kopia's policy for one data path say exactly what kopi-docka wants: these ignore rules,
 * and directories holding a CACHEDIR.TAG kept (Kopia's default stores them empty; TAR keeps
 * them). `current` is the source's own policy as read by `kopia.policies()` (undefined: none);
 * kopia is called only when something differs.
 */
export async function syncSourcePolicy(
  ctx: Pick<Context, "kopia">,
  source: string,
  patterns: readonly string[],
  current: Pick<SourcePolicy, "ignore" | "ignoreCacheDirs"> | undefined,
): Promise<void> {
  const ignore = current?.ignore ?? [];
  const addIgnore = patterns.filter((p) => !ignore.includes(p));
  const removeIgnore = ignore.filter((p) => !patterns.includes(p));
  const cacheDirsWrong = current?.ignoreCacheDirs !== false;
  if (addIgnore.length === 0 && removeIgnore.length === 0 && !cacheDirsWrong) return;
  await ctx.kopia.setSourcePolicy(source, {
    addIgnore,
    removeIgnore,
    ...(cacheDirsWrong ? { ignoreCacheDirs: false } : {}),
  });
}
