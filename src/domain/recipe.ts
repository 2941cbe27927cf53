// Recipes: what it takes to bring a unit back on a host that never had it (compose files,
// project files, container inspect documents with secrets redacted, networks), and a coverage
// manifest of what of the unit is and is not protected.
import path from "node:path";
import { COMPOSE_CONFIG_FILES_LABEL, COMPOSE_WORKING_DIR_LABEL, type Container } from "./model.js";
import { isAtOrBelow } from "./paths.js";

export const REDACTED = "***REDACTED***";
/** Our own file in a recipe: the unit's kind, original working directory and compose file paths. */
export const RECIPE_INFO_FILE = "kopi-docka-recipe.json";

/**
 * Where a bind source goes when the project moves to another stack directory: a source inside
 * the original working directory moves along; others stay where they were.
 */
export function relocateBind(
  source: string,
  workingDir: string | undefined,
  stackDir: string | undefined,
): string {
  if (!workingDir || !stackDir) return source;
  const rel = path.relative(workingDir, source);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return rel === "" ? stackDir : source;
  return path.join(stackDir, rel);
}
const SECRET_WORDS = ["PASS", "SECRET", "KEY", "TOKEN", "CREDENTIAL", "API", "AUTH"];
/** Networks every engine has: never part of a recipe. */
export const BUILTIN_NETWORKS: readonly string[] = ["bridge", "host", "none"];

/** "NAME=value" with the value replaced when the name looks like a secret. */
export function redactEnvEntry(entry: string): string {
  const eq = entry.indexOf("=");
  if (eq < 0) return entry;
  const name = entry.slice(0, eq).toUpperCase();
  return SECRET_WORDS.some((w) => name.includes(w)) ? `${entry.slice(0, eq)}=${REDACTED}` : entry;
}

/** A container inspect document with secret-looking env values redacted (a copy). */
export function redactInspect(inspect: unknown): unknown {
  if (inspect === null || typeof inspect !== "object") return inspect;
  const copy = structuredClone(inspect) as { Config?: { Env?: unknown } };
  if (copy.Config && Array.isArray(copy.Config.Env))
    copy.Config.Env = copy.Config.Env.map((e) => (typeof e === "string" ? redactEnvEntry(e) : e));
  return copy;
}

/** The compose files named by a container's labels, relative ones resolved against working_dir (Compose v1). */
export function composeFilesOf(container: Pick<Container, "labels">): string[] {
  const raw = container.labels[COMPOSE_CONFIG_FILES_LABEL];
  if (!raw) return [];
  const workingDir = container.labels[COMPOSE_WORKING_DIR_LABEL];
  return raw
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f.length > 0)
    .map((f) => (path.isAbsolute(f) || !workingDir ? f : path.resolve(workingDir, f)));
}

/** Project files kept beside the compose files: `.env*`, `*.conf`, `*.config`, `*.toml`. */
export function isProjectFile(name: string): boolean {
  return name.startsWith(".env") || /\.(conf|config|toml)$/.test(name);
}

export type CoverageStatus = "backed up" | "skipped at runtime" | "not protected" | "not supported";

export interface CoverageEntry {
  kind:
    | "volume"
    | "bind"
    | "compose file"
    | "project file"
    | "network"
    | "container config"
    | "daemon config";
  name: string;
  status: CoverageStatus;
  reason?: string;
}

/** Networks a unit's containers use that a recipe must recreate (custom ones). */
export function customNetworks(containers: readonly Pick<Container, "networks">[]): string[] {
  const names = new Set<string>();
  for (const c of containers)
    for (const n of c.networks ?? []) if (!BUILTIN_NETWORKS.includes(n)) names.add(n);
  return [...names].sort();
}

/**
 * Where a path that exists only inside a managing container (a compose UI that runs compose for
 * the host) lives on the host: through a bind mount of a container whose destination holds it.
 * Longest destination first; undefined when no mount covers it.
 */
export function resolveThroughMounts(
  file: string,
  containers: readonly Pick<Container, "mounts">[],
): string[] {
  const candidates: { depth: number; host: string }[] = [];
  for (const c of containers)
    for (const m of c.mounts) {
      if (m.kind !== "bind") continue;
      const dest = m.destination.replace(/\/+$/, "");
      if (isAtOrBelow(file, dest))
        candidates.push({ depth: dest.length, host: path.join(m.source, file.slice(dest.length)) });
    }
  return [...new Set(candidates.sort((a, b) => b.depth - a.depth).map((c) => c.host))];
}
