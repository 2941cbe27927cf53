import { describe, expect, it } from "vitest";
import { compareVersions, KOPIA_TESTED_VERSION, KOPIA_VERSION_GATES } from "./versions.js";

describe("compareVersions", () => {
  it.each([
    ["0.23.1", "0.23.1", 0],
    ["0.23.1", "0.23.2", -1],
    ["0.23.2", "0.23.1", 1],
    ["0.9.0", "0.10.0", -1],
    ["0.10.0", "0.9.9", 1],
    ["1.0.0", "0.99.99", 1],
    ["0.23", "0.23.0", 0],
    ["0.23", "0.23.1", -1],
    ["1", "0.9", 1],
    ["v0.23.1", "0.23.1", 0],
    ["v0.24.0", "v0.23.9", 1],
    ["0.23.1-rc1", "0.23.1", 0],
    ["0.23.1+dirty", "0.23.2", -1],
    ["0.18.2 build: 1b8e0b5", "0.18.2", 0],
    ["10.0.0", "9.0.0", 1],
  ])("compareVersions(%j, %j) is %i", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });

  it("is antisymmetric", () => {
    expect(compareVersions("0.11.0", "0.13.0")).toBe(-1);
    expect(compareVersions("0.13.0", "0.11.0")).toBe(1);
  });

  it("treats garbage as version 0", () => {
    expect(compareVersions("garbage", "0")).toBe(0);
    expect(compareVersions("", "0.0.0")).toBe(0);
    expect(compareVersions("garbage", "0.0.1")).toBe(-1);
  });
});

describe("KOPIA_VERSION_GATES", () => {
  it("are all met by the tested kopia version", () => {
    for (const gate of KOPIA_VERSION_GATES) {
      expect(compareVersions(KOPIA_TESTED_VERSION, gate.minimum), gate.feature).toBeGreaterThanOrEqual(0);
    }
  });
});
