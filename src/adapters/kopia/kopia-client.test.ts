import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { classifyKopiaError, KopiaClient, KopiaError, removeDeadGateDirs } from "./kopia-client.js";

describe("localStatus", () => {
  const client = (configFile: string) =>
    new KopiaClient({
      location: { binary: "/nonexistent/kopia", configFile, logDir: "/tmp" },
      password: "pw",
    });

  it("reads host, user and storage from kopia's config file and the space from the repository's file system", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-status-"));
    try {
      const configFile = path.join(dir, "repository.config");
      // As kopia 0.23 writes it (trimmed).
      await fs.writeFile(
        configFile,
        JSON.stringify({
          storage: { type: "filesystem", config: { path: dir, fileMode: 384, dirMode: 448 } },
          caching: { cacheDirectory: "../cache" },
          hostname: "vm",
          username: "root",
          description: "Repository in Filesystem",
        }),
      );
      const status = await client(configFile).localStatus();
      const space = await fs.statfs(dir);
      expect(status).toMatchObject({
        hostname: "vm",
        username: "root",
        storageType: "filesystem",
        storagePath: dir,
      });
      expect(status.capacityBytes).toBe(space.blocks * space.bsize);
      expect(status.availableBytes).toBeGreaterThan(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("a config file that is not kopia's (not even JSON) is one clear error (exit 4), not a crash", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-status-"));
    try {
      const configFile = path.join(dir, "repository.config");
      await fs.writeFile(configFile, "{ truncated");
      const error = await client(configFile)
        .localStatus()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KopiaError);
      expect((error as KopiaError).message).toBe(
        `kopia's config file ${configFile} is not one kopia wrote: run \`kopi-docka init\``,
      );
      expect((error as KopiaError).exitCode).toBe(4);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("a missing config file means the repository is not connected (exit 4), without starting kopia", async () => {
    const error = await client("/nonexistent/repository.config")
      .localStatus()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KopiaError);
    expect((error as KopiaError).problem).toBe("not-connected");
    expect((error as KopiaError).exitCode).toBe(4);
  });
});

describe("classifyKopiaError", () => {
  it.each([
    ["ERROR error connecting to repository: invalid repository password", "wrong-password"],
    [
      "kopia: error: error connecting to repository: unable to open repository: invalid repository password, try --help",
      "wrong-password",
    ],
    ["ERROR repository is not connected. See https://kopia.io/docs/repositories/", "not-connected"],
    [
      "ERROR error loading config file: open /root/.config/kopia/repository-kopi-docka.config: no such file or directory",
      "not-connected",
    ],
    [
      "ERROR unable to get password: get password: password prompt error: unable to read password",
      "not-connected",
    ],
    [
      "ERROR error connecting to repository: repository not initialized in the provided storage",
      "not-initialized",
    ],
    [
      "Initializing repository with:\nERROR found existing data in storage location, refusing to initialize",
      "existing-data",
    ],
    [
      "ERROR upload error: error writing pack: write /backup/kopia-repository/p1/ab.f: no space left on device",
      "no-space",
    ],
  ])("classifies %j as %s", (stderr, problem) => {
    expect(classifyKopiaError(stderr)).toBe(problem);
  });

  it("is case-insensitive", () => {
    expect(classifyKopiaError("Invalid Repository Password")).toBe("wrong-password");
    expect(classifyKopiaError("NO SPACE LEFT ON DEVICE")).toBe("no-space");
  });

  it("finds the message in the middle of a multi-line tail", () => {
    const tail = [
      "Snapshotting root@vm:/data ...",
      " * 0 hashing, 12 hashed (1.2 MB), 0 cached (0 B), uploaded 1.1 MB, estimating...",
      "ERROR error creating snapshot: no space left on device",
      "",
    ].join("\n");
    expect(classifyKopiaError(tail)).toBe("no-space");
  });

  it("reports a wrong password before anything else it finds", () => {
    expect(classifyKopiaError("repository is not connected\ninvalid repository password")).toBe(
      "wrong-password",
    );
  });

  it.each([
    "",
    "ERROR snapshot source does not exist",
    "ERROR unable to open directory: permission denied",
    "password is not valid",
  ])("returns unknown for %j", (stderr) => {
    expect(classifyKopiaError(stderr)).toBe("unknown");
  });
});

describe("removeDeadGateDirs", () => {
  it("removes the gate directories of processes that no longer run, and only those", async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-gates-"));
    try {
      // No process can have a pid above the kernel's limit.
      const dead = Number(await fs.readFile("/proc/sys/kernel/pid_max", "utf8")) + 1;
      const names = [
        `kopi-docka-gate-${dead}-aB3dEf`,
        `kopi-docka-gate-${process.pid}-x1y2z3`,
        "kopi-docka-gate-1-init000",
        "kopi-docka-gate-Qw3rTy",
        "kopi-docka-restore-9",
      ];
      for (const name of names) {
        await fs.mkdir(path.join(tmp, name));
        await fs.writeFile(path.join(tmp, name, "gate"), "");
      }
      await removeDeadGateDirs(tmp);
      expect((await fs.readdir(tmp)).sort()).toEqual(names.slice(1).sort());
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });
});

describe("bulk reads", () => {
  it("a restore of data (bulk) reads through the uncached copy of the config; other reads through the config", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-bulk-"));
    try {
      // A stand-in for kopia that records its command lines (the real one is in the e2e suites).
      const binary = path.join(dir, "kopia");
      const calls = path.join(dir, "calls");
      await fs.writeFile(binary, `#!/bin/sh\necho "$@" >> ${calls}\n`, { mode: 0o700 });
      const configFile = path.join(dir, "repository.config");
      await fs.writeFile(
        configFile,
        JSON.stringify({
          storage: { type: "filesystem", config: { path: path.join(dir, "repo") } },
          caching: { cacheDirectory: path.join(dir, "cache"), maxCacheSize: 5242880000 },
          hostname: "vm",
          username: "root",
        }),
      );
      const client = new KopiaClient({ location: { binary, configFile, logDir: dir }, password: "pw" });
      await client.restore("k1", path.join(dir, "data"), undefined, { bulk: true });
      await client.restore("k2", path.join(dir, "recipe"));
      const [data, recipe] = (await fs.readFile(calls, "utf8")).trim().split("\n");
      expect(data).toContain(`--config-file=${configFile}.uncached `);
      expect(recipe).toContain(`--config-file=${configFile} `);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
