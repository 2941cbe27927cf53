import { describe, expect, it } from "vitest";
import {
  COMPOSE_CONTAINER_NUMBER_LABEL,
  COMPOSE_DEPENDS_ON_LABEL,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  type Container,
} from "./model.js";
import {
  composeDependencies,
  networkProvider,
  startOrder,
  stopOrder,
  waitsFor,
  waves,
} from "./start-order.js";

interface Spec {
  service?: string;
  number?: number;
  dependsOn?: string;
  project?: string;
  state?: Container["state"];
  networkMode?: string;
}

function container(name: string, spec: Spec = {}): Container {
  const labels: Record<string, string> = {};
  if (spec.project !== undefined) labels[COMPOSE_PROJECT_LABEL] = spec.project;
  if (spec.service !== undefined) labels[COMPOSE_SERVICE_LABEL] = spec.service;
  if (spec.number !== undefined) labels[COMPOSE_CONTAINER_NUMBER_LABEL] = String(spec.number);
  if (spec.dependsOn !== undefined) labels[COMPOSE_DEPENDS_ON_LABEL] = spec.dependsOn;
  return {
    id: `id-${name}`,
    name,
    image: "alpine:3",
    state: spec.state ?? "running",
    labels,
    mounts: [],
    ...(spec.networkMode !== undefined ? { networkMode: spec.networkMode } : {}),
  };
}

/** A compose service replica named like compose does: <project>-<service>-<n>. */
function svc(service: string, number = 1, dependsOn?: string): Container {
  return container(`app-${service}-${number}`, {
    project: "app",
    service,
    number,
    ...(dependsOn !== undefined ? { dependsOn } : {}),
  });
}

const names = (list: readonly Container[]) => list.map((c) => c.name);

describe("composeDependencies", () => {
  it("returns the service names of the depends_on label, in label order", () => {
    const c = container("x", { dependsOn: "db:service_started:false,cache:service_healthy:true" });
    expect(composeDependencies(c)).toEqual(["db", "cache"]);
  });

  it("accepts entries without condition and trims whitespace", () => {
    expect(composeDependencies(container("x", { dependsOn: " db , cache:service_started" }))).toEqual([
      "db",
      "cache",
    ]);
  });

  it("drops empty entries", () => {
    expect(composeDependencies(container("x", { dependsOn: ",db:service_started:true,,:x:y," }))).toEqual([
      "db",
    ]);
  });

  it("returns [] without the label or with an empty label", () => {
    expect(composeDependencies(container("x"))).toEqual([]);
    expect(composeDependencies(container("x", { dependsOn: "" }))).toEqual([]);
  });
});

