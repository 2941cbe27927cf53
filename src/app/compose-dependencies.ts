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

/** The parsed documents of a project's compose files, in order; undefined when one cannot be read or parsed. */
async function readComposeFiles(files: readonly string[]): Promise<unknown[] | undefined> {
  if (files.length === 0) return undefined;
  try {
    const texts = await Promise.all(files.map((file) => fs.readFile(file, "utf8")));
    // Loaded only here: most hosts run compose v2, whose labels say it all.
    const { parse } = await import("yaml");
    // YAML 1.1 merge keys (`<<: *defaults`), which compose files use and compose reads.
    return texts.map((text) => parse(text, { merge: true }) as unknown);
  } catch {
    return undefined;
  }
}

/**
 * The containers, those of compose projects that carry no `com.docker.compose.depends_on` label
 * (compose v1) with `composeDependsOn` set from the project's compose files (one read per
 * project, the files named by its containers' labels). A project whose files cannot be read or
 * parsed, or do not define a container's service, is left as it was: its order stays unknown.
 * Never rejects.
 */
export async function withComposeFileDependencies(containers: readonly Container[]): Promise<Container[]> {
  const projects = new Map<string, Container>();
  for (const c of containers) {
    const project = c.labels[COMPOSE_PROJECT_LABEL];
    if (project === undefined || COMPOSE_DEPENDS_ON_LABEL in c.labels || projects.has(project)) continue;
    projects.set(project, c);
  }
  if (projects.size === 0) return [...containers];
  const dependencies = new Map<string, Map<string, string[]>>();
  await Promise.all(
    [...projects].map(async ([project, first]) => {
      const docs = await readComposeFiles(composeFilesOf(first));
      if (docs) dependencies.set(project, composeFileDependencies(docs));
    }),
  );
  return containers.map((c) => {
    if (COMPOSE_DEPENDS_ON_LABEL in c.labels) return c;
    const project = c.labels[COMPOSE_PROJECT_LABEL];
    const service = c.labels[COMPOSE_SERVICE_LABEL];
    const names =
      project === undefined || service === undefined ? undefined : dependencies.get(project)?.get(service);
    return names === undefined ? c : { ...c, composeDependsOn: names };
  });
}
