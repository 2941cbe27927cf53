import { afterEach, describe, expect, it } from "vitest";
import type { Volume } from "./model.js";
import {
  bindTags,
  decodeJsonTag,
  encodeJsonTag,
  formatFromTags,
  fsMetadataTags,
  mayHoldHoles,
  parseTimestampTag,
  SNAPSHOT_KINDS,
  scopeFromTags,
  stripTagPrefix,
  tagArgs,
  volumeTags,
  withSparseFiles,
} from "./tags.js";

const timestamp = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
const common = { unit: "shop", backupId: "20240102T030405Z-ab12", scope: "standard" as const, timestamp };

const volume: Volume = {
  name: "shop_db",
  driver: "local",
  mountpoint: "/var/lib/docker/volumes/shop_db/_data",
  labels: { "com.docker.compose.project": "shop", "com.docker.compose.volume": "db" },
  options: { type: "none", o: "bind", device: "/srv/db" },
};

describe("volumeTags", () => {
  it("builds the exact tag map", () => {
    expect(volumeTags({ ...common, volume, format: "direct", sizeBytes: 12345 })).toStrictEqual({
      type: "volume",
      unit: "shop",
      backup_id: "20240102T030405Z-ab12",
      backup_scope: "standard",
      timestamp: "2024-01-02T03:04:05.678Z",
      volume: "shop_db",
      backup_format: "direct",
      size_bytes: "12345",
      volume_driver: "local",
      volume_labels: encodeJsonTag(volume.labels),
      volume_options: encodeJsonTag(volume.options),
    });
  });

  it("keeps labels and options recoverable", () => {
    const tags = volumeTags({ ...common, scope: "full", volume, format: "tar", sizeBytes: 0 });
    expect(tags.backup_format).toBe("tar");
    expect(tags.backup_scope).toBe("full");
    expect(tags.size_bytes).toBe("0");
    expect(decodeJsonTag(tags.volume_labels)).toEqual(volume.labels);
    expect(decodeJsonTag(tags.volume_options)).toEqual(volume.options);
  });

  it("writes the timestamp as UTC ISO-8601 whatever the input's zone", () => {
    const tags = volumeTags({
      ...common,
      timestamp: new Date("2024-06-01T14:00:00+02:00"),
      volume,
      format: "direct",
      sizeBytes: 1,
    });
    expect(tags.timestamp).toBe("2024-06-01T12:00:00.000Z");
  });
});

describe("bindTags", () => {
  it("builds the exact tag map for a read-write bind", () => {
    expect(
      bindTags({
        ...common,
        source: "/srv/shop/uploads",
        destination: "/app/uploads",
        readOnly: false,
        sizeBytes: 42,
      }),
    ).toStrictEqual({
      type: "bind",
      unit: "shop",
      backup_id: "20240102T030405Z-ab12",
      backup_scope: "standard",
      timestamp: "2024-01-02T03:04:05.678Z",
      bind_source: "/srv/shop/uploads",
      bind_destination: "/app/uploads",
      read_only: "false",
      size_bytes: "42",
    });
  });

  it("writes read_only true for a read-only bind", () => {
    expect(
      bindTags({
        ...common,
        scope: "minimal",
        source: "/a",
        destination: "/b",
        readOnly: true,
        sizeBytes: 0,
      }),
    ).toMatchObject({ read_only: "true", backup_scope: "minimal", size_bytes: "0" });
  });
});

describe("fsMetadataTags", () => {
  it("builds the exact map for a volume's record", () => {
    expect(fsMetadataTags({ ...common, for: "volume", volume: "shop_db" })).toStrictEqual({
      type: "fs_metadata",
      unit: "shop",
      backup_id: "20240102T030405Z-ab12",
      backup_scope: "standard",
      timestamp: "2024-01-02T03:04:05.678Z",
      for_type: "volume",
      volume: "shop_db",
    });
  });

  it("builds the exact map for a bind's record", () => {
    expect(fsMetadataTags({ ...common, for: "bind", source: "/srv/shop/uploads" })).toStrictEqual({
      type: "fs_metadata",
      unit: "shop",
      backup_id: "20240102T030405Z-ab12",
      backup_scope: "standard",
      timestamp: "2024-01-02T03:04:05.678Z",
      for_type: "bind",
      bind_source: "/srv/shop/uploads",
    });
  });
});

