// Files only their owner may read: config, password, run records.
import { promises as fs, constants as fsConstants } from "node:fs";
import path from "node:path";

/** Writes a file readable by its owner only (0600), creating its directory (0700) when missing. */
export async function writePrivateFile(
  file: string,
  content: string,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const handle = await fs.open(
    file,
    options.overwrite ? fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC : "wx",
    0o600,
  );
  try {
    await handle.writeFile(content, "utf8");
    await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
}
