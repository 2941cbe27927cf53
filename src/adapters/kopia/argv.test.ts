import { describe, expect, it } from "vitest";
import {
  baseArgs,
  type KopiaLocation,
  maintenanceRunArgs,
  policyListArgs,
  policySetGlobalArgs,
  repositoryConnectArgs,
  repositoryCreateArgs,
  repositoryStatusArgs,
  restoreArgs,
  showArgs,
  snapshotCreateArgs,
  snapshotListArgs,
  versionArgs,
} from "./argv.js";

const location: KopiaLocation = {
  binary: "/usr/bin/kopia",
  configFile: "/root/.config/kopia/repository-kopi-docka.config",
  logDir: "/root/.cache/kopi-docka/kopia/kopi-docka-logs",
};

const BASE = [
  "/usr/bin/kopia",
  "--config-file=/root/.config/kopia/repository-kopi-docka.config",
  "--log-dir=/root/.cache/kopi-docka/kopia/kopi-docka-logs",
  "--log-level=warning",
  "--file-log-level=info",
  "--no-progress",
];

const connect = {
  storage: ["filesystem", "--path", "/backup/kopia-repository"],
  cacheDirectory: "/root/.cache/kopi-docka/kopia/kopi-docka",
};

const PASSWORD = "s3cr3t-Passw0rd";

function expectNoPassword(argv: readonly string[]) {
  for (const arg of argv) {
    expect(arg).not.toContain(PASSWORD);
    expect(arg).not.toMatch(/^--password/);
  }
}

