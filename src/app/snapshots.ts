// Restore points: the repository's snapshots grouped by (unit, backup_id), newest first.
import { groupRestorePoints, type RestorePoint } from "../domain/restore-points.js";
import type { Context } from "./context.js";

export interface SnapshotsRequest {
  unit?: string | undefined;
  /** Restore points of every host writing to the repository, not just this one. */
  allHosts?: boolean;
  /** Restore points written by this Kopia hostname (default: this client's). */
  host?: string | undefined;
}

export async function listRestorePoints(
  ctx: Pick<Context, "kopia">,
  request: SnapshotsRequest,
): Promise<{ host: string | undefined; points: RestorePoint[] }> {
  // This client's hostname (from kopia's config file) beside the snapshots.
  const [status, all] = await Promise.all([
    request.allHosts || request.host !== undefined ? undefined : ctx.kopia.localStatus(),
    ctx.kopia.listSnapshots(),
  ]);
  const host = request.allHosts ? undefined : (request.host ?? status?.hostname);
  const records = all.filter((r) => host === undefined || r.host === host);
  const points = groupRestorePoints(records).filter(
    (p) => request.unit === undefined || p.unit === request.unit,
  );
  return { host, points };
}
