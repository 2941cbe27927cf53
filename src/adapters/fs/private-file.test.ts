import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writePrivateFile } from "./private-file.js";

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "kd-private-"));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("writePrivateFile", () => {
  it("creates the file with mode 0600 and its missing directories with 0700", async () => {
    const file = path.join(tmp, "new", "deeper", "config.json");
    await writePrivateFile(file, '{"a":1}\n');
    expect(await fs.readFile(file, "utf8")).toBe('{"a":1}\n');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(tmp, "new"))).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(tmp, "new", "deeper"))).mode & 0o777).toBe(0o700);
  });

  it("does not overwrite an existing file unless asked", async () => {
    const file = path.join(tmp, "existing.json");
    await fs.writeFile(file, "old content");
    await expect(writePrivateFile(file, "new")).rejects.toMatchObject({ code: "EEXIST" });
    expect(await fs.readFile(file, "utf8")).toBe("old content");
  });

  it("overwrites when asked, truncating and tightening the mode to 0600", async () => {
    const file = path.join(tmp, "existing.json");
    await fs.writeFile(file, "a much longer old content");
    await fs.chmod(file, 0o644);
    await writePrivateFile(file, "new", { overwrite: true });
    expect(await fs.readFile(file, "utf8")).toBe("new");
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });
});
