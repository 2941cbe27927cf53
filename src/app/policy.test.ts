import { describe, expect, it } from "vitest";
import type { GlobalPolicyChange, SourcePolicyChange } from "../adapters/kopia/argv.js";
import type { Policies } from "../adapters/kopia/kopia-client.js";
import type { Context } from "./context.js";
import { applyGlobalPolicy, cacheDirsFromGlobal, syncSourcePolicy } from "./policy.js";

/** kopia's policy calls faked: what would be written is recorded. */
function context() {
  const global: GlobalPolicyChange[] = [];
  const sources: { source: string; change: SourcePolicyChange }[] = [];
  const ctx = {
    kopia: {
      setGlobalPolicy: async (change: GlobalPolicyChange) => {
        global.push(change);
      },
      setSourcePolicy: async (source: string, change: SourcePolicyChange) => {
        sources.push({ source, change });
      },
    },
    settings: {
      config: {
        retention: { latest: 10, hourly: 0, daily: 7, weekly: 4, monthly: 12, annual: 3 },
        kopia: { compression: "zstd" },
      },
    },
    log: { info: () => undefined, warn: () => undefined },
  } as unknown as Pick<Context, "kopia" | "settings" | "log">;
  return { ctx, global, sources };
}

const retention = {
  keepLatest: 10,
  keepHourly: 0,
  keepDaily: 7,
  keepWeekly: 4,
  keepMonthly: 12,
  keepAnnual: 3,
};
const volume = "/var/lib/docker/volumes/db/_data";

describe("applyGlobalPolicy", () => {
  it("writes nothing when retention, compression and cache directories already match", async () => {
    const { ctx, global } = context();
    await applyGlobalPolicy(ctx, {
      retention,
      compression: { compressorName: "zstd" },
      ignoreCacheDirs: false,
    });
    expect(global).toEqual([]);
  });

  it("keeps cache directories when the global policy stores them empty (Kopia's default) or says nothing", async () => {
    for (const ignoreCacheDirs of [true, undefined]) {
      const { ctx, global } = context();
      await applyGlobalPolicy(ctx, { retention, compression: { compressorName: "zstd" }, ignoreCacheDirs });
      expect(global).toEqual([{ ignoreCacheDirs: false }]);
    }
  });
});

describe("cacheDirsFromGlobal", () => {
  const base: Pick<Policies, "sources" | "levels"> = { sources: [], levels: [] };

  it("yes when no policy between the source and the global one speaks of cache directories", () => {
    expect(cacheDirsFromGlobal(base, "h", "root", volume)).toBe(true);
    // Policies of other hosts, users and unrelated paths do not apply.
    expect(
      cacheDirsFromGlobal(
        {
          ...base,
          sources: [
            { host: "other", user: "root", path: "/var", ignore: [], ignoreCacheDirs: true },
            { host: "h", user: "root", path: "/srv", ignore: [], ignoreCacheDirs: true },
            {
              host: "h",
              user: "root",
              path: "/var/lib/docker/volumes/db",
              ignore: [],
              ignoreCacheDirs: undefined,
            },
          ],
          levels: [{ host: "other", user: "", ignoreCacheDirs: true }],
        },
        "h",
        "root",
        volume,
      ),
    ).toBe(true);
  });

  it("no when a policy in between says anything about them", () => {
    const parent = { host: "h", user: "root", path: "/var/lib/docker", ignore: [], ignoreCacheDirs: true };
    expect(cacheDirsFromGlobal({ ...base, sources: [parent] }, "h", "root", volume)).toBe(false);
    for (const user of ["root", ""])
      expect(
        cacheDirsFromGlobal(
          { ...base, levels: [{ host: "h", user, ignoreCacheDirs: false }] },
          "h",
          "root",
          volume,
        ),
      ).toBe(false);
  });
});

describe("syncSourcePolicy", () => {
  it("no policy of its own for a source without ignore rules that inherits cache directories kept", async () => {
    const { ctx, sources } = context();
    await syncSourcePolicy(ctx, volume, [], undefined, true);
    expect(sources).toEqual([]);
  });

  it("a policy of its own keeping cache directories when it does not inherit that", async () => {
    const { ctx, sources } = context();
    await syncSourcePolicy(ctx, volume, [], undefined, false);
    expect(sources).toEqual([
      { source: volume, change: { addIgnore: [], removeIgnore: [], ignoreCacheDirs: false } },
    ]);
  });

  it("ignore rules: only the difference is written; its own setting for cache directories is corrected", async () => {
    const { ctx, sources } = context();
    await syncSourcePolicy(
      ctx,
      volume,
      ["*.tmp", "cache/"],
      { ignore: ["*.tmp", "old/"], ignoreCacheDirs: false },
      true,
    );
    await syncSourcePolicy(ctx, volume, [], { ignore: [], ignoreCacheDirs: true }, true);
    await syncSourcePolicy(ctx, volume, ["*.tmp"], { ignore: ["*.tmp"], ignoreCacheDirs: undefined }, true);
    expect(sources).toEqual([
      { source: volume, change: { addIgnore: ["cache/"], removeIgnore: ["old/"] } },
      { source: volume, change: { addIgnore: [], removeIgnore: [], ignoreCacheDirs: false } },
    ]);
  });
});