describe("withSparseFiles / mayHoldHoles", () => {
  const tags = fsMetadataTags({ ...common, for: "volume", volume: "shop_db" });

  it("adds the count of files with holes to a record's tags, nothing when it is unknown", () => {
    expect(withSparseFiles(tags, 0)).toStrictEqual({ ...tags, sparse_files: "0" });
    expect(withSparseFiles(tags, 3)).toStrictEqual({ ...tags, sparse_files: "3" });
    expect(withSparseFiles(tags, undefined)).toStrictEqual(tags);
  });

  it("says no holes only for a record that counted none", () => {
    expect(mayHoldHoles(withSparseFiles(tags, 0))).toBe(false);
    expect(mayHoldHoles(withSparseFiles(tags, 1))).toBe(true);
    // Records written before the count, snapshots with no record (older tools): unknown.
    expect(mayHoldHoles(tags)).toBe(true);
    expect(mayHoldHoles(undefined)).toBe(true);
    expect(mayHoldHoles({ ...tags, sparse_files: "" })).toBe(true);
  });
});

describe("SNAPSHOT_KINDS", () => {
  it("lists the contract's kinds plus fs_metadata", () => {
    expect(SNAPSHOT_KINDS).toEqual(["volume", "bind", "recipe", "networks", "docker_config", "fs_metadata"]);
  });
});

describe("encodeJsonTag / decodeJsonTag", () => {
  it.each([
    [{}],
    [{ a: "b", "com.example/x": "ünïcødé ✓", empty: "" }],
    [["x", 1, true, null]],
    ["plain string"],
    [0],
  ])("round-trips %j", (value) => {
    expect(decodeJsonTag(encodeJsonTag(value))).toEqual(value);
  });

  it("encodes as base64url JSON without padding or characters unsafe in a tag", () => {
    expect(encodeJsonTag({ a: "b" })).toBe("eyJhIjoiYiJ9");
    const encoded = encodeJsonTag({ k: "??>>~~" });
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(encoded, "base64url").toString("utf8")).toBe('{"k":"??>>~~"}');
  });

  it("decodes missing, empty and garbage values as undefined", () => {
    expect(decodeJsonTag(undefined)).toBeUndefined();
    expect(decodeJsonTag("")).toBeUndefined();
    expect(decodeJsonTag("not-json!!")).toBeUndefined();
    expect(decodeJsonTag(Buffer.from("{broken", "utf8").toString("base64url"))).toBeUndefined();
  });
});

describe("stripTagPrefix", () => {
  it("keeps only tag: keys, without the prefix", () => {
    expect(
      stripTagPrefix({
        "tag:unit": "shop",
        "tag:backup_id": "x",
        hostname: "vm",
        "tag:": "empty-key",
        tags: "no",
      }),
    ).toStrictEqual({ unit: "shop", backup_id: "x", "": "empty-key" });
  });

  it("returns {} for undefined or no tags", () => {
    expect(stripTagPrefix(undefined)).toStrictEqual({});
    expect(stripTagPrefix({})).toStrictEqual({});
  });

  it("keeps colons inside the key and the value", () => {
    expect(stripTagPrefix({ "tag:a:b": "c:d" })).toStrictEqual({ "a:b": "c:d" });
  });
});

describe("formatFromTags / scopeFromTags", () => {
  it("only backup_format=direct is direct", () => {
    expect(formatFromTags({ backup_format: "direct" })).toBe("direct");
    expect(formatFromTags({ backup_format: "tar" })).toBe("tar");
    expect(formatFromTags({})).toBe("tar");
    expect(formatFromTags({ backup_format: "DIRECT" })).toBe("tar");
    expect(formatFromTags({ backup_format: "" })).toBe("tar");
  });

  it("reads minimal and full, anything else is standard", () => {
    expect(scopeFromTags({ backup_scope: "minimal" })).toBe("minimal");
    expect(scopeFromTags({ backup_scope: "full" })).toBe("full");
    expect(scopeFromTags({ backup_scope: "standard" })).toBe("standard");
    expect(scopeFromTags({})).toBe("standard");
    expect(scopeFromTags({ backup_scope: "everything" })).toBe("standard");
  });
});

