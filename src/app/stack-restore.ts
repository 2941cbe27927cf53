// Restoring what a unit needs besides its data, from its recipe and networks snapshots: the
// custom networks (existing ones are kept), and the compose and project files written into a
// stack directory (existing files are kept unless asked).
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { errorMessage } from "../domain/errors.js";
import { RECIPE_INFO_FILE } from "../domain/recipe.js";
import type { RestorePoint } from "../domain/restore-points.js";
import type { Context } from "./context.js";

export interface StackPlan {
  /** Where the recipe was staged locally (removed by `finish`). */
  recipeDir: string | undefined;
  /** The project's working directory on the host that made the backup. */
  workingDir: string | undefined;
  /** Where the compose and project files go (compose units only). */
  stackDir: string | undefined;
  composeFiles: string[];
  projectFiles: string[];
  networks: unknown[];
}

export interface StackReport {
  stackDir?: string;
  filesWritten: string[];
  filesKept: string[];
  networksCreated: string[];
  networksKept: string[];
}

const recipeInfoSchema = z.object({ working_dir: z.string().nullish() }).passthrough();
const networkDocSchema = z
  .object({
    Name: z.string(),
    Driver: z.string().optional(),
    IPAM: z
      .object({
        Driver: z.string().optional(),
        Config: z
          .array(
            z
              .object({
                Subnet: z.string().optional(),
                Gateway: z.string().optional(),
                IPRange: z.string().optional(),
              })
              .passthrough(),
          )
          .nullish(),
        Options: z.record(z.string()).nullish(),
      })
      .passthrough()
      .optional(),
    Options: z.record(z.string()).nullish(),
    Labels: z.record(z.string()).nullish(),
    Internal: z.boolean().optional(),
    Attachable: z.boolean().optional(),
    EnableIPv6: z.boolean().optional(),
  })
  .passthrough();

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** Reads the restore point's recipe and networks (nothing is changed on the host). */
export async function planStack(
  ctx: Pick<Context, "kopia" | "settings" | "signal">,
  point: RestorePoint,
  stackDirOption: string | undefined,
): Promise<StackPlan> {
  const plan: StackPlan = {
    recipeDir: undefined,
    workingDir: undefined,
    stackDir: undefined,
    composeFiles: [],
    projectFiles: [],
    networks: [],
  };
  // The recipe and the networks are read side by side.
  await Promise.all([readRecipe(ctx, point, stackDirOption, plan), readNetworks(ctx, point, plan)]);
  return plan;
}

async function readRecipe(
  ctx: Pick<Context, "kopia" | "settings" | "signal">,
  point: RestorePoint,
  stackDirOption: string | undefined,
  plan: StackPlan,
): Promise<void> {
  const recipe = point.items.find((i) => i.kind === "recipe");
  if (recipe) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-recipe-"));
    plan.recipeDir = path.join(dir, "recipe");
    await ctx.kopia.restore(recipe.snapshotId, plan.recipeDir, ctx.signal);
    const order = await readJson(path.join(plan.recipeDir, "compose_order.json"));
    const names = Array.isArray(order) ? order.filter((n): n is string => typeof n === "string") : [];
    const fallback = (await fs.stat(path.join(plan.recipeDir, "docker-compose.yml")).catch(() => undefined))
      ? ["docker-compose.yml"]
      : [];
    plan.composeFiles = (names.length > 0 ? names : fallback).map((n) => path.basename(n));
    plan.projectFiles = (
      await fs.readdir(path.join(plan.recipeDir, "project-files")).catch(() => [] as string[])
    ).sort();
    const info = recipeInfoSchema.safeParse(await readJson(path.join(plan.recipeDir, RECIPE_INFO_FILE)));
    plan.workingDir = info.success ? (info.data.working_dir ?? undefined) : undefined;
    if (plan.composeFiles.length > 0)
      plan.stackDir = path.resolve(
        stackDirOption ?? path.join(ctx.settings.config.restore.stacks_directory, point.unit),
      );
  }
}

async function readNetworks(
  ctx: Pick<Context, "kopia" | "signal">,
  point: RestorePoint,
  plan: StackPlan,
): Promise<void> {
  const networks = point.items.find((i) => i.kind === "networks");
  if (!networks) return;
  const root = networks.record.rootObject;
  let text: string;
  try {
    text = await ctx.kopia.showText(`${root}/networks.json`, ctx.signal);
  } catch (error) {
    // A networks snapshot without the file holds no networks; any other failure stands.
    if (ctx.signal.aborted) throw error;
    const entries = await ctx.kopia.listDirectory(root, ctx.signal);
    if (entries.some((e) => e.name === "networks.json")) throw error;
    return;
  }
  const parsed: unknown = JSON.parse(text);
  plan.networks = Array.isArray(parsed) ? parsed : [];
}

/** Creates the missing networks and writes the stack files. */
export async function applyStack(
  ctx: Pick<Context, "docker" | "log">,
  plan: StackPlan,
  overwrite: boolean,
  replaceNetworks = false,
): Promise<StackReport> {
  const report: StackReport = { filesWritten: [], filesKept: [], networksCreated: [], networksKept: [] };
  for (const raw of plan.networks) {
    const doc = networkDocSchema.safeParse(raw);
    if (!doc.success) continue;
    const existing = (await ctx.docker.inspectNetworkDocument(doc.data.Name)) as
      | { Containers?: Record<string, unknown> }
      | undefined;
    if (existing) {
      const inUse = Object.keys(existing.Containers ?? {}).length > 0;
      if (!replaceNetworks || inUse) {
        if (replaceNetworks) ctx.log.warn(`network ${doc.data.Name} is in use by containers: kept as it is`);
        report.networksKept.push(doc.data.Name);
        continue;
      }
      ctx.log.info(`replacing network ${doc.data.Name} with the saved one`);
      await ctx.docker.removeNetwork(doc.data.Name);
    }
    ctx.log.info(`creating network ${doc.data.Name}`);
    await ctx.docker.createNetworkFrom(doc.data);
    report.networksCreated.push(doc.data.Name);
  }
  if (plan.recipeDir && plan.stackDir) {
    report.stackDir = plan.stackDir;
    await fs.mkdir(plan.stackDir, { recursive: true, mode: 0o755 });
    const copies = [
      ...plan.composeFiles.map(
        (n) => [path.join(plan.recipeDir as string, n), path.join(plan.stackDir as string, n)] as const,
      ),
      ...plan.projectFiles.map(
        (n) =>
          [
            path.join(plan.recipeDir as string, "project-files", n),
            path.join(plan.stackDir as string, n),
          ] as const,
      ),
    ];
    for (const [from, to] of copies) {
      if (!overwrite && (await fs.lstat(to).catch(() => undefined))) {
        report.filesKept.push(to);
        continue;
      }
      await fs.copyFile(from, to);
      report.filesWritten.push(to);
    }
  }
  return report;
}

export async function discardStackPlan(plan: StackPlan): Promise<void> {
  if (plan.recipeDir)
    await fs
      .rm(path.dirname(plan.recipeDir), { recursive: true, force: true })
      .catch((e: unknown) => errorMessage(e));
}
