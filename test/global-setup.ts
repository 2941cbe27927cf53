// Kopia run directly by the end-to-end tests (as the older tool or a user would run it) writes
// its logs to ~/.cache/kopia unless told otherwise: they go to a directory of the run instead,
// removed at its end. (kopi-docka's own kopia calls get their --log-dir from its config.)
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";

export default async function setup(): Promise<() => Promise<void>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-e2e-kopia-logs-"));
  process.env.KOPIA_LOG_DIR = dir;
  return async () => {
    await fs.rm(dir, { recursive: true, force: true });
  };
}
