import { describe, expect, it } from "vitest";
import { groupRestorePoints, type SnapshotRecord } from "./restore-points.js";

function record(
  id: string,
  tags: Record<string, string>,
  extra: Partial<SnapshotRecord> = {},
): SnapshotRecord {
  return {
    id,
    host: "vm",
    user: "root",
    path: `/src/${id}`,
    startTime: undefined,
    endTime: undefined,
    incomplete: false,
    tags,
    rootObject: `k${id}`,
    totalSize: 1000,
    files: 1,
    ...extra,
  };
}

const at = (iso: string) => new Date(iso);

describe("groupRestorePoints", () => {
  it("returns [] for no records", () => {
    expect(groupRestorePoints([])).toEqual([]);
  });

  it("groups by unit and backup_id, newest first, with items sorted by kind and name", () => {
    const records = [
      record(
        "v2",
        {
          type: "volume",
          unit: "shop",
          backup_id: "b1",
          volume: "shop_static",
          backup_format: "direct",
          size_bytes: "10",
        },
        { startTime: at("2024-01-01T10:00:05Z") },
      ),
      record(
        "r1",
        { type: "recipe", unit: "shop", backup_id: "b1" },
        { startTime: at("2024-01-01T10:00:01Z") },
      ),
      record(
        "v1",
        {
          type: "volume",
          unit: "shop",
          backup_id: "b1",
          volume: "shop_db",
          backup_format: "tar",
          size_bytes: "20",
        },
        { startTime: at("2024-01-01T10:00:03Z") },
      ),
      record(
        "bd",
        { type: "bind", unit: "shop", backup_id: "b1", bind_source: "/srv/up" },
        { startTime: at("2024-01-01T10:00:04Z"), totalSize: 77 },
      ),
      record(
        "n1",
        { type: "recipe", unit: "nginx", backup_id: "b0" },
        { startTime: at("2023-12-31T10:00:00Z") },
      ),
      record(
        "r2",
        { type: "recipe", unit: "shop", backup_id: "b2", backup_scope: "full" },
        { startTime: at("2024-01-02T10:00:00Z"), host: "other-host", user: "admin" },
      ),
    ];
    const points = groupRestorePoints(records);
    expect(points.map((p) => [p.unit, p.backupId, p.time?.toISOString(), p.scope, p.host, p.user])).toEqual([
      ["shop", "b2", "2024-01-02T10:00:00.000Z", "full", "other-host", "admin"],
      ["shop", "b1", "2024-01-01T10:00:01.000Z", "standard", "vm", "root"],
      ["nginx", "b0", "2023-12-31T10:00:00.000Z", "standard", "vm", "root"],
    ]);
    const b1 = points[1];
    expect(b1?.items.map((i) => [i.snapshotId, i.kind, i.name, i.format, i.sizeBytes])).toEqual([
      ["bd", "bind", "/srv/up", "direct", 77],
      ["r1", "recipe", undefined, undefined, 1000],
      ["v1", "volume", "shop_db", "tar", 20],
      ["v2", "volume", "shop_static", "direct", 10],
    ]);
    expect(b1?.items[0]?.record).toBe(records[3]);
  });

  it("takes the earliest snapshot time of a run as its time", () => {
    const points = groupRestorePoints([
      record(
        "a",
        { type: "volume", unit: "u", backup_id: "b", volume: "x" },
        { startTime: at("2024-05-05T05:05:09Z") },
      ),
      record(
        "b",
        { type: "volume", unit: "u", backup_id: "b", volume: "y" },
        { startTime: at("2024-05-05T05:05:05Z") },
      ),
    ]);
    expect(points).toHaveLength(1);
    expect(points[0]?.time?.toISOString()).toBe("2024-05-05T05:05:05.000Z");
  });

  it("drops records without unit or backup_id", () => {
    const points = groupRestorePoints([
      record("foreign", {}),
      record("no-id", { type: "volume", unit: "shop", volume: "x" }),
      record("no-unit", { type: "volume", backup_id: "b1", volume: "x" }),
      record("empty", { type: "volume", unit: "", backup_id: "", volume: "x" }),
      record("ok", { type: "recipe", unit: "shop", backup_id: "b1" }),
    ]);
    expect(points.map((p) => p.items.map((i) => i.snapshotId))).toEqual([["ok"]]);
  });

  it("drops incomplete snapshots, and runs of only incomplete ones", () => {
    const points = groupRestorePoints([
      record("ok", { type: "volume", unit: "shop", backup_id: "b1", volume: "a" }),
      record("cut", { type: "volume", unit: "shop", backup_id: "b1", volume: "b" }, { incomplete: true }),
      record("cut2", { type: "volume", unit: "shop", backup_id: "b2", volume: "a" }, { incomplete: true }),
    ]);
    expect(points.map((p) => [p.backupId, p.items.map((i) => i.snapshotId)])).toEqual([["b1", ["ok"]]]);
  });

  it("keeps the same backup_id of different units apart", () => {
    const points = groupRestorePoints([
      record(
        "a",
        { type: "recipe", unit: "a", backup_id: "same" },
        { startTime: at("2024-01-01T00:00:00Z") },
      ),
      record(
        "b",
        { type: "recipe", unit: "b", backup_id: "same" },
        { startTime: at("2024-01-01T00:00:01Z") },
      ),
    ]);
    expect(points.map((p) => [p.unit, p.backupId])).toEqual([
      ["b", "same"],
      ["a", "same"],
    ]);
  });

  it("does not merge groups whose unit and backup_id concatenate alike", () => {
    const points = groupRestorePoints([
      record("a", { type: "recipe", unit: "ab", backup_id: "c" }),
      record("b", { type: "recipe", unit: "a", backup_id: "bc" }),
    ]);
    expect(points).toHaveLength(2);
  });

  it("falls back to the timestamp tag when kopia has no start time, naive times as UTC", () => {
    const points = groupRestorePoints([
      record("old", {
        type: "recipe",
        unit: "u",
        backup_id: "20240101-120000",
        timestamp: "2024-01-01T12:00:00",
      }),
      record("new", { type: "recipe", unit: "u", backup_id: "b2", timestamp: "2024-02-01T12:00:00+01:00" }),
    ]);
    expect(points.map((p) => [p.backupId, p.time?.toISOString()])).toEqual([
      ["b2", "2024-02-01T11:00:00.000Z"],
      ["20240101-120000", "2024-01-01T12:00:00.000Z"],
    ]);
  });

  it("prefers kopia's start time over the timestamp tag", () => {
    const [point] = groupRestorePoints([
      record(
        "x",
        { type: "recipe", unit: "u", backup_id: "b", timestamp: "2020-01-01T00:00:00Z" },
        { startTime: at("2024-03-03T03:03:03Z") },
      ),
    ]);
    expect(point?.time?.toISOString()).toBe("2024-03-03T03:03:03.000Z");
  });

  it("reads 1.x style runs: legacy volume snapshot without backup_format is tar", () => {
    const [point] = groupRestorePoints([
      record(
        "legacy",
        { type: "volume", unit: "nextcloud", backup_id: "20240101-120000", volume: "nextcloud_data" },
        { totalSize: 4096 },
      ),
    ]);
    expect(point).toMatchObject({
      unit: "nextcloud",
      backupId: "20240101-120000",
      scope: "standard",
      time: undefined,
    });
    expect(point?.items.map((i) => [i.kind, i.name, i.format, i.sizeBytes])).toEqual([
      ["volume", "nextcloud_data", "tar", 4096],
    ]);
  });

  it("takes the size from size_bytes, else kopia's total size", () => {
    const [point] = groupRestorePoints([
      record(
        "a",
        { type: "volume", unit: "u", backup_id: "b", volume: "a", size_bytes: "0" },
        { totalSize: 5 },
      ),
      record(
        "b",
        { type: "volume", unit: "u", backup_id: "b", volume: "b", size_bytes: "junk" },
        { totalSize: 6 },
      ),
      record("c", { type: "volume", unit: "u", backup_id: "b", volume: "c" }, { totalSize: 7 }),
      record("d", { type: "volume", unit: "u", backup_id: "b", volume: "d", size_bytes: "123456789012" }),
    ]);
    expect(point?.items.map((i) => [i.name, i.sizeBytes])).toEqual([
      ["a", 0],
      ["b", 6],
      ["c", 7],
      ["d", 123456789012],
    ]);
  });

  it("keeps unknown and missing kinds as items without name or format", () => {
    const [point] = groupRestorePoints([
      record("n", { type: "networks", unit: "u", backup_id: "b" }),
      record("m", { unit: "u", backup_id: "b" }),
    ]);
    expect(point?.items.map((i) => [i.snapshotId, i.kind, i.name, i.format])).toEqual([
      ["n", "networks", undefined, undefined],
      ["m", "unknown", undefined, undefined],
    ]);
  });

  it("sorts points without any time last", () => {
    const points = groupRestorePoints([
      record("none", { type: "recipe", unit: "u", backup_id: "no-time" }),
      record(
        "t",
        { type: "recipe", unit: "u", backup_id: "timed" },
        { startTime: at("2000-01-01T00:00:00Z") },
      ),
    ]);
    expect(points.map((p) => [p.backupId, p.time?.toISOString()])).toEqual([
      ["timed", "2000-01-01T00:00:00.000Z"],
      ["no-time", undefined],
    ]);
  });
});

