import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RunRecords } from "./run-records.js";

describe("RunRecords.lastSuccessfulBackups", () => {
  let base: string;
  let records: RunRecords;
  const write = (name: string, record: object) =>
    fs.writeFile(path.join(records.dir, name), JSON.stringify(record), { mode: 0o600 });
  const backup = (unit: string, timestamp: string, success: boolean, operation = "backup") => ({
    unit_name: unit,
    timestamp,
    success,
    operation,
  });

  beforeEach(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), "kd-records-"));
    records = new RunRecords(base);
  });
  afterEach(async () => {
    await fs.rm(base, { recursive: true, force: true });
  });

  it("none without a metadata directory or a record of the unit", async () => {
    expect(await records.lastSuccessfulBackups()("shop")).toBeUndefined();
    await fs.mkdir(records.dir);
    await write("shop_x_20261201_020000.json", backup("shop_x", "2026-12-01T02:00:00.000Z", true));
    expect(await records.lastSuccessfulBackups()("shop")).toBeUndefined();
  });

  it("the newest successful backup's start: failed runs, restores and unreadable files passed over", async () => {
    await fs.mkdir(records.dir);
    await write("shop_20261129_020000.json", backup("shop", "2026-11-29T02:00:00.000Z", true));
    await write("shop_20261130_020000.json", backup("shop", "2026-11-30T02:00:00.000Z", true));
    await write("shop_20261201_020000.json", backup("shop", "2026-12-01T02:00:00.000Z", false));
    await write("shop_20261201_030000.json", backup("shop", "2026-12-01T03:00:00.000Z", true, "restore"));
    await fs.writeFile(path.join(records.dir, "shop_20261201_040000.json"), "{not json");
    // Another unit whose name extends this one's.
    await write("shop_x_20261202_020000.json", backup("shop_x", "2026-12-02T02:00:00.000Z", true));
    expect((await records.lastSuccessfulBackups()("shop"))?.toISOString()).toBe("2026-11-30T02:00:00.000Z");
  });

  it("a second record of the same second counts as the newer", async () => {
    await fs.mkdir(records.dir);
    await write("shop_20261201_020000.json", backup("shop", "2026-12-01T02:00:00.000Z", true));
    await write("shop_20261201_020000_2.json", backup("shop", "2026-12-01T02:00:00.500Z", true));
    expect((await records.lastSuccessfulBackups()("shop"))?.toISOString()).toBe("2026-12-01T02:00:00.500Z");
  });
});
