// Which bind-mount sources are user data worth backing up, and which are host internals.
import path from "node:path";
import { isAtOrBelow } from "./paths.js";

/** Paths that are never backed up, with everything below them. */
export const HOST_INTERNAL_TREES: readonly string[] = [
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
];

/**
 * Returns why a bind source must not be backed up, or undefined when it is user data.
 * `dockerRoot` is the engine's data root (usually /var/lib/docker).
 */
export function bindSkipReason(source: string, dockerRoot = "/var/lib/docker"): string | undefined {
  if (!path.isAbsolute(source)) return "source is not an absolute host path";
  const normalized = path.posix.normalize(source).replace(/\/+$/, "") || "/";
  if (normalized === "/") return "the host's root directory is never backed up";
  if (normalized.endsWith("/docker.sock") || normalized.endsWith("/containerd.sock"))
    return "the Docker socket is not data";
  const root = path.posix.normalize(dockerRoot).replace(/\/+$/, "") || "/";
  for (const tree of [...HOST_INTERNAL_TREES, root]) {
    if (isAtOrBelow(normalized, tree)) return `host system path (${tree}) is not backed up`;
  }
  return undefined;
}
