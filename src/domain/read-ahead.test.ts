import { describe, expect, it } from "vitest";
import { changedSinceNs, READ_AHEAD_MAX_BYTES, readAheadBudget, withinBudget } from "./read-ahead.js";

const MiB = 1024 * 1024;
const file = (p: string, bytes: number) => ({ path: Buffer.from(p), bytes });

describe("readAheadBudget", () => {
  it("a quarter of the memory available, at most 2 GiB", () => {
    expect(readAheadBudget(1024 * MiB)).toBe(256 * MiB);
    expect(readAheadBudget(24 * 1024 * MiB)).toBe(READ_AHEAD_MAX_BYTES);
    expect(READ_AHEAD_MAX_BYTES).toBe(2048 * MiB);
    expect(readAheadBudget(0)).toBe(0);
  });
});

describe("changedSinceNs", () => {
  it("a minute before the last backup began, in nanoseconds", () => {
    expect(changedSinceNs(new Date("2026-12-01T02:00:00Z"))).toBe(
      BigInt(Date.parse("2026-12-01T01:59:00Z")) * 1_000_000n,
    );
  });
});

describe("withinBudget", () => {
  it("keeps each item's files in path order, items in order, until the budget ends (the last file in part)", () => {
    const taken = withinBudget(
      [
        [file("/v/b", 3 * MiB), file("/v/a", 2 * MiB)],
        [file("/w/z", 4 * MiB), file("/w/y", 1 * MiB)],
      ],
      7 * MiB,
    );
    expect(taken.map((files) => files.map((f) => [f.path.toString(), f.bytes / MiB]))).toEqual([
      [
        ["/v/a", 2],
        ["/v/b", 3],
      ],
      [
        ["/w/y", 1],
        ["/w/z", 1],
      ],
    ]);
  });

  it("nothing once the budget is spent; an empty budget reads nothing", () => {
    expect(withinBudget([[file("/v/a", MiB)], [file("/w/a", MiB)]], MiB)).toEqual([[file("/v/a", MiB)], []]);
    expect(withinBudget([[file("/v/a", MiB)]], 0)).toEqual([[]]);
  });
});
