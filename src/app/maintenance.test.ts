import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Context } from "./context.js";
import { maintainWhenDue, recordMaintained } from "./maintenance.js";

let dir: string;
const now = new Date("2026-11-30T12:00:00Z");

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "kd-maintenance-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** kopia's maintenance faked (what it would run is recorded); the state file is real. */
function context(): { ctx: Pick<Context, "kopia" | "settings" | "clock">; ran: boolean[] } {
  const ran: boolean[] = [];
  const ctx = {
    kopia: {
      maintenance: async (full = false) => {
        ran.push(full);
        return "ran" as const;
      },
    },
    settings: { config: { backup: { state_directory: dir } } },
    clock: { now: () => now },
  } as unknown as Pick<Context, "kopia" | "settings" | "clock">;
  return { ctx, ran };
}

const stateFile = () => path.join(dir, "maintenance.json");

describe("maintainWhenDue", () => {
  it("a state file that is not what it wrote (other types, not JSON) counts as never: full runs and the file is written anew", async () => {
    for (const text of ['{"full": 5, "quick": true, "other": 1}', "{ truncated", "[]"]) {
      await fs.writeFile(stateFile(), text);
      const { ctx, ran } = context();
      expect(await maintainWhenDue(ctx)).toBe("full");
      expect(ran).toEqual([true]);
      expect(JSON.parse(await fs.readFile(stateFile(), "utf8"))).toEqual({
        quick: now.toISOString(),
        full: now.toISOString(),
      });
    }
  });

  it("within the hour of the last run nothing runs; after it quick, after a day full", async () => {
    const at = (ms: number) => new Date(now.getTime() - ms).toISOString();
    const cases: [object, string][] = [
      [{ quick: at(10 * 60_000), full: at(10 * 60_000) }, "not due"],
      [{ quick: at(2 * 3600_000), full: at(3 * 3600_000) }, "quick"],
      [{ quick: at(60_000), full: at(25 * 3600_000) }, "full"],
    ];
    for (const [state, expected] of cases) {
      await fs.writeFile(stateFile(), JSON.stringify(state));
      expect(await maintainWhenDue(context().ctx)).toBe(expected);
    }
  });

  it("a repository recorded as maintained when it was created: nothing due before the usual schedule, then quick, then full", async () => {
    const { ctx, ran } = context();
    await recordMaintained(ctx, now);
    expect((await fs.stat(stateFile())).mode & 0o777).toBe(0o600);
    expect(await maintainWhenDue(ctx)).toBe("not due");
    const later = (ms: number) => ({ ...ctx, clock: { now: () => new Date(now.getTime() + ms) } });
    expect(await maintainWhenDue(later(61 * 60 * 1000))).toBe("quick");
    expect(await maintainWhenDue(later(25 * 60 * 60 * 1000))).toBe("full");
    expect(ran).toEqual([false, true]);
  });
});
