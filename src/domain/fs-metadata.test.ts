import { describe, expect, it } from "vitest";
import { FS_METADATA_FILE, FS_METADATA_KIND, fsMetadataSourcePath } from "./fs-metadata.js";

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
