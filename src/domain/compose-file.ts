// What a project's compose files say each service waits for. Compose v2 records it in every
// container's `com.docker.compose.depends_on` label; compose v1 (Debian's docker-compose 1.29)
// records none of it, so for its projects the files are the only source.

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The service definitions of a compose document: under `services` (formats 2 and 3), or top-level (format 1). */
function servicesOf(doc: unknown): Mapping | undefined {
  if (!isMapping(doc)) return undefined;
  if ("services" in doc) return isMapping(doc.services) ? doc.services : undefined;
  // Format 1 has no `version` key and its services at the top level.
  return "version" in doc ? undefined : doc;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

/**
 * The services one definition names in what makes compose start them first: `depends_on` (a
 * list, or a map of service to condition), `links` ("svc" or "svc:alias") and `volumes_from`
 * ("svc" or "svc:ro"; "container:x" names a container, not a service).
 */
function listedDependencies(definition: Mapping): string[] {
  const dependsOn = definition.depends_on;
  const names = [
    ...(isMapping(dependsOn) ? Object.keys(dependsOn) : strings(dependsOn)),
    ...strings(definition.links).map((link) => link.split(":")[0] ?? ""),
    ...strings(definition.volumes_from)
      .filter((from) => !from.startsWith("container:"))
      .map(
        (from) => (from.startsWith("service:") ? from.slice("service:".length) : from).split(":")[0] ?? "",
      ),
  ];
  return names.map((n) => n.trim()).filter((n) => n.length > 0);
}

/**
 * For each service of a project, the services it waits for, from its compose documents in the
 * order compose reads them: a later file adds to what a service's `depends_on`, `links` and
 * `volumes_from` name, and its `network_mode: service:x` replaces an earlier one, as compose
 * merges them. Services that name nothing map to []. Documents that define no services add none.
 */
export function composeFileDependencies(docs: readonly unknown[]): Map<string, string[]> {
  const listed = new Map<string, Set<string>>();
  const networkService = new Map<string, string | undefined>();
  for (const doc of docs) {
    const services = servicesOf(doc);
    if (!services) continue;
    for (const [service, definition] of Object.entries(services)) {
      const names = listed.get(service) ?? new Set<string>();
      listed.set(service, names);
      if (!isMapping(definition)) continue;
      for (const name of listedDependencies(definition)) names.add(name);
      const mode = definition.network_mode;
      if (typeof mode === "string")
        networkService.set(service, mode.startsWith("service:") ? mode.slice("service:".length) : undefined);
    }
  }
  const result = new Map<string, string[]>();
  for (const [service, names] of listed) {
    const viaNetwork = networkService.get(service);
    const all = viaNetwork ? [...names, viaNetwork] : [...names];
    result.set(
      service,
      [...new Set(all)].filter((name) => name !== service),
    );
  }
  return result;
}