describe("parseTimestampTag", () => {
  const originalTz = process.env.TZ;
  afterEach(() => {
    if (originalTz === undefined) delete process.env.TZ;
    else process.env.TZ = originalTz;
  });

  it("parses a UTC time", () => {
    expect(parseTimestampTag("2024-01-01T12:00:00Z")?.toISOString()).toBe("2024-01-01T12:00:00.000Z");
    expect(parseTimestampTag("2024-01-01T12:00:00.250Z")?.toISOString()).toBe("2024-01-01T12:00:00.250Z");
    expect(parseTimestampTag("2024-01-01T12:00:00z")?.toISOString()).toBe("2024-01-01T12:00:00.000Z");
  });

  it("takes a naive time as UTC, whatever the local zone", () => {
    process.env.TZ = "America/New_York";
    expect(new Date("2024-01-01T12:00:00").toISOString()).toBe("2024-01-01T17:00:00.000Z");
    expect(parseTimestampTag("2024-01-01T12:00:00")?.toISOString()).toBe("2024-01-01T12:00:00.000Z");
    expect(parseTimestampTag("2024-07-01T12:00:00.123456")?.toISOString()).toBe("2024-07-01T12:00:00.123Z");
    expect(parseTimestampTag(" 2024-01-01T12:00:00 ")?.toISOString()).toBe("2024-01-01T12:00:00.000Z");
  });

  it("applies explicit offsets", () => {
    expect(parseTimestampTag("2024-01-01T12:00:00+02:00")?.toISOString()).toBe("2024-01-01T10:00:00.000Z");
    expect(parseTimestampTag("2024-01-01T12:00:00-05:30")?.toISOString()).toBe("2024-01-01T17:30:00.000Z");
    expect(parseTimestampTag("2024-01-01T12:00:00+0200")?.toISOString()).toBe("2024-01-01T10:00:00.000Z");
    expect(parseTimestampTag("2024-01-01T12:00:00.5+00:00")?.toISOString()).toBe("2024-01-01T12:00:00.500Z");
  });

  it("returns undefined for missing, empty and garbage values", () => {
    expect(parseTimestampTag(undefined)).toBeUndefined();
    expect(parseTimestampTag("")).toBeUndefined();
    expect(parseTimestampTag("garbage")).toBeUndefined();
    expect(parseTimestampTag("2024-13-45T99:00:00")).toBeUndefined();
    expect(parseTimestampTag("yesterdayZ")).toBeUndefined();
  });
});

describe("tagArgs", () => {
  it("turns each tag into --tags key:value, in insertion order", () => {
    expect(tagArgs({ type: "volume", unit: "shop", timestamp: "2024-01-01T12:00:00.000Z" })).toEqual([
      "--tags",
      "type:volume",
      "--tags",
      "unit:shop",
      "--tags",
      "timestamp:2024-01-01T12:00:00.000Z",
    ]);
  });

  it("keeps spaces and empty values in one argument", () => {
    expect(tagArgs({ note: "a b", empty: "" })).toEqual(["--tags", "note:a b", "--tags", "empty:"]);
  });

  it("returns [] for no tags", () => {
    expect(tagArgs({})).toEqual([]);
  });
});

describe("parseTimestampTag with surrounding white space", () => {
  it("accepts a zoned time with spaces or a newline around it", () => {
    expect(parseTimestampTag(" 2024-01-01T12:00:00Z ")?.toISOString()).toBe("2024-01-01T12:00:00.000Z");
    expect(parseTimestampTag("2024-01-01T12:00:00+02:00\n")?.toISOString()).toBe("2024-01-01T10:00:00.000Z");
  });
});
