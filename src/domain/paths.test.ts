import { describe, expect, it } from "vitest";
import { isAtOrBelow } from "./paths.js";

describe("isAtOrBelow", () => {
  it("the root itself and what lies below it, with or without a trailing slash on the root", () => {
    expect(isAtOrBelow("/srv/shop", "/srv/shop")).toBe(true);
    expect(isAtOrBelow("/srv/shop/data", "/srv/shop")).toBe(true);
    expect(isAtOrBelow("/srv/shop/data", "/srv/shop/")).toBe(true);
    expect(isAtOrBelow("/srv/shop", "/srv/shop/")).toBe(true);
    expect(isAtOrBelow("/anything", "/")).toBe(true);
  });

  it("not a sibling that only shares a prefix, nor a parent", () => {
    expect(isAtOrBelow("/srv/shopping", "/srv/shop")).toBe(false);
    expect(isAtOrBelow("/srv", "/srv/shop")).toBe(false);
  });
});
