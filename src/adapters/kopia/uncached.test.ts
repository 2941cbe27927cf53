import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UNCACHED_SUFFIX, uncachedLocation, withoutCaches } from "./uncached.js";

// As kopia 0.23.1 writes it for `repository connect filesystem --cache-directory=...`.
const filesystemConfig = {
  storage: {
    type: "filesystem",
    config: { path: "/backup/repo", fileMode: 384, dirMode: 448, dirShards: null },
  },
  caching: {
    cacheDirectory: "../../../root/.cache/kopi-docka/kopia/kopi-docka-0123456789ab",
    maxCacheSize: 5242880000,
    maxMetadataCacheSize: 5242880000,
    maxListCacheDuration: 30,
  },
  hostname: "vm",
  username: "root",
  description: "Repository in Filesystem: /backup/repo",
  enableActions: false,
  formatBlobCacheDuration: 900000000000,
};

describe("withoutCaches", () => {
  it("keeps everything but the caching, which becomes what kopia writes with --content-cache-size-mb=0", () => {
    const text = withoutCaches(JSON.stringify(filesystemConfig));
    expect(JSON.parse(text ?? "")).toStrictEqual({ ...filesystemConfig, caching: {} });
  });

  it.each([
    [
      "other storage (its caches spare downloads)",
      { ...filesystemConfig, storage: { type: "s3", config: {} } },
    ],
    ["caching already off", { ...filesystemConfig, caching: {} }],
    ["no caching section", { ...filesystemConfig, caching: undefined }],
    ["not an object", [filesystemConfig]],
  ])("gives nothing to do for %s", (_, config) => {
    expect(withoutCaches(JSON.stringify(config))).toBeUndefined();
  });

  it("gives nothing to do for text that is not JSON", () => {
    expect(withoutCaches("{ not json")).toBeUndefined();
  });
});

describe("uncachedLocation", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-uncached-"));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const location = (configFile: string) => ({ binary: "/usr/local/bin/kopia", configFile, logDir: "/logs" });

  it("writes the uncached copy beside the config, 0600, and points the location at it", async () => {
    const configFile = path.join(dir, "repository.config");
    await fs.writeFile(configFile, JSON.stringify(filesystemConfig), { mode: 0o600 });
    const result = await uncachedLocation(location(configFile));
    expect(result).toStrictEqual(location(`${configFile}${UNCACHED_SUFFIX}`));
    const copy = JSON.parse(await fs.readFile(result.configFile, "utf8"));
    expect(copy).toStrictEqual({ ...filesystemConfig, caching: {} });
    expect((await fs.stat(result.configFile)).mode & 0o777).toBe(0o600);
    expect((await fs.readdir(dir)).sort()).toStrictEqual(["repository.config", "repository.config.uncached"]);
  });

  it("replaces an older copy (a new init may have changed the storage)", async () => {
    const configFile = path.join(dir, "repository.config");
    await fs.writeFile(
      `${configFile}${UNCACHED_SUFFIX}`,
      JSON.stringify({ storage: { type: "filesystem" } }),
    );
    const moved = { ...filesystemConfig, storage: { type: "filesystem", config: { path: "/elsewhere" } } };
    await fs.writeFile(configFile, JSON.stringify(moved));
    const result = await uncachedLocation(location(configFile));
    expect(JSON.parse(await fs.readFile(result.configFile, "utf8")).storage.config.path).toBe("/elsewhere");
  });

  it("keeps the location for other storage, or when the config cannot be read or the copy written", async () => {
    const s3 = path.join(dir, "s3.config");
    await fs.writeFile(s3, JSON.stringify({ ...filesystemConfig, storage: { type: "s3", config: {} } }));
    expect(await uncachedLocation(location(s3))).toStrictEqual(location(s3));
    const missing = path.join(dir, "missing.config");
    expect(await uncachedLocation(location(missing))).toStrictEqual(location(missing));
    // A directory where the copy would go: the rename fails, nothing is left behind.
    const blocked = path.join(dir, "blocked.config");
    await fs.writeFile(blocked, JSON.stringify(filesystemConfig));
    await fs.mkdir(`${blocked}${UNCACHED_SUFFIX}`);
    await fs.writeFile(path.join(`${blocked}${UNCACHED_SUFFIX}`, "x"), "");
    expect(await uncachedLocation(location(blocked))).toStrictEqual(location(blocked));
    expect((await fs.readdir(dir)).sort()).toStrictEqual([
      "blocked.config",
      "blocked.config.uncached",
      "s3.config",
    ]);
  });
});
