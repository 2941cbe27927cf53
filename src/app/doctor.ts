// The doctor use case: is everything a backup needs there and working?
import type { DockerEngine } from "../adapters/docker/engine.js";
import type { KopiaClient } from "../adapters/kopia/kopia-client.js";
import { runProcess } from "../adapters/process/runner.js";
import type { Settings } from "../config/load.js";
import { errorMessage } from "../domain/errors.js";
import { compareVersions, KOPIA_TESTED_VERSION, KOPIA_VERSION_GATES } from "../domain/versions.js";
import { discover } from "./discover.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorReport {
  checks: Check[];
  ok: boolean;
}

const MIN_FREE_BYTES = 1024 ** 3;

export async function runDoctor(deps: {
  settings: Settings | Error;
  docker: DockerEngine;
  kopia: KopiaClient | undefined;
}): Promise<DoctorReport> {
  const checks: Check[] = [];
  const { settings } = deps;
  if (settings instanceof Error) checks.push({ name: "config", status: "fail", detail: settings.message });
  else {
    checks.push({
      name: "config",
      status: settings.warnings.length > 0 ? "warn" : "ok",
      detail: [settings.configPath, ...settings.warnings].join("; "),
    });
  }

  let dockerOk = false;
  try {
    const v = await deps.docker.version();
    dockerOk = true;
    checks.push({
      name: "docker",
      status: "ok",
      detail: `engine ${v.version}, API ${v.apiVersion}, data root ${v.rootDir}`,
    });
  } catch (error) {
    checks.push({ name: "docker", status: "fail", detail: errorMessage(error) });
  }

  if (deps.kopia) {
    try {
      const version = await deps.kopia.version();
      const missing = KOPIA_VERSION_GATES.filter((g) => compareVersions(version, g.minimum) < 0);
      checks.push({
        name: "kopia",
        status:
          missing.length > 0 ? "fail" : compareVersions(version, KOPIA_TESTED_VERSION) === 0 ? "ok" : "warn",
        detail:
          missing.length > 0
            ? `kopia ${version} is too old for: ${missing.map((g) => `${g.feature} (needs ${g.minimum})`).join(", ")}`
            : `kopia ${version}${compareVersions(version, KOPIA_TESTED_VERSION) === 0 ? "" : ` (tested with ${KOPIA_TESTED_VERSION})`}`,
      });
      const status = await deps.kopia.status();
      checks.push({
        name: "repository",
        status: "ok",
        detail: `connected: ${status.storageType}${status.storagePath ? ` at ${status.storagePath}` : ""}, client ${status.username}@${status.hostname}`,
      });
      if (status.storageType === "filesystem" && status.availableBytes !== undefined) {
        const gib = (status.availableBytes / 1024 ** 3).toFixed(1);
        checks.push({
          name: "free space",
          status: status.availableBytes < MIN_FREE_BYTES ? "warn" : "ok",
          detail: `${gib} GiB free where the repository is`,
        });
      }
    } catch (error) {
      checks.push({ name: "repository", status: "fail", detail: errorMessage(error) });
    }
  }

  if (!(settings instanceof Error)) {
    const format = settings.config.backup.backup_format;
    let detail = `volumes are written in the ${format} format`;
    let status: CheckStatus = "ok";
    if (dockerOk) {
      try {
        const found = await discover(deps.docker, format);
        const fallbacks = found.units.flatMap((u) =>
          u.volumes
            .filter((v) => v.formatReason)
            .map((v) => `${u.name}/${v.volume.name} (${v.formatReason})`),
        );
        if (fallbacks.length > 0) {
          status = "warn";
          detail += `; these fall back to TAR: ${fallbacks.join(", ")}`;
        }
      } catch (error) {
        detail += `; discovery failed: ${errorMessage(error)}`;
      }
    }
    checks.push({ name: "backup format", status, detail });
  }
  checks.push(await toolsCheck());
  return { checks, ok: checks.every((c) => c.status !== "fail") };
}

/**
 * GNU tar (TAR format) and getfattr/setfattr (xattrs and ACLs of direct backups) must be there;
 * GNU find should be.
 */
async function toolsCheck(): Promise<Check> {
  const missing: string[] = [];
  const found: string[] = [];
  for (const [tool, pkg] of [
    ["tar", "tar"],
    ["getfattr", "attr"],
    ["setfattr", "attr"],
  ] as const) {
    const version = await versionLine(tool);
    if (version === undefined) missing.push(`${tool} (package ${pkg})`);
    else found.push(version || tool);
  }
  if (missing.length > 0) return { name: "tools", status: "fail", detail: `missing: ${missing.join(", ")}` };
  // GNU find walks the data (sizes, the metadata record) several times faster than Node's calls.
  const findVersion = await versionLine("find");
  if (!findVersion?.includes("GNU findutils"))
    return {
      name: "tools",
      status: "warn",
      detail: `${found.join("; ")}; find is not GNU find (package findutils): kopi-docka walks the data with its own, slower calls`,
    };
  return { name: "tools", status: "ok", detail: [...found, findVersion].join("; ") };
}

/** The first line of `<tool> --version`; undefined when the tool is missing or fails. */
async function versionLine(tool: string): Promise<string | undefined> {
  const result = await runProcess({ argv: [tool, "--version"], timeoutMs: 10_000 }).catch(() => undefined);
  return result?.exitCode === 0 ? (result.stdout.split("\n")[0]?.trim() ?? "") : undefined;
}
