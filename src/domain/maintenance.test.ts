import { describe, expect, it } from "vitest";
import { maintenanceDue } from "./maintenance.js";

const now = new Date("2026-11-30T12:00:00Z");
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();

describe("maintenanceDue", () => {
  it("full on the first run, and when the last full one is a day old", () => {
    expect(maintenanceDue({}, now)).toBe("full");
    expect(maintenanceDue({ quick: ago(5), full: ago(24 * 60) }, now)).toBe("full");
  });

  it("quick when the last maintenance of either kind is an hour old", () => {
    expect(maintenanceDue({ quick: ago(60), full: ago(120) }, now)).toBe("quick");
    expect(maintenanceDue({ full: ago(61) }, now)).toBe("quick");
  });

  it("nothing within the hour (a full run counts as quick)", () => {
    expect(maintenanceDue({ quick: ago(59), full: ago(600) }, now)).toBeUndefined();
    expect(maintenanceDue({ quick: ago(300), full: ago(30) }, now)).toBeUndefined();
  });

  it("a time in the future or unreadable makes it due", () => {
    expect(maintenanceDue({ quick: ago(-60), full: ago(-60) }, now)).toBe("full");
    expect(maintenanceDue({ quick: "yesterday", full: ago(30) }, now)).toBeUndefined();
    expect(maintenanceDue({ quick: "yesterday", full: "never" }, now)).toBe("full");
  });
});
