// Bringing a restored unit up (`restore --start`): a compose unit through docker compose from its
// stack directory; a standalone container recreated through the Engine API from its inspect
// document in the recipe, with redacted env values supplied by an env file.
import { promises as fs } from "node:fs";
import path from "node:path";
import { runProcess } from "../adapters/process/runner.js";
import { ExternalError, UsageError } from "../domain/errors.js";
import { REDACTED, relocateBind } from "../domain/recipe.js";
import { networkProvider, startOrder } from "../domain/start-order.js";
import type { Context } from "./context.js";
import type { StackPlan } from "./stack-restore.js";

export interface StartReport {
  how: "compose" | "engine" | "none";
  started: string[];
  kept: string[];
}

interface InspectDoc {
  Id?: string;
  Name?: string;
  Config?: Record<string, unknown> & { Env?: string[] | null; Image?: string };
  HostConfig?: Record<string, unknown>;
  NetworkSettings?: { Networks?: Record<string, { IPAMConfig?: unknown; Aliases?: string[] | null }> | null };
}

/** Parses KEY=VALUE lines (comments and blank lines skipped, optional quotes removed). */
export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) continue;
    let value = trimmed.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
      value = value.slice(1, -1);
    values.set(
      trimmed
        .slice(0, eq)
        .replace(/^export\s+/, "")
        .trim(),
      value,
    );
  }
  return values;
}

/** The standalone containers' inspect documents of a recipe. */
/** The inspect documents of a recipe: standalone ones, or all (compose ones too) when asked. */
export async function recipeContainers(plan: StackPlan, includeCompose = false): Promise<InspectDoc[]> {
  if (!plan.recipeDir || (plan.composeFiles.length > 0 && !includeCompose)) return [];
  const docs: InspectDoc[] = [];
  for (const name of (await fs.readdir(plan.recipeDir)).filter((n) => n.endsWith("_inspect.json")).sort()) {
    const parsed: unknown = JSON.parse(await fs.readFile(path.join(plan.recipeDir, name), "utf8"));
    const doc = Array.isArray(parsed) ? parsed[0] : parsed;
    if (doc && typeof doc === "object") docs.push(doc as InspectDoc);
  }
  return docs;
}

/** Env names whose values were redacted and are not in the env file. */
export function missingSecrets(docs: readonly InspectDoc[], supplied: ReadonlyMap<string, string>): string[] {
  const names = new Set<string>();
  for (const doc of docs)
    for (const entry of doc.Config?.Env ?? []) {
      const eq = entry.indexOf("=");
      if (eq > 0 && entry.slice(eq + 1) === REDACTED && !supplied.has(entry.slice(0, eq)))
        names.add(entry.slice(0, eq));
    }
  return [...names].sort();
}

async function composeCommand(): Promise<string[] | undefined> {
  for (const candidate of [["docker-compose"], ["docker", "compose"]]) {
    const probe = await runProcess({ argv: [...candidate, "version"], timeoutMs: 15_000 }).catch(
      () => undefined,
    );
    if (probe?.exitCode === 0) return candidate;
  }
  return undefined;
}

/**
 * How --start brings the unit up: docker compose for a compose unit when it is installed,
 * otherwise (and for standalone containers) the containers recreated through the Engine API.
 */
export async function chooseStart(plan: StackPlan): Promise<{ compose?: string[]; docs: InspectDoc[] }> {
  if (plan.stackDir && plan.composeFiles.length > 0) {
    const compose = await composeCommand();
    if (compose) return { compose, docs: [] };
    return { docs: await recipeContainers(plan, true) };
  }
  return { docs: await recipeContainers(plan) };
}

