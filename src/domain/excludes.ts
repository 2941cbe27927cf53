// Exclude patterns: gitignore-style, from the config (all data) and from a container label
// (the data that container mounts). Kopia takes them as its ignore policy; tar as --exclude.

export const EXCLUDE_LABEL = "kopi-docka.exclude";

/** Splits a label value ("cache/, *.tmp") into patterns. */
export function parseExcludeLabel(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** Patterns in first-seen order, without duplicates and empty ones. */
export function mergeExcludes(...lists: readonly (readonly string[])[]): string[] {
  const seen = new Set<string>();
  for (const list of lists) for (const p of list) if (p.trim()) seen.add(p.trim());
  return [...seen];
}

/**
 * The GNU tar equivalent of a gitignore pattern, for `tar -C <root> .` whose members are
 * "./…": a leading "/" anchors at the root ("./x"), a trailing "/" (directories only) is dropped,
 * "**" becomes "*" (tar's "*" already crosses "/"). Negations ("!x") cannot be expressed and are
 * returned as undefined.
 */
export function tarExcludePattern(pattern: string): string | undefined {
  let p = pattern.trim();
  if (p === "" || p.startsWith("#") || p.startsWith("!")) return undefined;
  p = p
    .replace(/\/+$/, "")
    .replace(/\*\*\//g, "")
    .replace(/\*\*/g, "*");
  if (p === "") return undefined;
  return p.startsWith("/") ? `.${p}` : p;
}
