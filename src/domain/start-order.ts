// Start order of a unit's containers: compose dependencies first, otherwise a stable order.
import {
  COMPOSE_CONTAINER_NUMBER_LABEL,
  COMPOSE_DEPENDS_ON_LABEL,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  type Container,
} from "./model.js";

/**
 * The services a compose container waits for: those named in `com.docker.compose.depends_on`
 * ("db:service_started:false,cache:..."), or, without the label (compose v1), those its project's
 * compose files name (see composeDependsOn).
 */
export function composeDependencies(container: Pick<Container, "labels" | "composeDependsOn">): string[] {
  if (!(COMPOSE_DEPENDS_ON_LABEL in container.labels)) return [...(container.composeDependsOn ?? [])];
  const raw = container.labels[COMPOSE_DEPENDS_ON_LABEL];
  if (!raw) return [];
  return raw
    .split(",")
    .map((entry) => entry.split(":")[0]?.trim() ?? "")
    .filter((name) => name.length > 0);
}

/**
 * The container whose network namespace `container` joins (`network_mode: service:x` in compose,
 * `--network container:x`), among `candidates`: the engine refuses to start it while that one
 * is stopped, and a restart of that one leaves it without network until it starts again too.
 * The engine keeps the reference as given: an id, a short id or a name.
 */