/** Bind sources in a saved HostConfig, moved along with the project (see relocateBind). */
function relocateHostConfig(hostConfig: Record<string, unknown>, plan: StackPlan): Record<string, unknown> {
  const binds = Array.isArray(hostConfig.Binds)
    ? (hostConfig.Binds as unknown[]).map((b) => {
        if (typeof b !== "string" || !b.startsWith("/")) return b;
        const [source, ...rest] = b.split(":");
        return [relocateBind(source ?? "", plan.workingDir, plan.stackDir), ...rest].join(":");
      })
    : hostConfig.Binds;
  const mounts = Array.isArray(hostConfig.Mounts)
    ? (hostConfig.Mounts as Record<string, unknown>[]).map((m) =>
        m.Type === "bind" && typeof m.Source === "string"
          ? { ...m, Source: relocateBind(m.Source, plan.workingDir, plan.stackDir) }
          : m,
      )
    : hostConfig.Mounts;
  return { ...hostConfig, Binds: binds, Mounts: mounts };
}

export async function startUnit(
  ctx: Pick<Context, "docker" | "log">,
  unit: string,
  plan: StackPlan,
  envValues: ReadonlyMap<string, string>,
): Promise<StartReport> {
  const how = await chooseStart(plan);
  if (how.compose && plan.stackDir) {
    const compose = how.compose;
    const argv = [...compose, "-p", unit, ...plan.composeFiles.flatMap((f) => ["-f", f]), "up", "-d"];
    ctx.log.info(`starting ${unit} with ${compose.join(" ")} in ${plan.stackDir}`);
    const result = await runProcess({ argv, cwd: plan.stackDir, timeoutMs: 600_000 });
    if (result.exitCode !== 0)
      throw new ExternalError(
        `${compose.join(" ")} up failed (exit ${result.exitCode}): ${result.stderrTail.trim().split("\n").slice(-2).join(" | ")}`,
      );
    return { how: "compose", started: [unit], kept: [] };
  }
  // In start order: compose dependencies from the labels, a container after the one whose
  // network it joins, else a stable order.
  const saved = how.docs.map((doc) => ({
    id: doc.Id ?? doc.Name ?? "",
    name: (doc.Name ?? "").replace(/^\//, ""),
    image: String(doc.Config?.Image ?? ""),
    state: "exited" as const,
    labels: (doc.Config?.Labels as Record<string, string> | undefined) ?? {},
    mounts: [],
    ...(typeof doc.HostConfig?.NetworkMode === "string" ? { networkMode: doc.HostConfig.NetworkMode } : {}),
    doc,
  }));
  const report: StartReport = { how: saved.length > 0 ? "engine" : "none", started: [], kept: [] };
  const existing = new Set((await ctx.docker.listContainers()).map((c) => c.name));
  for (const container of startOrder(saved)) {
    const { doc, name } = container;
    // The old host's id of the container whose network it joins means nothing here: its name does.
    const provider = networkProvider(container, saved);
    if (!name || existing.has(name)) {
      report.kept.push(name);
      continue;
    }
    const env = (doc.Config?.Env ?? []).map((entry) => {
      const eq = entry.indexOf("=");
      const key = eq > 0 ? entry.slice(0, eq) : entry;
      return eq > 0 && entry.slice(eq + 1) === REDACTED ? `${key}=${envValues.get(key) ?? ""}` : entry;
    });
    const networks = Object.entries(doc.NetworkSettings?.Networks ?? {});
    const [first, ...others] = networks;
    ctx.log.info(`recreating container ${name} from its inspect document`);
    const id = await ctx.docker.createContainerFrom({
      name,
      config: { ...(doc.Config ?? {}), Env: env, Hostname: undefined, Domainname: undefined },
      hostConfig: {
        ...relocateHostConfig(doc.HostConfig ?? {}, plan),
        ...(provider ? { NetworkMode: `container:${provider.name}` } : {}),
      },
      network: first
        ? { name: first[0], ipam: first[1].IPAMConfig, aliases: first[1].Aliases ?? undefined }
        : undefined,
    });
    for (const [net, settings] of others)
      await ctx.docker.connectNetwork(net, id, {
        ipam: settings.IPAMConfig,
        aliases: settings.Aliases ?? undefined,
      });
    await ctx.docker.start(id);
    report.started.push(name);
  }
  return report;
}

export async function readEnvFile(file: string | undefined): Promise<Map<string, string>> {
  if (!file) return new Map();
  try {
    return parseEnvFile(await fs.readFile(file, "utf8"));
  } catch (error) {
    throw new UsageError(
      `cannot read the env file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}
