// Fixture data with the shapes users' volumes hold: modes, owners, links, sparse and large files.
import { createCipheriv } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

/** Writes the fixture tree into dir (which exists). Returns the path of the large file. */
export async function writeFixtureTree(
  dir: string,
  options: { largeMiB?: number } = {},
): Promise<{ large: string; sparse: string }> {
  const p = (...parts: string[]) => path.join(dir, ...parts);
  await fs.mkdir(p("nested", "deeper", "deepest"), { recursive: true });
  await fs.writeFile(p("nested", "deeper", "deepest", "leaf.txt"), "leaf\n");
  await fs.writeFile(p("secret.key"), "private\n");
  await fs.chmod(p("secret.key"), 0o600);
  await fs.writeFile(p("run.sh"), "#!/bin/sh\necho hi\n");
  await fs.chmod(p("run.sh"), 0o755);
  await fs.writeFile(p("setuid-tool"), "binary-ish\n");
  await fs.chmod(p("setuid-tool"), 0o4755);
  await fs.writeFile(p("owned-by-1000"), "user data\n");
  await fs.chown(p("owned-by-1000"), 1000, 1000);
  await fs.mkdir(p("www"));
  await fs.writeFile(p("www", "index.html"), "<h1>hi</h1>\n");
  await fs.chown(p("www", "index.html"), 33, 33);
  await fs.chown(p("www"), 33, 33);
  await fs.symlink("nested/deeper/deepest/leaf.txt", p("link-to-leaf"));
  await fs.mkdir(p("empty-dir"));
  await fs.writeFile(p("grüße-日本.txt"), "non-ascii name\n");
  const sparse = p("sparse.img");
  const handle = await fs.open(sparse, "w");
  await handle.write(Buffer.alloc(4096, 1), 0, 4096, 0);
  await handle.write(Buffer.alloc(4096, 2), 0, 4096, 16 * 1024 * 1024);
  await handle.truncate(32 * 1024 * 1024);
  await handle.close();
  const large = p("large.bin");
  const mib = options.largeMiB ?? 50;
  const out = await fs.open(large, "w");
  const stream = pseudoRandom("large.bin");
  for (let i = 0; i < mib; i++) await out.write(stream(1024 * 1024));
  await out.close();
  // Fixed, distinct times: a restore must bring back exactly these.
  const when = new Date("2024-02-29T12:34:56.789Z");
  await fs.utimes(p("run.sh"), when, when);
  await fs.utimes(p("nested", "deeper"), when, when);
  return { large, sparse };
}

/** Incompressible bytes that are the same on every run (AES-CTR keystream), so chunking is reproducible. */
export function pseudoRandom(seed: string): (bytes: number) => Buffer {
  const key = Buffer.alloc(32);
  key.write(seed);
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return (bytes) => cipher.update(Buffer.alloc(bytes));
}

/** Rewrites `bytes` inside a file at `offset` without changing its size. */
export async function rewriteInPlace(file: string, offset: number, bytes: number): Promise<void> {
  const handle = await fs.open(file, "r+");
  await handle.write(pseudoRandom(`rewrite-${offset}`)(bytes), 0, bytes, offset);
  await handle.close();
}
