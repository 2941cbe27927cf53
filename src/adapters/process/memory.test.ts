import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { transform } from "esbuild";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Runs memory.ts in a fresh Node process (V8's flags are global to a process, and this one's young
 * generation has long grown): optionally keepYoungGenerationSmall() first, then builds what a walk
 * of a large tree builds (many small objects that survive), and prints the largest new space seen.
 */
async function largestNewSpace(keepSmall: boolean): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-memory-"));
  try {
    const source = await fs.readFile(path.join(here, "memory.ts"), "utf8");
    const { code } = await transform(source, { loader: "ts", format: "esm" });
    await fs.writeFile(path.join(dir, "memory.mjs"), code);
    await fs.writeFile(
      path.join(dir, "probe.mjs"),
      `import { getHeapSpaceStatistics } from "node:v8";
import { keepYoungGenerationSmall } from "./memory.mjs";
if (process.argv[2] === "small") keepYoungGenerationSmall();
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
let largest = newSpace();
const kept = [];
for (let i = 0; i < 400000; i++) {
  kept.push({ rel: Buffer.from("files/d" + i), text: "files/d" + i, size: BigInt(i) });
  if (i % 1000 === 0) largest = Math.max(largest, newSpace());
}
console.log(JSON.stringify({ largest, kept: kept.length }));
`,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(dir, "probe.mjs"), keepSmall ? "small" : "default"],
      { env: { ...process.env, NODE_OPTIONS: "" } },
    );
    return (JSON.parse(stdout) as { largest: number }).largest;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe("keepYoungGenerationSmall", () => {
  it("keeps the young generation at its starting size while many new objects survive (V8 would grow it to 32 MB)", async () => {
    const [grown, kept] = await Promise.all([largestNewSpace(false), largestNewSpace(true)]);
    expect(grown).toBeGreaterThan(8 * 1024 * 1024);
    expect(kept).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});
