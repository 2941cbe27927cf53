import { describe, expect, it } from "vitest";
import { classifyKopiaError } from "./kopia-client.js";

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