describe("kopia argv builders", () => {
  it("baseArgs: own config file and log dir, warnings only, no progress", () => {
    expect(baseArgs(location)).toEqual(BASE);
  });

  it("repositoryCreateArgs", () => {
    const argv = repositoryCreateArgs(location, connect);
    expect(argv).toEqual([
      ...BASE,
      "repository",
      "create",
      "filesystem",
      "--path",
      "/backup/kopia-repository",
      "--cache-directory=/root/.cache/kopi-docka/kopia/kopi-docka",
      "--no-check-for-updates",
      "--no-persist-credentials",
      "--block-hash=BLAKE3-256-128",
    ]);
    expectNoPassword(argv);
  });

  it("repositoryCreateArgs with a key derivation; connecting ignores it (the repository has its own)", () => {
    const withKey = { ...connect, keyDerivation: "pbkdf2-sha256-600000" };
    expect(repositoryCreateArgs(location, withKey).slice(-2)).toEqual([
      "--block-hash=BLAKE3-256-128",
      "--format-block-key-derivation-algorithm=pbkdf2-sha256-600000",
    ]);
    expect(repositoryConnectArgs(location, withKey)).toEqual(repositoryConnectArgs(location, connect));
  });

  it("repositoryConnectArgs with hostname and username overrides", () => {
    expect(
      repositoryConnectArgs(location, { ...connect, hostname: "docker-host", username: "backup" }),
    ).toEqual([
      ...BASE,
      "repository",
      "connect",
      "filesystem",
      "--path",
      "/backup/kopia-repository",
      "--cache-directory=/root/.cache/kopi-docka/kopia/kopi-docka",
      "--no-check-for-updates",
      "--no-persist-credentials",
      "--override-hostname=docker-host",
      "--override-username=backup",
    ]);
  });

  it("repositoryConnectArgs leaves out empty overrides", () => {
    expect(repositoryConnectArgs(location, { ...connect, hostname: "", username: "" })).toEqual([
      ...BASE,
      "repository",
      "connect",
      "filesystem",
      "--path",
      "/backup/kopia-repository",
      "--cache-directory=/root/.cache/kopi-docka/kopia/kopi-docka",
      "--no-check-for-updates",
      "--no-persist-credentials",
    ]);
  });

  it("repositoryStatusArgs", () => {
    expect(repositoryStatusArgs(location)).toEqual([...BASE, "repository", "status", "--json"]);
  });

  it("snapshotCreateArgs for a directory", () => {
    const argv = snapshotCreateArgs(location, "/var/lib/docker/volumes/shop_db/_data", {
      tags: { type: "volume", unit: "shop" },
    });
    expect(argv).toEqual([
      ...BASE,
      "--no-auto-maintenance",
      "snapshot",
      "create",
      "/var/lib/docker/volumes/shop_db/_data",
      "--json",
      "--tags",
      "type:volume",
      "--tags",
      "unit:shop",
    ]);
    expect(argv.indexOf("--no-auto-maintenance")).toBeLessThan(argv.indexOf("snapshot"));
    expectNoPassword(argv);
  });

  it("snapshotCreateArgs for a gated snapshot runs the policy's actions", () => {
    expect(snapshotCreateArgs(location, "/data", { tags: {}, gated: true })).toEqual([
      ...BASE,
      "--no-auto-maintenance",
      "snapshot",
      "create",
      "/data",
      "--force-enable-actions",
      "--json",
    ]);
  });

  it("snapshotCreateArgs with a number of files read at once", () => {
    expect(snapshotCreateArgs(location, "/data", { tags: {}, gated: true, parallel: 4 })).toEqual([
      ...BASE,
      "--no-auto-maintenance",
      "snapshot",
      "create",
      "/data",
      "--force-enable-actions",
      "--parallel=4",
      "--json",
    ]);
  });

  it("snapshotCreateArgs with override source and description", () => {
    expect(
      snapshotCreateArgs(location, "/staging/x", {
        tags: { unit: "shop" },
        overrideSource: "/kopi-docka/shop/volume/shop_db",
        description: "kopi-docka shop",
      }),
    ).toEqual([
      ...BASE,
      "--no-auto-maintenance",
      "snapshot",
      "create",
      "/staging/x",
      "--override-source=/kopi-docka/shop/volume/shop_db",
      "--json",
      "--description=kopi-docka shop",
      "--tags",
      "unit:shop",
    ]);
  });

  it("snapshotCreateArgs from stdin names the file and reads '-' instead of the source", () => {
    const argv = snapshotCreateArgs(location, "/ignored/source", {
      tags: { type: "volume" },
      stdinFile: "shop_db.tar",
      overrideSource: "/kopi-docka/shop/volume/shop_db",
    });
    expect(argv).toEqual([
      ...BASE,
      "--no-auto-maintenance",
      "snapshot",
      "create",
      "--stdin-file=shop_db.tar",
      "-",
      "--override-source=/kopi-docka/shop/volume/shop_db",
      "--json",
      "--tags",
      "type:volume",
    ]);
    expect(argv).not.toContain("/ignored/source");
    expect(argv.indexOf("--no-auto-maintenance")).toBeLessThan(argv.indexOf("snapshot"));
  });

  it("snapshotCreateArgs without tags has no --tags", () => {
    expect(snapshotCreateArgs(location, "/d", { tags: {} })).toEqual([
      ...BASE,
      "--no-auto-maintenance",
      "snapshot",
      "create",
      "/d",
      "--json",
    ]);
  });

  it("snapshotListArgs lists every source", () => {
    expect(snapshotListArgs(location)).toEqual([...BASE, "snapshot", "list", "--json", "--all"]);
  });

  it("restoreArgs keeps owners, permissions, times and sparse files", () => {
    expect(restoreArgs(location, "k1234", "/target")).toEqual([
      ...BASE,
      "restore",
      "k1234",
      "/target",
      "--write-sparse-files",
      "--no-ignore-permission-errors",
      "--no-skip-owners",
      "--no-skip-permissions",
      "--no-skip-times",
    ]);
  });

  it("restoreArgs without holes writes every block (a tree known to have none)", () => {
    expect(restoreArgs(location, "k1234", "/target", { sparse: false })).toEqual([
      ...BASE,
      "restore",
      "k1234",
      "/target",
      "--no-ignore-permission-errors",
      "--no-skip-owners",
      "--no-skip-permissions",
      "--no-skip-times",
    ]);
  });

  it("showArgs", () => {
    expect(showArgs(location, "kdd5/shop_db.tar")).toEqual([...BASE, "show", "kdd5/shop_db.tar"]);
  });

  it("policyListArgs", () => {
    expect(policyListArgs(location)).toEqual([...BASE, "policy", "list", "--json"]);
  });

  it("policySetGlobalArgs with the snapshot gate: both actions, one timeout and mode", () => {
    expect(
      policySetGlobalArgs(location, {
        gate: {
          beforeSnapshotRoot: { path: "/bin/sh", args: ["-c", "b"], timeout: 60, mode: "essential" },
          afterSnapshotRoot: { path: "/bin/sh", args: ["-c", "a"], timeout: 60, mode: "essential" },
        },
      }),
    ).toEqual([
      ...BASE,
      "policy",
      "set",
      "--global",
      "--before-snapshot-root-action=/bin/sh -c b",
      "--after-snapshot-root-action=/bin/sh -c a",
      "--action-command-timeout=60s",
      "--action-command-mode=essential",
    ]);
  });

  it("policySetGlobalArgs with retention and compression", () => {
    expect(
      policySetGlobalArgs(location, {
        retention: { latest: 10, hourly: 0, daily: 7, weekly: 4, monthly: 12, annual: 3 },
        compression: "zstd",
      }),
    ).toEqual([
      ...BASE,
      "policy",
      "set",
      "--global",
      "--keep-latest=10",
      "--keep-hourly=0",
      "--keep-daily=7",
      "--keep-weekly=4",
      "--keep-monthly=12",
      "--keep-annual=3",
      "--compression=zstd",
    ]);
  });

  it("policySetGlobalArgs with nothing to change", () => {
    expect(policySetGlobalArgs(location, {})).toEqual([...BASE, "policy", "set", "--global"]);
    expect(policySetGlobalArgs(location, { retention: { daily: 1 } })).toEqual([
      ...BASE,
      "policy",
      "set",
      "--global",
      "--keep-daily=1",
    ]);
  });

  it("policySetGlobalArgs keeping cache directories", () => {
    expect(policySetGlobalArgs(location, { ignoreCacheDirs: false })).toEqual([
      ...BASE,
      "policy",
      "set",
      "--global",
      "--ignore-cache-dirs=false",
    ]);
  });

  it("maintenanceRunArgs", () => {
    expect(maintenanceRunArgs(location)).toEqual([...BASE, "maintenance", "run"]);
    expect(maintenanceRunArgs(location, true)).toEqual([...BASE, "maintenance", "run", "--full"]);
  });

  it("versionArgs needs only the binary", () => {
    expect(versionArgs({ binary: "kopia" })).toEqual(["kopia", "--version"]);
  });

  it("no builder ever puts a password on the command line", () => {
    const all = [
      baseArgs(location),
      repositoryCreateArgs(location, connect),
      repositoryConnectArgs(location, connect),
      repositoryStatusArgs(location),
      snapshotCreateArgs(location, "/d", { tags: { unit: "u" } }),
      snapshotListArgs(location),
      restoreArgs(location, "k", "/t"),
      showArgs(location, "k"),
      policyListArgs(location),
      policySetGlobalArgs(location, { compression: "zstd" }),
      maintenanceRunArgs(location),
    ];
    for (const argv of all) expectNoPassword(argv);
  });
});