export function networkProvider<T extends Container>(
  container: Pick<Container, "networkMode">,
  candidates: readonly T[],
): T | undefined {
  const mode = container.networkMode ?? "";
  if (!mode.startsWith("container:")) return undefined;
  const ref = mode.slice("container:".length).replace(/^\//, "");
  if (ref === "") return undefined;
  return (
    candidates.find((c) => c.id === ref || c.name === ref) ??
    (ref.length >= 12 ? candidates.find((c) => c.id.startsWith(ref)) : undefined)
  );
}

function stableKey(container: Container): [string, number, string] {
  const service = container.labels[COMPOSE_SERVICE_LABEL] ?? container.name;
  const number = Number.parseInt(container.labels[COMPOSE_CONTAINER_NUMBER_LABEL] ?? "", 10);
  return [service, Number.isFinite(number) ? number : 0, container.name];
}

function compareStable(a: Container, b: Container): number {
  const [sa, na, ca] = stableKey(a);
  const [sb, nb, cb] = stableKey(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (na !== nb) return na - nb;
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/**
 * Orders containers so that every container comes after the services it depends on and after
 * the container whose network it joins (see networkProvider; compose v1 records no
 * `depends_on` label: for its projects the compose files tell it where they were read, else that
 * is the only order known besides the names).
 * Ties (and containers without dependency information) keep a stable order by service,
 * replica number and name. Dependency cycles do not fail: the rest follows in stable order.
 */
export function startOrder<T extends Container>(containers: readonly T[]): T[] {
  const sorted = [...containers].sort(compareStable);
  // A service is known by its project and its name: two projects may each have a "db".
  const serviceKey = (project: string | undefined, service: string) => `${project ?? ""}\0${service}`;
  const serviceOf = (c: Container) => {
    const service = c.labels[COMPOSE_SERVICE_LABEL];
    return service === undefined ? undefined : serviceKey(c.labels[COMPOSE_PROJECT_LABEL], service);
  };
  const services = new Set(sorted.map(serviceOf).filter((s): s is string => s !== undefined));
  const remaining = new Set(sorted);
  const startedServices = new Map<string, number>();
  const countByService = new Map<string, number>();
  for (const c of sorted) {
    const s = serviceOf(c);
    if (s !== undefined) countByService.set(s, (countByService.get(s) ?? 0) + 1);
  }
  const providers = new Map(sorted.map((c) => [c, networkProvider(c, sorted)]));
  const ready = (c: T) => {
    const provider = providers.get(c);
    return (
      (provider === undefined || provider === c || !remaining.has(provider)) &&
      composeDependencies(c)
        .map((dep) => serviceKey(c.labels[COMPOSE_PROJECT_LABEL], dep))
        .every(
          (dep) => !services.has(dep) || (startedServices.get(dep) ?? 0) >= (countByService.get(dep) ?? 0),
        )
    );
  };
  const order: T[] = [];
  while (remaining.size > 0) {
    const next = [...remaining].find(ready) ?? [...remaining][0];
    if (next === undefined) break;
    remaining.delete(next);
    order.push(next);
    const s = serviceOf(next);
    if (s !== undefined) startedServices.set(s, (startedServices.get(s) ?? 0) + 1);
  }
  return order;
}

/** Stop order is the reverse of the start order: dependents stop before what they depend on. */
export function stopOrder<T extends Container>(containers: readonly T[]): T[] {
  return startOrder(containers).reverse();
}

/**
 * Whether what a container waits for is known: compose v2 writes the depends_on label on every
 * container of a project (empty when it depends on nothing, and with the services of
 * `network_mode: service:x` and `volumes_from` in it); compose v1 writes none, so it is known
 * only where the project's compose files were read (composeDependsOn). A container outside
 * compose waits for nothing but the network it may join.
 */
function dependenciesKnown(container: Pick<Container, "labels" | "composeDependsOn">): boolean {
  return (
    container.labels[COMPOSE_PROJECT_LABEL] === undefined ||
    COMPOSE_DEPENDS_ON_LABEL in container.labels ||
    container.composeDependsOn !== undefined
  );
}

/** What a container's labels (and compose files) say about what it waits for, read once. */
export interface DependencyFacts<T extends Container = Container> {
  container: T;
  project: string | undefined;
  service: string | undefined;
  /** The compose services it depends on (see composeDependencies). */
  dependencies: string[];
  /** Whether those are known (see dependenciesKnown). */
  known: boolean;
}

export function dependencyFacts<T extends Container>(container: T): DependencyFacts<T> {
  return {
    container,
    project: container.labels[COMPOSE_PROJECT_LABEL],
    service: container.labels[COMPOSE_SERVICE_LABEL],
    dependencies: composeDependencies(container),
    known: dependenciesKnown(container),
  };
}

/**
 * Whether `x` waits for `y`: it joins `y`'s network namespace (see networkProvider), or its
 * compose service depends on `y`'s in the same project.
 */
export function dependsOn(x: DependencyFacts, y: DependencyFacts): boolean {
  return (
    networkProvider(x.container, [y.container]) === y.container ||
    (x.project !== undefined &&
      x.project === y.project &&
      y.service !== undefined &&
      x.dependencies.includes(y.service))
  );
}

/**
 * For each container of an ordered list (a start order, or a stop order), the indexes of the
 * earlier ones it must wait for: those it is related to (one depends on the other, either way:
 * see dependsOn; or both belong to one compose v1 project whose compose files could not be read,
 * so their dependencies are unknown). Each run as soon as what it waits for has ended, the list
 * keeps every order it had between related containers and nothing else waits: as compose runs a
 * project's dependency graph.
 */
export function waitsFor(order: readonly Container[]): number[][] {
  const facts = order.map(dependencyFacts);
  const related = (a: DependencyFacts, b: DependencyFacts) =>
    (a.project !== undefined && a.project === b.project && (!a.known || !b.known)) ||
    dependsOn(a, b) ||
    dependsOn(b, a);
  return facts.map((entry, index) =>
    facts
      .slice(0, index)
      .map((earlier, i) => (related(earlier, entry) ? i : -1))
      .filter((i) => i >= 0),
  );
}

/**
 * The levels of an ordered list's dependency graph (see waitsFor), for display: a container is in
 * the wave after the last of those it waits for, or in the first; within a wave, the list's order.
 * Every container of a wave can run side by side with the others of that wave.
 */
export function waves<T extends Container>(order: readonly T[]): T[][] {
  const levels: number[] = [];
  for (const earlier of waitsFor(order))
    levels.push(earlier.reduce((level, i) => Math.max(level, (levels[i] ?? 0) + 1), 0));
  const result: T[][] = [];
  for (const [index, container] of order.entries()) {
    const level = levels[index] ?? 0;
    const wave = result[level] ?? [];
    wave.push(container);
    result[level] = wave;
  }
  return result;
}
