import { describe, expect, it } from "vitest";
import { groupRestorePoints } from "../../domain/restore-points.js";
import {
  policyListSchema,
  repositoryStatusSchema,
  snapshotManifestSchema,
  toSnapshotRecord,
} from "./schemas.js";

const manifest = {
  id: "13dd",
  source: { host: "vm", userName: "root", path: "/tmp/x" },
  description: "",
  startTime: "2026-11-25T10:50:14.02638283Z",
  endTime: "2026-11-25T10:50:15.5Z",
  rootEntry: {
    name: "x",
    type: "d",
    mode: "0755",
    mtime: "2026-11-25T10:50:00Z",
    obj: "kdd5",
    summ: { size: 3, files: 1, symlinks: 0, dirs: 1, maxTime: "2026-11-25T10:50:00Z", numFailed: 0 },
  },
  tags: { "tag:a": "b" },
};

const parse = (json: unknown) => toSnapshotRecord(snapshotManifestSchema.parse(json));

describe("toSnapshotRecord", () => {
  it("maps a kopia manifest to a snapshot record", () => {
    expect(parse(manifest)).toStrictEqual({
      id: "13dd",
      host: "vm",
      user: "root",
      path: "/tmp/x",
      startTime: new Date("2026-11-25T10:50:14.026Z"),
      endTime: new Date("2026-11-25T10:50:15.500Z"),
      incomplete: false,
      tags: { a: "b" },
      rootObject: "kdd5",
      totalSize: 3,
      files: 1,
    });
  });

  it("parses what `kopia snapshot list --json` prints", () => {
    const list = JSON.parse(JSON.stringify([manifest])) as unknown[];
    const records = list.map(parse);
    expect(records.map((r) => [r.id, r.startTime?.toISOString()])).toEqual([
      ["13dd", "2026-11-25T10:50:14.026Z"],
    ]);
  });

  it("marks a snapshot with an incomplete reason as incomplete", () => {
    expect(parse({ ...manifest, incomplete: "canceled" }).incomplete).toBe(true);
    expect(parse({ ...manifest, incomplete: "" }).incomplete).toBe(false);
  });

  it("falls back to stats when the root entry has no summary", () => {
    const record = parse({
      ...manifest,
      rootEntry: { obj: "kabc" },
      stats: { totalSize: 99, fileCount: 7, excludedFileCount: 0 },
    });
    expect([record.rootObject, record.totalSize, record.files]).toEqual(["kabc", 99, 7]);
  });

  it("uses empty defaults for a minimal manifest", () => {
    expect(parse({ id: "m", source: { host: "h", userName: "u", path: "/p" } })).toStrictEqual({
      id: "m",
      host: "h",
      user: "u",
      path: "/p",
      startTime: undefined,
      endTime: undefined,
      incomplete: false,
      tags: {},
      rootObject: "",
      totalSize: 0,
      files: 0,
    });
  });

  it("drops unparsable times", () => {
    expect(parse({ ...manifest, startTime: "not a time", endTime: "" })).toMatchObject({
      startTime: undefined,
      endTime: undefined,
    });
  });

  it("drops kopia's own tags and strips the tag: prefix", () => {
    const record = parse({
      ...manifest,
      tags: {
        "tag:unit": "shop",
        "tag:backup_id": "b1",
        "tag:type": "volume",
        hostname: "vm",
        username: "root",
      },
    });
    expect(record.tags).toStrictEqual({ unit: "shop", backup_id: "b1", type: "volume" });
  });

  it("rejects manifests without id or source", () => {
    expect(snapshotManifestSchema.safeParse({ source: manifest.source }).success).toBe(false);
    expect(snapshotManifestSchema.safeParse({ id: "x" }).success).toBe(false);
    expect(snapshotManifestSchema.safeParse({ ...manifest, tags: { "tag:a": 1 } }).success).toBe(false);
  });

  it("feeds restore points, leaving out canceled snapshots", () => {
    const tags = { "tag:unit": "shop", "tag:backup_id": "b1", "tag:type": "volume", "tag:volume": "v" };
    const records = [
      parse({ ...manifest, id: "ok", tags }),
      parse({ ...manifest, id: "cut", tags: { ...tags, "tag:volume": "w" }, incomplete: "canceled" }),
    ];
    const points = groupRestorePoints(records);
    expect(points.map((p) => [p.unit, p.backupId, p.items.map((i) => i.snapshotId)])).toEqual([
      ["shop", "b1", ["ok"]],
    ]);
  });
});

describe("other kopia schemas", () => {
  it("parse repository status and keep unknown fields", () => {
    const status = repositoryStatusSchema.parse({
      configFile: "/root/.config/kopia/repository.config",
      clientOptions: { hostname: "vm", username: "root", description: "Repository in Filesystem" },
      storage: { type: "filesystem", config: { path: "/backup/kopia-repository" } },
      volume: { capacity: 1000, available: 400 },
      uniqueIdHex: "abc",
    });
    expect(status.clientOptions).toMatchObject({ hostname: "vm", username: "root" });
    expect(status.storage?.config?.path).toBe("/backup/kopia-repository");
    expect(status.volume).toEqual({ capacity: 1000, available: 400 });
  });

  it("parse kopia's policy list: the global policy and each source's own", () => {
    // As kopia 0.23 prints it (trimmed).
    const [global, source] = policyListSchema.parse([
      {
        id: "0e7a",
        target: { host: "", userName: "", path: "" },
        retention: { keepLatest: 10, keepDaily: 7 },
        files: { ignoreDotFiles: [".kopiaignore"] },
        compression: { compressorName: "zstd" },
        upload: { maxParallelSnapshots: 1 },
      },
      {
        id: "4f06",
        target: { host: "vm", userName: "root", path: "/var/lib/docker/volumes/a/_data" },
        retention: {},
        files: { ignore: ["*.tmp"], ignoreCacheDirs: false },
        compression: {},
      },
    ]);
    expect(global?.retention?.keepLatest).toBe(10);
    expect(global?.compression?.compressorName).toBe("zstd");
    expect(source?.target).toMatchObject({ host: "vm", userName: "root" });
    expect(source?.files).toMatchObject({ ignore: ["*.tmp"], ignoreCacheDirs: false });
  });
});
