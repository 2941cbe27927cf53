// When kopi-docka runs Kopia's maintenance. Kopia's own automatic maintenance is turned off for
// the snapshots (it would run while containers are down); the backup runs it itself, after the
// containers are up, on Kopia's default schedule: quick maintenance hourly, full daily (full
// maintenance is what drops the content no snapshot refers to any more, after retention).

export const QUICK_MAINTENANCE_EVERY_MS = 60 * 60 * 1000;
export const FULL_MAINTENANCE_EVERY_MS = 24 * 60 * 60 * 1000;

/** When this client last ran each kind (ISO times); missing: never. */
export interface MaintenanceState {
  quick?: string;
  full?: string;
}

export type MaintenanceKind = "quick" | "full";

/** The maintenance due now, or undefined. Full counts as quick too. A time in the future (a clock set back) is due. */
export function maintenanceDue(state: MaintenanceState, now: Date): MaintenanceKind | undefined {
  const since = (iso: string | undefined) => {
    const t = iso ? Date.parse(iso) : Number.NaN;
    return Number.isNaN(t) || t > now.getTime() ? Number.POSITIVE_INFINITY : now.getTime() - t;
  };
  if (since(state.full) >= FULL_MAINTENANCE_EVERY_MS) return "full";
  if (Math.min(since(state.quick), since(state.full)) >= QUICK_MAINTENANCE_EVERY_MS) return "quick";
  return undefined;
}
