import { describe, expect, it } from "vitest";
import type { GlobalPolicyChange, SourcePolicyChange } from "../adapters/kopia/argv.js";
import { GATE_ACTIONS } from "../adapters/kopia/gate.js";
import type { Policies } from "../adapters/kopia/kopia-client.js";
import type { Context } from "./context.js";
import {
  applyGlobalPolicy,
  cacheDirsFromGlobal,
  gateable,
  MIN_PARALLEL_FILE_READS,
  parallelFileReads,
  policiesOf,
  syncSourcePolicy,
} from "./policy.js";

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

/** Both questions as a run asks them: about the policies of one user@host. */
type Some = Pick<Policies, "sources" | "levels">;
const cacheDirs = (p: Some, host: string, user: string, source: string) =>
  cacheDirsFromGlobal(policiesOf(p, host, user), source);
const gate = (p: Some, host: string, user: string, source: string) =>
  gateable(policiesOf(p, host, user), source);

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
  it("writes nothing when retention, compression, cache directories and the snapshot gate already match", async () => {
    const { ctx, global } = context();
    await applyGlobalPolicy(ctx, {
      retention,
      compression: { compressorName: "zstd" },
      ignoreCacheDirs: false,
      gate: true,
    });
    expect(global).toEqual([]);
  });

  it("puts the snapshot gate's actions on the global policy when they are not exactly there", async () => {
    const { ctx, global } = context();
    await applyGlobalPolicy(ctx, {
      retention,
      compression: { compressorName: "zstd" },
      ignoreCacheDirs: false,
      gate: false,
    });
    expect(global).toEqual([{ gate: GATE_ACTIONS }]);
  });

  it("keeps cache directories when the global policy stores them empty (Kopia's default) or says nothing", async () => {
    for (const ignoreCacheDirs of [true, undefined]) {
      const { ctx, global } = context();
      await applyGlobalPolicy(ctx, {
        retention,
        compression: { compressorName: "zstd" },
        ignoreCacheDirs,
        gate: true,
      });
      expect(global).toEqual([{ ignoreCacheDirs: false }]);
    }
  });
});

describe("cacheDirsFromGlobal", () => {
  const base: Pick<Policies, "sources" | "levels"> = { sources: [], levels: [] };

  it("yes when no policy between the source and the global one speaks of cache directories", () => {
    expect(cacheDirs(base, "h", "root", volume)).toBe(true);
    // Policies of other hosts, users and unrelated paths do not apply.
    expect(
      cacheDirs(
        {
          ...base,
          sources: [
            { host: "other", user: "root", path: "/var", ignore: [], ignoreCacheDirs: true, actions: false },
            { host: "h", user: "root", path: "/srv", ignore: [], ignoreCacheDirs: true, actions: false },
            {
              host: "h",
              user: "root",
              path: "/var/lib/docker/volumes/db",
              ignore: [],
              ignoreCacheDirs: undefined,
              actions: false,
            },
          ],
          levels: [{ host: "other", user: "", ignoreCacheDirs: true, actions: false }],
        },
        "h",
        "root",
        volume,
      ),
    ).toBe(true);
  });

  it("no when a policy in between says anything about them", () => {
    const parent = {
      host: "h",
      user: "root",
      path: "/var/lib/docker",
      ignore: [],
      ignoreCacheDirs: true,
      actions: false,
    };
    expect(cacheDirs({ ...base, sources: [parent] }, "h", "root", volume)).toBe(false);
    for (const user of ["root", ""])
      expect(
        cacheDirs(
          { ...base, levels: [{ host: "h", user, ignoreCacheDirs: false, actions: false }] },
          "h",
          "root",
          volume,
        ),
      ).toBe(false);
  });
});

describe("parallelFileReads", () => {
  const none: Pick<Policies, "sources" | "levels"> = { sources: [], levels: [] };
  const source = "/var/lib/docker/volumes/db/_data";
  const at = (path: string, maxParallelFileReads: number) => ({
    host: "h",
    user: "root",
    path,
    ignore: [],
    ignoreCacheDirs: undefined,
    actions: false,
    maxParallelFileReads,
  });

  it("four files at once where Kopia would read one per processor and fewer than four", () => {
    expect(MIN_PARALLEL_FILE_READS).toBe(4);
    for (const cpus of [1, 2, 3]) expect(parallelFileReads({}, none, source, cpus)).toBe(4);
  });

  it("Kopia's own choice with four processors or more", () => {
    for (const cpus of [4, 8, 64]) expect(parallelFileReads({}, none, source, cpus)).toBeUndefined();
  });

  it("Kopia's own choice where a policy that applies says how many (the user's setting wins)", () => {
    expect(parallelFileReads({ maxParallelFileReads: 1 }, none, source, 2)).toBeUndefined();
    expect(parallelFileReads({}, { ...none, sources: [at(source, 2)] }, source, 2)).toBeUndefined();
    expect(
      parallelFileReads({}, { ...none, sources: [at("/var/lib/docker", 8)] }, source, 2),
    ).toBeUndefined();
    const level = {
      host: "h",
      user: "",
      ignoreCacheDirs: undefined,
      actions: false,
      maxParallelFileReads: 1,
    };
    expect(parallelFileReads({}, { ...none, levels: [level] }, source, 2)).toBeUndefined();
  });

  it("a path's policy below the source or beside it does not count", () => {
    const others = [at(`${source}/cache`, 1), at("/var/lib/docker/volumes/dbx", 1)];
    expect(parallelFileReads({}, { ...none, sources: others }, source, 2)).toBe(4);
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

describe("gateable", () => {
  const none: Pick<Policies, "sources" | "levels"> = { sources: [], levels: [] };
  const source = (p: string, actions: boolean) => ({
    host: "h",
    user: "root",
    path: p,
    ignore: [],
    ignoreCacheDirs: undefined,
    actions,
  });

  it("yes when no policy of this user@host other than the global one defines an action", () => {
    expect(gate(none, "h", "root", volume)).toBe(true);
    expect(
      gate(
        {
          sources: [
            source(volume, false),
            source("/var/lib/docker", false),
            { ...source("/var/lib/docker", true), host: "other" },
            source("/srv", true),
            source("/var/lib/docker/volumes/db2", true),
          ],
          levels: [{ host: "other", user: "", ignoreCacheDirs: undefined, actions: true }],
        },
        "h",
        "root",
        volume,
      ),
    ).toBe(true);
  });

  it("no when a policy at, above or below the source, or the user's or host's, defines one", () => {
    for (const p of [volume, "/var/lib/docker", `${volume}/sub`])
      expect(gate({ ...none, sources: [source(p, true)] }, "h", "root", volume)).toBe(false);
    for (const user of ["root", ""])
      expect(
        gate(
          { ...none, levels: [{ host: "h", user, ignoreCacheDirs: undefined, actions: true }] },
          "h",
          "root",
          volume,
        ),
      ).toBe(false);
  });
});