describe("groupRestorePoints and runs that died part-way", () => {
  const tags = (type: string, name: string, extra: Record<string, string> = {}) => ({
    type,
    unit: "app",
    backup_id: "b9",
    ...(type === "volume" ? { volume: name, backup_format: "direct" } : { bind_source: name }),
    ...extra,
  });

  it("drops a group with fewer data snapshots than its unit_items tag announced", () => {
    const partial = [
      record("a", tags("volume", "one", { unit_items: "3" })),
      record("b", tags("bind", "/srv", { unit_items: "3" })),
    ];
    expect(groupRestorePoints(partial)).toEqual([]);
  });

  it("keeps a group that has all announced items, metadata records not counted as data", () => {
    const complete = [
      record("a", tags("volume", "one", { unit_items: "2" })),
      record("b", tags("bind", "/srv", { unit_items: "2" })),
      record("m", {
        type: "fs_metadata",
        unit: "app",
        backup_id: "b9",
        for_type: "volume",
        volume: "one",
        unit_items: "2",
      }),
    ];
    expect(groupRestorePoints(complete)[0]?.items.map((i) => i.kind)).toEqual([
      "bind",
      "fs_metadata",
      "volume",
    ]);
  });

  it("keeps groups without the tag (older writers)", () => {
    expect(groupRestorePoints([record("a", tags("volume", "one"))])).toHaveLength(1);
  });
});
