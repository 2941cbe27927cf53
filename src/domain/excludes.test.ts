import { describe, expect, it } from "vitest";
import { mergeExcludes, parseExcludeLabel, tarExcludePattern } from "./excludes.js";

describe("excludes", () => {
  it("parses a label value into trimmed patterns", () => {
    expect(parseExcludeLabel(" cache/ , *.tmp,,")).toEqual(["cache/", "*.tmp"]);
    expect(parseExcludeLabel(undefined)).toEqual([]);
  });

  it("merges lists keeping the first occurrence", () => {
    expect(mergeExcludes(["*.log", "cache/"], ["cache/", "tmp"], [" "])).toEqual(["*.log", "cache/", "tmp"]);
  });

  it("translates gitignore patterns to tar excludes", () => {
    expect(tarExcludePattern("*.log")).toBe("*.log");
    expect(tarExcludePattern("cache/")).toBe("cache");
    expect(tarExcludePattern("/build")).toBe("./build");
    expect(tarExcludePattern("/build/")).toBe("./build");
    expect(tarExcludePattern("logs/**/*.gz")).toBe("logs/*.gz");
    expect(tarExcludePattern("!keep.log")).toBeUndefined();
    expect(tarExcludePattern("# comment")).toBeUndefined();
    expect(tarExcludePattern("  ")).toBeUndefined();
  });
});
