// Compose v1 projects: what each service waits for, read from the project's compose files.
import { promises as fs } from "node:fs";
import { composeFileDependencies } from "../domain/compose-file.js";
import {
  COMPOSE_DEPENDS_ON_LABEL,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  type Container,
} from "../domain/model.js";
import { composeFilesOf } from "../domain/recipe.js";

/**
 * The parsed documents of a project's compose files, in order, or why they cannot be used (the
 * file and the error's code or YAML line: never the file's content, which may hold secrets).
 */
async function readComposeFiles(
  files: readonly string[],
): Promise<{ docs: unknown[] } | { problem: string }> {
  if (files.length === 0) return { problem: "its containers name no compose file" };
  const texts: string[] = [];
  for (const file of files) {
    try {
      texts.push(await fs.readFile(file, "utf8"));
    } catch (error) {
      return { problem: `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})` };
    }
  }
  // Loaded only here: most hosts run compose v2, whose labels say it all.
  const { parse } = await import("yaml");
  const docs: unknown[] = [];
  for (const [index, text] of texts.entries()) {
    try {
      // YAML 1.1 merge keys (`<<: *defaults`), which compose files use and compose reads.
      docs.push(parse(text, { merge: true }) as unknown);
    } catch (error) {
      const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line;
      return { problem: `${files[index]} is not valid YAML${line === undefined ? "" : ` (line ${line})`}` };
    }
  }
  return { docs };
}

export interface ComposeFileDependencies {
  /** The containers, those of compose v1 projects with `composeDependsOn` where their files tell it. */
  containers: Container[];
  /** For each compose v1 project whose order stays unknown, why (file errors, services not defined). */
  problems: Map<string, string>;
}

/**
 * The containers, those of compose projects that carry no `com.docker.compose.depends_on` label
 * (compose v1) with `composeDependsOn` set from the project's compose files (one read per
 * project, the files named by its containers' labels). A project whose files cannot be read or
 * parsed, or do not define a container's service, is left as it was: its order stays unknown,
 * and `problems` says why. Never rejects.
 */
export async function withComposeFileDependencies(
  containers: readonly Container[],
): Promise<ComposeFileDependencies> {
  const projects = new Map<string, Container>();
  for (const c of containers) {
    const project = c.labels[COMPOSE_PROJECT_LABEL];
    if (project === undefined || COMPOSE_DEPENDS_ON_LABEL in c.labels || projects.has(project)) continue;
    projects.set(project, c);
  }
  const problems = new Map<string, string>();
  if (projects.size === 0) return { containers: [...containers], problems };
  const dependencies = new Map<string, Map<string, string[]>>();
  await Promise.all(
    [...projects].map(async ([project, first]) => {
      const read = await readComposeFiles(composeFilesOf(first)).catch((error: unknown) => ({
        problem: `the YAML parser could not be loaded (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      }));
      if ("problem" in read) problems.set(project, read.problem);
      else dependencies.set(project, composeFileDependencies(read.docs));
    }),
  );
  const enriched = containers.map((c) => {
    const project = c.labels[COMPOSE_PROJECT_LABEL];
    const service = c.labels[COMPOSE_SERVICE_LABEL];
    const known = project === undefined ? undefined : dependencies.get(project);
    if (COMPOSE_DEPENDS_ON_LABEL in c.labels || project === undefined || !known) return c;
    const names = service === undefined ? undefined : known.get(service);
    if (names === undefined) {
      if (!problems.has(project))
        problems.set(project, `its compose files do not define service ${service ?? `of ${c.name}`}`);
      return c;
    }
    return { ...c, composeDependsOn: names };
  });
  return { containers: enriched, problems };
}