describe("startOrder", () => {
  it("returns [] for no containers", () => {
    expect(startOrder([])).toEqual([]);
  });

  it("orders containers without dependency information by service, replica number and name", () => {
    const input = [container("zeta"), svc("web", 2), container("alpha"), svc("web", 1), svc("api", 1)];
    // service key falls back to the container name for standalone containers
    expect(names(startOrder(input))).toEqual(["alpha", "app-api-1", "app-web-1", "app-web-2", "zeta"]);
  });

  it("sorts replica numbers numerically, not as strings", () => {
    const input = [svc("web", 10), svc("web", 2), svc("web", 1)];
    expect(names(startOrder(input))).toEqual(["app-web-1", "app-web-2", "app-web-10"]);
  });

  it("breaks ties of service and number by container name", () => {
    const a = container("b-name", { service: "same", number: 1 });
    const b = container("a-name", { service: "same", number: 1 });
    expect(names(startOrder([a, b]))).toEqual(["a-name", "b-name"]);
  });

  it("treats a missing or unparsable replica number as 0", () => {
    const one = container("one", { service: "s", number: 1 });
    const none = container("zzz", { service: "s" });
    const bad = {
      ...container("yyy", { service: "s" }),
      labels: { [COMPOSE_SERVICE_LABEL]: "s", [COMPOSE_CONTAINER_NUMBER_LABEL]: "x" },
    };
    expect(names(startOrder([one, none, bad]))).toEqual(["yyy", "zzz", "one"]);
  });

  it("starts dependencies before their dependents even when they sort later", () => {
    const web = svc("app", 1, "zdb:service_started:false");
    const db = svc("zdb", 1);
    expect(names(startOrder([web, db]))).toEqual(["app-zdb-1", "app-app-1"]);
  });

  it("follows a dependency chain", () => {
    const a = svc("a", 1, "b:service_started:false");
    const b = svc("b", 1, "c:service_healthy:true");
    const c = svc("c", 1);
    expect(names(startOrder([a, b, c]))).toEqual(["app-c-1", "app-b-1", "app-a-1"]);
  });

  it("waits for every replica of a dependency", () => {
    const api = svc("api", 1, "worker:service_started:false");
    const w1 = svc("worker", 1);
    const w2 = svc("worker", 2);
    expect(names(startOrder([api, w2, w1]))).toEqual(["app-worker-1", "app-worker-2", "app-api-1"]);
  });

  it("starts all replicas of a dependent after the dependency, in replica order", () => {
    const input = [
      svc("web", 2, "db:service_started:false"),
      svc("web", 1, "db:service_started:false"),
      svc("db", 1),
    ];
    expect(names(startOrder(input))).toEqual(["app-db-1", "app-web-1", "app-web-2"]);
  });

  it("ignores dependencies on services that are not in the set", () => {
    const web = svc("web", 1, "missing:service_started:false");
    const api = svc("api", 1);
    expect(names(startOrder([web, api]))).toEqual(["app-api-1", "app-web-1"]);
  });

  it("keeps independent services in stable order between dependency-ordered ones", () => {
    const input = [
      svc("frontend", 1, "backend:service_started:false"),
      svc("backend", 1, "db:service_healthy:true"),
      svc("db", 1),
      svc("cron", 1),
    ];
    expect(names(startOrder(input))).toEqual(["app-cron-1", "app-db-1", "app-backend-1", "app-frontend-1"]);
  });

  it("waits only for the service of its own project: another project's service of the same name is not waited for", () => {
    const project = (name: string, service: string, dependsOn?: string) =>
      container(`${name}-${service}-1`, { project: name, service, ...(dependsOn ? { dependsOn } : {}) });
    const blogDb = project("blog", "db");
    const blogWeb = project("blog", "web", "db:service_started:false");
    // The other project's db waits for a service that sorts last.
    const appDb = project("app", "db", "zeta:service_started:false");
    const appZeta = project("app", "zeta");
    expect(names(startOrder([appZeta, blogWeb, appDb, blogDb]))).toEqual([
      "blog-db-1",
      "blog-web-1",
      "app-zeta-1",
      "app-db-1",
    ]);
  });

  it("does not hang on a dependency cycle and still returns every container once", () => {
    const a = svc("a", 1, "b:service_started:false");
    const b = svc("b", 1, "a:service_started:false");
    const c = svc("c", 1, "a:service_started:false");
    const order = startOrder([c, b, a]);
    // nothing is ready: the first in stable order goes first, then the rest as dependencies allow
    expect(names(order)).toEqual(["app-a-1", "app-b-1", "app-c-1"]);
  });

  it("does not hang on a self dependency: the blocked container comes after the ready ones", () => {
    const a = svc("a", 1, "a:service_started:false");
    const b = svc("b", 1);
    expect(names(startOrder([a, b]))).toEqual(["app-b-1", "app-a-1"]);
  });

  it("does not modify its input array", () => {
    const input = [svc("web", 1, "db:service_started:false"), svc("db", 1)];
    const copy = [...input];
    startOrder(input);
    expect(input).toEqual(copy);
  });

  it("returns the same objects it was given", () => {
    const db = svc("db", 1);
    const web = svc("web", 1, "db:service_started:false");
    const order = startOrder([web, db]);
    expect(order[0]).toBe(db);
    expect(order[1]).toBe(web);
  });
});

