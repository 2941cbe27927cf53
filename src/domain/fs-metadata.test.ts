import { describe, expect, it } from "vitest";
import {
  deviceMajor,
  deviceMinor,
  emptyFsMetadata,
  FS_METADATA_FILE,
  FS_METADATA_KIND,
  fsMetadataSourcePath,
  printableBytes,
  upgradeFsMetadata,
} from "./fs-metadata.js";

describe("fsMetadataSourcePath", () => {
  it("gives a stable source path per unit, kind and item", () => {
    expect(fsMetadataSourcePath("shop", "volume", "shop_db")).toBe(
      "/var/cache/kopi-docka/staging/fs-metadata/shop/volume/shop_db",
    );
  });

  it("encodes bind sources so that they stay one path component", () => {
    expect(fsMetadataSourcePath("my app", "bind", "/srv/shop/uploads")).toBe(
      "/var/cache/kopi-docka/staging/fs-metadata/my%20app/bind/%2Fsrv%2Fshop%2Fuploads",
    );
  });

  it("keeps different items apart", () => {
    expect(fsMetadataSourcePath("u", "volume", "a/b")).not.toBe(
      fsMetadataSourcePath("u/volume", "volume", "b"),
    );
    expect(fsMetadataSourcePath("u", "volume", "x")).not.toBe(fsMetadataSourcePath("u", "bind", "x"));
  });
});

describe("constants", () => {
  it("name the record file and kind", () => {
    expect(FS_METADATA_FILE).toBe("kopi-docka-fs-metadata.json");
    expect(FS_METADATA_KIND).toBe("kopi-docka-fs-metadata");
  });
});

describe("deviceMajor / deviceMinor", () => {
  it.each([
    [259, 1, 3], // /dev/null: makedev(1, 3)
    [65024, 254, 0],
    [286327664, 259, 70000], // minor above 255 (stat -c '%t %T' says 103 11170)
    [0, 0, 0],
  ])("splits %i into %i, %i", (rdev, major, minor) => {
    expect(deviceMajor(rdev)).toBe(major);
    expect(deviceMinor(rdev)).toBe(minor);
    expect(deviceMajor(BigInt(rdev))).toBe(major);
    expect(deviceMinor(BigInt(rdev))).toBe(minor);
  });

  it("handles majors above 4095", () => {
    // glibc makedev(5000, 5): major bits 0-11 at 8-19, the rest at 32-43
    const rdev = ((5000n & 0xfffn) << 8n) | ((5000n & ~0xfffn) << 32n) | 5n;
    expect(deviceMajor(rdev)).toBe(5000);
    expect(deviceMinor(rdev)).toBe(5);
  });
});

describe("printableBytes", () => {
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

  it("keeps valid UTF-8 and renders invalid bytes and control characters as \\xNN", () => {
    expect(printableBytes(bytes("plain/ünï€😀"))).toBe("plain/ünï€😀");
    expect(printableBytes(bytes("bad-", [0xff, 0xfe]))).toBe("bad-\\xff\\xfe");
    expect(printableBytes(bytes("a", [0xc3, 0x28], "b"))).toBe("a\\xc3(b");
    expect(printableBytes(bytes("tab\tnl\n", [0x7f]))).toBe("tab\\x09nl\\x0a\\x7f");
  });

  it("rejects overlong forms, surrogates and truncated sequences", () => {
    expect(printableBytes(Buffer.from([0xc0, 0xaf]))).toBe("\\xc0\\xaf");
    expect(printableBytes(Buffer.from([0xe0, 0x80, 0xaf]))).toBe("\\xe0\\x80\\xaf");
    expect(printableBytes(Buffer.from([0xed, 0xa0, 0x80]))).toBe("\\xed\\xa0\\x80");
    expect(printableBytes(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe("\\xf4\\x90\\x80\\x80");
    expect(printableBytes(Buffer.from([0xe2, 0x82]))).toBe("\\xe2\\x82");
  });
});

describe("upgradeFsMetadata", () => {
  it("gives a version-1 record the current shape, and keeps a current one", () => {
    expect(upgradeFsMetadata({ kind: FS_METADATA_KIND, version: 1, dirs: [[".", "1"]] })).toEqual({
      ...emptyFsMetadata(),
      dirs: [[".", "1"]],
    });
    const current = { ...emptyFsMetadata(), hardlinks: [["a", "b"]] };
    expect(upgradeFsMetadata(current)).toBe(current);
    expect(emptyFsMetadata()).toEqual({
      kind: FS_METADATA_KIND,
      version: 2,
      dirs: [],
      hardlinks: [],
      xattrs: [],
      specials: [],
      files: [],
      nonUtf8Names: [],
    });
  });
});
