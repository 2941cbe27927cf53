// Version gates: the minimum Kopia version per feature kopi-docka uses. Reported by `doctor`.

export const KOPIA_TESTED_VERSION = "0.23.1";

export const KOPIA_VERSION_GATES: readonly { feature: string; minimum: string }[] = [
  { feature: "snapshot create --json with tags", minimum: "0.9.0" },
  { feature: "restore --write-sparse-files", minimum: "0.11.0" },
  { feature: "repository status --json with volume capacity", minimum: "0.13.0" },
];

/** Compares dotted numeric versions ("0.23.1"); a leading "v" and any suffix are ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .replace(/^v/, "")
      .split(/[^\d.]/)[0]
      ?.split(".")
      .map((n) => Number.parseInt(n, 10) || 0) ?? [];
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