describe("networkProvider", () => {
  const vpn = { ...container("vpn"), id: "0123456789abcdef0123" };
  const others = [container("db"), vpn];

  it("finds the container named by `container:<ref>`: by id, short id or name", () => {
    expect(networkProvider({ networkMode: "container:0123456789abcdef0123" }, others)).toBe(vpn);
    expect(networkProvider({ networkMode: "container:0123456789ab" }, others)).toBe(vpn);
    expect(networkProvider({ networkMode: "container:vpn" }, others)).toBe(vpn);
  });

  it("finds nothing for other modes, too short an id, or a container not among the candidates", () => {
    for (const networkMode of [
      "bridge",
      "host",
      "default",
      "none",
      "shop_default",
      "container:",
      "container:0123",
    ])
      expect(networkProvider({ networkMode }, others)).toBeUndefined();
    expect(networkProvider({}, others)).toBeUndefined();
    expect(networkProvider({ networkMode: "container:elsewhere" }, others)).toBeUndefined();
  });
});

describe("startOrder by network namespace", () => {
  it("starts the container whose network another joins first, though it sorts later (compose v1: no depends_on label)", () => {
    const vpn = container("stack_vpn_1", { project: "stack", service: "vpn" });
    const client = container("stack_client_1", {
      project: "stack",
      service: "client",
      networkMode: `container:${vpn.id}`,
    });
    const web = container("stack_web_1", { project: "stack", service: "web" });
    expect(names(startOrder([web, client, vpn]))).toEqual(["stack_vpn_1", "stack_client_1", "stack_web_1"]);
    expect(names(stopOrder([web, client, vpn]))).toEqual(["stack_web_1", "stack_client_1", "stack_vpn_1"]);
  });

  it("follows a chain by names and does not hang on a container naming itself", () => {
    const a = container("a", { networkMode: "container:b" });
    const b = container("b", { networkMode: "container:c" });
    const c = container("c");
    const self = container("self", { networkMode: "container:self" });
    expect(names(startOrder([a, b, self, c]))).toEqual(["c", "b", "a", "self"]);
  });
});

describe("stopOrder", () => {
  it("is the reverse of the start order: dependents stop first", () => {
    const input = [
      svc("web", 1, "db:service_started:false"),
      svc("web", 2, "db:service_started:false"),
      svc("db", 1),
      svc("cache", 1),
    ];
    expect(names(startOrder(input))).toEqual(["app-cache-1", "app-db-1", "app-web-1", "app-web-2"]);
    expect(names(stopOrder(input))).toEqual(["app-web-2", "app-web-1", "app-db-1", "app-cache-1"]);
  });

  it("returns [] for no containers", () => {
    expect(stopOrder([])).toEqual([]);
  });
});

