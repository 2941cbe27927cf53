// Pre-flight checks made before any container is stopped.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { RepositoryStatus } from "../adapters/kopia/kopia-client.js";
import { EnvironmentError } from "../domain/errors.js";
import type { SnapshotRecord } from "../domain/restore-points.js";

/** Free space always kept in reserve on a local repository's file system. */
export const FREE_SPACE_RESERVE = 64 * 1024 * 1024;

/** A local (filesystem) repository must accept a new file: a read-only mount fails here, not mid-snapshot. */
export async function checkRepositoryWritable(status: RepositoryStatus): Promise<void> {
  if (status.storageType !== "filesystem" || !status.storagePath) return;
  // Kopia answers from its cache even when the storage was emptied or replaced.
  try {
    await fs.stat(path.join(status.storagePath, "kopia.repository.f"));
  } catch {
    throw new EnvironmentError(
      `there is no Kopia repository at ${status.storagePath} (kopia.repository.f is missing): was the disk replaced or emptied? \`kopi-docka init\` creates a new one; nothing was stopped`,
    );
  }
  const probe = path.join(status.storagePath, `.kopi-docka-write-test-${randomUUID()}`);
  try {
    const handle = await fs.open(probe, "wx", 0o600);
    await handle.close();
    await fs.rm(probe, { force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new EnvironmentError(
      `the repository at ${status.storagePath} is not writable (${code}): check its disk and mount, nothing was stopped`,
    );
  }
}

/**
 * An estimate of the new data a unit's backup stores: everything of a source Kopia has never
 * seen, and a small share (1%) of the rest, which deduplicates against the previous snapshot.
 */
export function estimateNewData(
  items: readonly { path: string; sizeBytes: number; stdinSource?: string | undefined }[],
  previous: readonly SnapshotRecord[],
  host: string,
): number {
  const known = new Set(previous.filter((r) => r.host === host && !r.incomplete).map((r) => r.path));
  return items.reduce(
    (sum, item) =>
      sum + (known.has(item.stdinSource ?? item.path) ? Math.ceil(item.sizeBytes / 100) : item.sizeBytes),
    0,
  );
}

/** True unless a local repository has less free space than these bytes plus the reserve. */
export function hasRoomFor(status: RepositoryStatus, bytes: number): boolean {
  if (status.storageType !== "filesystem" || status.availableBytes === undefined) return true;
  return status.availableBytes >= bytes + FREE_SPACE_RESERVE;
}

/** Fails when a local repository has less free space than the estimate plus the reserve. */
export function checkFreeSpace(status: RepositoryStatus, estimate: number, unit: string): void {
  if (hasRoomFor(status, estimate) || status.availableBytes === undefined) return;
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
  throw new EnvironmentError(
    `not enough free space for ${unit} where the repository is: ${mib(status.availableBytes)} free, about ${mib(estimate)} of new data expected (plus a ${mib(FREE_SPACE_RESERVE)} reserve); nothing was stopped`,
  );
}
