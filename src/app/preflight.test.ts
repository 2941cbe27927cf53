import { describe, expect, it } from "vitest";
import type { RepositoryStatus } from "../adapters/kopia/kopia-client.js";
import { EnvironmentError } from "../domain/errors.js";
import type { SnapshotRecord } from "../domain/restore-points.js";
import { checkFreeSpace, estimateNewData, FREE_SPACE_RESERVE, hasRoomFor } from "./preflight.js";

const MiB = 1024 * 1024;
const local = (availableMiB: number): RepositoryStatus => ({
  hostname: "vm",
  username: "root",
  storageType: "filesystem",
  storagePath: "/backup/repo",
  capacityBytes: 10_000 * MiB,
  availableBytes: availableMiB * MiB,
});
const snapshot = (path: string, host = "vm", incomplete = false): SnapshotRecord => ({
  id: path,
  host,
  user: "root",
  path,
  startTime: undefined,
  endTime: undefined,
  incomplete,
  tags: {},
  rootObject: "",
  totalSize: 0,
  files: 0,
});

describe("estimateNewData", () => {
  const items = [
    { path: "/v/a", sizeBytes: 1000 * MiB },
    { path: "/v/b", sizeBytes: 200 * MiB, stdinSource: "/staging/tar/u/b" },
  ];

  it("counts every byte of a source Kopia has never seen", () => {
    expect(estimateNewData(items, [], "vm")).toBe(1200 * MiB);
  });

  it("counts 1% of a source seen before on this host (by path, or by a TAR item's stdin source)", () => {
    const previous = [snapshot("/v/a"), snapshot("/staging/tar/u/b")];
    expect(estimateNewData(items, previous, "vm")).toBe(10 * MiB + 2 * MiB);
  });

  it("ignores snapshots of other hosts and incomplete ones", () => {
    const previous = [snapshot("/v/a", "other"), snapshot("/staging/tar/u/b", "vm", true)];
    expect(estimateNewData(items, previous, "vm")).toBe(1200 * MiB);
  });
});

describe("free space", () => {
  it("has room when the bytes and the reserve fit", () => {
    expect(hasRoomFor(local(100), 100 * MiB - FREE_SPACE_RESERVE)).toBe(true);
    expect(hasRoomFor(local(100), 100 * MiB - FREE_SPACE_RESERVE + 1)).toBe(false);
  });

  it("does not judge a remote repository or one whose free space is unknown", () => {
    expect(hasRoomFor({ ...local(1), storageType: "s3" }, 10_000 * MiB)).toBe(true);
    expect(hasRoomFor({ ...local(1), availableBytes: undefined }, 10_000 * MiB)).toBe(true);
  });

  it("fails a unit that does not fit with one line naming the unit and the numbers", () => {
    expect(() => checkFreeSpace(local(100), 500 * MiB, "shop")).toThrow(EnvironmentError);
    expect(() => checkFreeSpace(local(100), 500 * MiB, "shop")).toThrow(
      /not enough free space for shop .*100 MiB free, about 500 MiB of new data .*64 MiB reserve.*nothing was stopped/,
    );
    expect(() => checkFreeSpace(local(1000), 500 * MiB, "shop")).not.toThrow();
  });
});