describe("waves", () => {
  const waveNames = (ws: Container[][]) => ws.map((w) => w.map((c) => c.name));

  it("starts a compose v2 project's independent services side by side, dependents after", () => {
    // depends_on label present on every v2 container, empty without dependencies.
    const order = startOrder([
      svc("web", 1, "db:service_started:false,cache:service_started:false"),
      svc("db", 1, ""),
      svc("cache", 1, ""),
      svc("worker", 1, "cache:service_healthy:false"),
      svc("web", 2, "db:service_started:false,cache:service_started:false"),
    ]);
    expect(waveNames(waves(order))).toEqual([
      ["app-cache-1", "app-db-1"],
      ["app-web-1", "app-web-2", "app-worker-1"],
    ]);
  });

  it("stops in the reverse waves: dependents first, side by side", () => {
    const order = stopOrder([
      svc("db", 1, ""),
      svc("web", 1, "db:service_started:false"),
      svc("admin", 1, "db:service_started:false"),
    ]);
    expect(waveNames(waves(order))).toEqual([["app-web-1", "app-admin-1"], ["app-db-1"]]);
  });

  it("puts a container in the wave after the last it waits for, not after every container before it", () => {
    // zeta sorts after web, but waits for nothing: it starts with db, and stops with web.
    const order = startOrder([
      svc("zeta", 1, ""),
      svc("web", 1, "db:service_started:false"),
      svc("db", 1, ""),
    ]);
    expect(names(order)).toEqual(["app-db-1", "app-web-1", "app-zeta-1"]);
    expect(waveNames(waves(order))).toEqual([["app-db-1", "app-zeta-1"], ["app-web-1"]]);
    expect(waveNames(waves([...order].reverse()))).toEqual([["app-zeta-1", "app-web-1"], ["app-db-1"]]);
  });

  it("keeps a chain one by one", () => {
    const order = startOrder([
      svc("c", 1, "b:service_started:false"),
      svc("b", 1, "a:service_started:false"),
      svc("a", 1, ""),
    ]);
    expect(waveNames(waves(order))).toEqual([["app-a-1"], ["app-b-1"], ["app-c-1"]]);
  });

  it("keeps compose v1 containers of one project one by one (their dependencies are unknown)", () => {
    const v1 = (service: string) => container(`old-${service}-1`, { project: "old", service });
    const order = startOrder([v1("web"), v1("db"), container("solo")]);
    expect(waveNames(waves(order))).toEqual([["old-db-1", "solo"], ["old-web-1"]]);
  });

  it("orders a compose v1 project by what its compose files say, where they were read", () => {
    const v1 = (service: string, composeDependsOn?: string[]) => ({
      ...container(`old-${service}-1`, { project: "old", service }),
      ...(composeDependsOn ? { composeDependsOn } : {}),
    });
    // app sorts before db but depends on it; cache depends on nothing.
    const order = startOrder([v1("app", ["db"]), v1("db", []), v1("cache", [])]);
    expect(names(order)).toEqual(["old-cache-1", "old-db-1", "old-app-1"]);
    expect(waveNames(waves(order))).toEqual([["old-cache-1", "old-db-1"], ["old-app-1"]]);
    // A label, where compose wrote one, wins over the files.
    const labelled = { ...svc("web", 1, ""), composeDependsOn: ["db"] };
    expect(composeDependencies(labelled)).toEqual([]);
  });

  it("puts a container after the one whose network namespace it joins, and standalone ones side by side", () => {
    const vpn = container("vpn");
    const client = container("client", { networkMode: "container:id-vpn" });
    const other = container("other");
    expect(waveNames(waves(startOrder([client, other, vpn])))).toEqual([["other", "vpn"], ["client"]]);
  });

  it("does not relate same-named services of different projects", () => {
    const a = container("a-web", { project: "a", service: "web", dependsOn: "db:service_started:false" });
    const b = container("b-db", { project: "b", service: "db", dependsOn: "" });
    expect(waveNames(waves([b, a]))).toEqual([["b-db", "a-web"]]);
  });
});

describe("waitsFor", () => {
  it("names, for each container, the earlier ones it is related to, in either direction", () => {
    const db = svc("db", 1, "");
    const cache = svc("cache", 1, "");
    const web = svc("web", 1, "db:service_started:false,cache:service_started:false");
    const worker = svc("worker", 1, "cache:service_started:false");
    expect(waitsFor([db, cache, web, worker])).toEqual([[], [], [0, 1], [1]]);
    // A stop order: what something depends on waits for it.
    expect(waitsFor([worker, web, cache, db])).toEqual([[], [], [0, 1], [1]]);
  });

  it("chains compose v1 containers of one project, and relates a network namespace across projects", () => {
    const v1 = (service: string) => container(`old-${service}-1`, { project: "old", service });
    const vpn = container("vpn");
    const client = container("client", {
      project: "media",
      service: "client",
      dependsOn: "",
      networkMode: "container:vpn",
    });
    expect(waitsFor([v1("db"), vpn, v1("web"), client])).toEqual([[], [], [0], [1]]);
  });
});
