// Keeping Kopia's global policy in line with the config's retention and compression.
import type { GlobalPolicyChange } from "../adapters/kopia/argv.js";
import type { Context } from "./context.js";

const RETENTION_KEYS = {
  latest: "keepLatest",
  hourly: "keepHourly",
  daily: "keepDaily",
  weekly: "keepWeekly",
  monthly: "keepMonthly",
  annual: "keepAnnual",
} as const;

/** Reads the global policy and writes only what differs from the config. */
export async function applyGlobalPolicy(ctx: Pick<Context, "kopia" | "settings" | "log">): Promise<void> {
  const current = await ctx.kopia.globalPolicy();
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
 * them). Reads first and writes only when something differs.
 */
export async function syncSourcePolicy(
  ctx: Pick<Context, "kopia">,
  source: string,
  patterns: readonly string[],
): Promise<void> {
  const current = await ctx.kopia.sourcePolicy(source);
  const addIgnore = patterns.filter((p) => !current.ignore.includes(p));
  const removeIgnore = current.ignore.filter((p) => !patterns.includes(p));
  const cacheDirsWrong = current.ignoreCacheDirs !== false;
  if (addIgnore.length === 0 && removeIgnore.length === 0 && !cacheDirsWrong) return;
  await ctx.kopia.setSourcePolicy(source, {
    addIgnore,
    removeIgnore,
    ...(cacheDirsWrong ? { ignoreCacheDirs: false } : {}),
  });
}
