import { describe, expect, it } from "vitest";
import { bindSkipReason, HOST_INTERNAL_TREES } from "./bind-policy.js";

const ROOT_REASON = "the host's root directory is never backed up";
const SOCKET_REASON = "the Docker socket is not data";
const RELATIVE_REASON = "source is not an absolute host path";
const system = (tree: string) => `host system path (${tree}) is not backed up`;

describe("bindSkipReason", () => {
  it.each([
    "/srv/data",
    "/home/u/app",
    "/srv/data/",
    "/opt/app/config.yml",
    "/mnt/nas/photos",
    "/var/lib/mysql",
    "/var/log/nginx",
    "/data/docker/volumes/x",
    "/root/app",
  ])("allows user data at %s", (source) => {
    expect(bindSkipReason(source)).toBeUndefined();
  });

  it.each([
    // prefixes that only look like a system tree are not below it
    "/etcetera/data",
    "/etc2",
    "/proceeds",
    "/system",
    "/devices/x",
    "/usrdata",
    "/var/lib/docker-data/app",
    "/var/lib/dockerfoo",
    "/var/running",
  ])("does not confuse a name prefix with a system tree: %s", (source) => {
    expect(bindSkipReason(source)).toBeUndefined();
  });

  it.each(["/", "//", "///", "/./", "/srv/.."])("refuses the host root %j", (source) => {
    expect(bindSkipReason(source)).toBe(ROOT_REASON);
  });

  it.each([
    ["/etc", "/etc"],
    ["/etc/", "/etc"],
    ["/etc/localtime", "/etc"],
    ["/etc/nginx/conf.d/", "/etc"],
    ["/proc", "/proc"],
    ["/proc/1/ns", "/proc"],
    ["/sys/fs/cgroup", "/sys"],
    ["/dev/shm", "/dev"],
    ["/run/udev", "/run"],
    ["/usr/share/zoneinfo", "/usr"],
    ["/boot", "/boot"],
    ["/lib/modules", "/lib"],
    ["/lib64", "/lib64"],
    ["/var/lib/docker", "/var/lib/docker"],
    ["/var/lib/docker/", "/var/lib/docker"],
    ["/var/lib/docker/volumes/x/_data", "/var/lib/docker"],
    ["/var/lib/containerd/io.containerd.content.v1", "/var/lib/containerd"],
    ["/var/run/secrets", "/var/run"],
  ])("refuses the system path %s (below %s)", (source, tree) => {
    expect(bindSkipReason(source)).toBe(system(tree));
  });

  it("normalizes the path before checking it", () => {
    expect(bindSkipReason("/srv/../etc/passwd")).toBe(system("/etc"));
    expect(bindSkipReason("//etc//ssl")).toBe(system("/etc"));
    expect(bindSkipReason("/srv/./data//")).toBeUndefined();
  });

  it.each([
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/docker.sock/",
    "/home/u/.docker/run/docker.sock",
    "/run/containerd/containerd.sock",
  ])("refuses the Docker socket %s as not data", (source) => {
    expect(bindSkipReason(source)).toBe(SOCKET_REASON);
  });

  it.each(["data", "./data", "../srv/data", "srv/data", ""])("refuses the relative path %j", (source) => {
    expect(bindSkipReason(source)).toBe(RELATIVE_REASON);
  });

  it("uses a custom Docker data root", () => {
    expect(bindSkipReason("/data/docker/volumes/x/_data", "/data/docker")).toBe(system("/data/docker"));
    expect(bindSkipReason("/data/docker", "/data/docker")).toBe(system("/data/docker"));
    expect(bindSkipReason("/data/docker-backups", "/data/docker")).toBeUndefined();
    expect(bindSkipReason("/data/other", "/data/docker")).toBeUndefined();
  });

  it("still refuses the default Docker root when a custom one is given", () => {
    expect(bindSkipReason("/var/lib/docker/volumes", "/data/docker")).toBe(system("/var/lib/docker"));
  });

  it("lists the expected host trees", () => {
    expect(HOST_INTERNAL_TREES).toEqual([
      "/proc",
      "/sys",
      "/dev",
      "/run",
      "/var/run",
      "/etc",
      "/usr",
      "/boot",
      "/bin",
      "/sbin",
      "/lib",
      "/lib32",
      "/lib64",
      "/var/lib/docker",
      "/var/lib/containerd",
    ]);
  });
});

describe("bindSkipReason with a data root given with a trailing slash", () => {
  it("refuses the data root itself and what is below it", () => {
    expect(bindSkipReason("/data/docker", "/data/docker/")).toMatch(/host system path/);
    expect(bindSkipReason("/data/docker/x", "/data/docker/")).toMatch(/host system path/);
    expect(bindSkipReason("/data/dockerish", "/data/docker/")).toBeUndefined();
  });
});
