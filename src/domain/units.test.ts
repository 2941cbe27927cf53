import { describe, expect, it } from "vitest";
import {
  type BackupUnit,
  COMPOSE_DEPENDS_ON_LABEL,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  type Container,
  type ContainerMount,
  type Volume,
} from "./model.js";
import { dependents, groupUnits, isBackupCandidate, networkJoiners, planStops, unitNameOf } from "./units.js";

interface Spec {
  project?: string;
  service?: string;
  dependsOn?: string;
  state?: Container["state"];
  mounts?: ContainerMount[];
  networkMode?: string;
}

function container(name: string, spec: Spec = {}): Container {
  const labels: Record<string, string> = {};
  if (spec.project !== undefined) labels[COMPOSE_PROJECT_LABEL] = spec.project;
  if (spec.service !== undefined) labels[COMPOSE_SERVICE_LABEL] = spec.service;
  if (spec.dependsOn !== undefined) labels[COMPOSE_DEPENDS_ON_LABEL] = spec.dependsOn;
  return {
    id: `id-${name}`,
    name,
    image: "alpine:3",
    state: spec.state ?? "running",
    labels,
    mounts: spec.mounts ?? [],
    ...(spec.networkMode !== undefined ? { networkMode: spec.networkMode } : {}),
  };
}

function volume(name: string): Volume {
  return {
    name,
    driver: "local",
    mountpoint: `/var/lib/docker/volumes/${name}/_data`,
    labels: {},
    options: {},
  };
}

const vol = (name: string, destination: string, readOnly = false): ContainerMount => ({
  kind: "volume",
  name,
  destination,
  readOnly,
});
const bind = (source: string, destination: string, readOnly = false): ContainerMount => ({
  kind: "bind",
  source,
  destination,
  readOnly,
});

const names = (list: readonly Container[]) => list.map((c) => c.name);

// A compose project "shop" (one stopped member), two standalone containers and a stopped standalone one.
const shopDb = container("shop-db-1", {
  project: "shop",
  service: "db",
  state: "exited",
  mounts: [vol("shop_db", "/var/lib/postgresql/data"), bind("/srv/shop/uploads", "/uploads", true)],
});
const shopWeb = container("shop-web-1", {
  project: "shop",
  service: "web",
  dependsOn: "db:service_started:false",
  mounts: [vol("shop_static", "/static"), bind("/srv/shop/uploads", "/app/uploads", false)],
});
const shopWorker = container("shop-worker-1", {
  project: "shop",
  service: "worker",
  mounts: [
    vol("shop_static", "/static", true),
    bind("/etc/localtime", "/etc/localtime", true),
    bind("/var/run/docker.sock", "/var/run/docker.sock"),
    vol("ghost", "/ghost"),
  ],
});
const nginx = container("nginx", { mounts: [bind("/home/u/app", "/usr/share/nginx/html", true)] });
const alpha = container("alpha");
const old = container("old", { state: "exited", mounts: [vol("old_data", "/data")] });
const volumes = [volume("shop_static"), volume("shop_db"), volume("old_data"), volume("unused")];
const all = [shopWorker, nginx, old, shopWeb, alpha, shopDb];

describe("unitNameOf / isBackupCandidate", () => {
  it("names a unit after the compose project, else the container", () => {
    expect(unitNameOf(shopWeb)).toBe("shop");
    expect(unitNameOf(nginx)).toBe("nginx");
  });

  it("takes running containers and every compose member, but no stopped standalone container", () => {
    expect(isBackupCandidate(nginx)).toBe(true);
    expect(isBackupCandidate(shopDb)).toBe(true);
    expect(isBackupCandidate(old)).toBe(false);
    expect(isBackupCandidate(container("r", { state: "restarting" }))).toBe(true);
    expect(isBackupCandidate(container("p", { state: "paused" }))).toBe(false);
    expect(isBackupCandidate(container("c", { state: "created" }))).toBe(false);
  });
});

describe("groupUnits", () => {
  const units = groupUnits(all, volumes, { format: "direct" });
  const unit = (name: string): BackupUnit => {
    const found = units.find((u) => u.name === name);
    if (!found) throw new Error(`no unit ${name}`);
    return found;
  };

  it("makes one unit per compose project and per running standalone container, sorted by name", () => {
    expect(units.map((u) => [u.name, u.kind])).toEqual([
      ["alpha", "standalone"],
      ["nginx", "standalone"],
      ["shop", "compose"],
    ]);
  });

  it("includes stopped compose members, in start order", () => {
    expect(names(unit("shop").containers)).toEqual(["shop-db-1", "shop-web-1", "shop-worker-1"]);
  });

  it("leaves out stopped standalone containers and their volumes", () => {
    expect(units.some((u) => u.containers.some((c) => c.name === "old"))).toBe(false);
    expect(units.flatMap((u) => u.volumes.map((v) => v.volume.name))).not.toContain("old_data");
  });

  it("lists each volume once, sorted, with the containers that use it", () => {
    expect(unit("shop").volumes).toStrictEqual([
      { volume: volume("shop_db"), usedBy: ["shop-db-1"], format: "direct" },
      { volume: volume("shop_static"), usedBy: ["shop-web-1", "shop-worker-1"], format: "direct" },
    ]);
  });

  it("merges bind mounts of one source: first destination, read-only only when every user is", () => {
    expect(unit("shop").binds).toStrictEqual([
      {
        source: "/srv/shop/uploads",
        destination: "/uploads",
        readOnly: false,
        usedBy: ["shop-db-1", "shop-web-1"],
      },
    ]);
    expect(unit("nginx").binds).toStrictEqual([
      { source: "/home/u/app", destination: "/usr/share/nginx/html", readOnly: true, usedBy: ["nginx"] },
    ]);
  });

  it("keeps a bind read-only when all its users mount it read-only", () => {
    const a = container("a", { project: "p", service: "a", mounts: [bind("/srv/x", "/x", true)] });
    const b = container("b", { project: "p", service: "b", mounts: [bind("/srv/x", "/y", true)] });
    const [p] = groupUnits([a, b], [], { format: "direct" });
    expect(p?.binds).toStrictEqual([
      { source: "/srv/x", destination: "/x", readOnly: true, usedBy: ["a", "b"] },
    ]);
  });

  it("records skipped mounts with container and reason, in start order", () => {
    expect(unit("shop").skipped).toStrictEqual([
      {
        source: "/etc/localtime",
        destination: "/etc/localtime",
        container: "shop-worker-1",
        reason: "host system path (/etc) is not backed up",
      },
      {
        source: "/var/run/docker.sock",
        destination: "/var/run/docker.sock",
        container: "shop-worker-1",
        reason: "the Docker socket is not data",
      },
      {
        source: "ghost",
        destination: "/ghost",
        container: "shop-worker-1",
        reason: "volume is not known to the engine",
      },
    ]);
  });

  it("gives a unit without mounts empty lists", () => {
    expect(unit("alpha")).toStrictEqual({
      name: "alpha",
      kind: "standalone",
      containers: [alpha],
      volumes: [],
      binds: [],
      skipped: [],
    });
  });

  it("counts a container once in usedBy when it mounts the same volume or bind twice", () => {
    const c = container("twice", {
      mounts: [vol("data", "/a"), vol("data", "/b"), bind("/srv/x", "/x"), bind("/srv/x", "/y")],
    });
    const [u] = groupUnits([c], [volume("data")], { format: "direct" });
    expect(u?.volumes.map((v) => v.usedBy)).toEqual([["twice"]]);
    expect(u?.binds).toStrictEqual([
      { source: "/srv/x", destination: "/x", readOnly: false, usedBy: ["twice"] },
    ]);
  });

  it("writes a volume as tar with the reason when its host path cannot be read", () => {
    const [u] = groupUnits([shopDb, shopWeb], volumes, {
      format: "direct",
      hostPathProblem: (v) => (v.name === "shop_db" ? "mountpoint is on a remote driver" : undefined),
    });
    expect(u?.volumes).toStrictEqual([
      {
        volume: volume("shop_db"),
        usedBy: ["shop-db-1"],
        format: "tar",
        formatReason: "mountpoint is on a remote driver",
      },
      { volume: volume("shop_static"), usedBy: ["shop-web-1"], format: "direct" },
    ]);
  });

  it("uses the configured format for every readable volume", () => {
    const [u] = groupUnits([shopDb, shopWeb], volumes, { format: "tar", hostPathProblem: () => undefined });
    expect(u?.volumes.map((v) => [v.volume.name, v.format, v.formatReason])).toEqual([
      ["shop_db", "tar", undefined],
      ["shop_static", "tar", undefined],
    ]);
  });

  it("applies a custom Docker data root to bind sources", () => {
    const c = container("c", {
      mounts: [bind("/data/docker/volumes/x/_data", "/x"), bind("/srv/ok", "/ok")],
    });
    const [u] = groupUnits([c], [], { format: "direct", dockerRoot: "/data/docker" });
    expect(u?.binds.map((b) => b.source)).toEqual(["/srv/ok"]);
    expect(u?.skipped).toStrictEqual([
      {
        source: "/data/docker/volumes/x/_data",
        destination: "/x",
        container: "c",
        reason: "host system path (/data/docker) is not backed up",
      },
    ]);
  });

  it("sorts binds by source", () => {
    const c = container("c", { mounts: [bind("/srv/z", "/z"), bind("/srv/a", "/a"), bind("/home/m", "/m")] });
    const [u] = groupUnits([c], [], { format: "direct" });
    expect(u?.binds.map((b) => b.source)).toEqual(["/home/m", "/srv/a", "/srv/z"]);
  });

  it("returns no units when nothing is a candidate", () => {
    expect(groupUnits([old], volumes, { format: "direct" })).toEqual([]);
  });
});

describe("planStops", () => {
  const [shop] = groupUnits([shopDb, shopWeb, shopWorker], volumes, { format: "direct" });
  if (!shop) throw new Error("no shop unit");

  it("stops the unit's running containers in stop order and starts them in start order", () => {
    const plan = planStops(shop, [shopDb, shopWeb, shopWorker]);
    expect(names(plan.stop)).toEqual(["shop-worker-1", "shop-web-1"]);
    expect(names(plan.start)).toEqual(["shop-web-1", "shop-worker-1"]);
  });

  it("stops other running users of the unit's volumes and bind sources first, starts them last", () => {
    const sidecar = container("backup-sidecar", { mounts: [vol("shop_static", "/data", true)] });
    const reporter = container("reporter", { mounts: [bind("/srv/shop/uploads", "/in", true)] });
    const idle = container("idle", { state: "exited", mounts: [vol("shop_db", "/db")] });
    const unrelated = container("unrelated", { mounts: [vol("unused", "/u"), bind("/srv/other", "/o")] });
    const plan = planStops(shop, [reporter, shopDb, idle, shopWeb, unrelated, shopWorker, sidecar]);
    expect(names(plan.stop)).toEqual(["reporter", "backup-sidecar", "shop-worker-1", "shop-web-1"]);
    expect(names(plan.start)).toEqual(["shop-web-1", "shop-worker-1", "backup-sidecar", "reporter"]);
  });

  it("never plans stopped containers, own or other", () => {
    const idle = container("idle", { state: "exited", mounts: [vol("shop_static", "/s")] });
    const plan = planStops(shop, [shopDb, shopWeb, shopWorker, idle]);
    expect([...names(plan.stop), ...names(plan.start)]).not.toContain("shop-db-1");
    expect([...names(plan.stop), ...names(plan.start)]).not.toContain("idle");
  });

  it("counts a restarting container as running", () => {
    const flapping = container("flapping", { state: "restarting", mounts: [vol("shop_db", "/db")] });
    const plan = planStops(shop, [shopWeb, shopWorker, flapping]);
    expect(names(plan.stop)).toEqual(["flapping", "shop-worker-1", "shop-web-1"]);
    expect(names(plan.start)).toEqual(["shop-web-1", "shop-worker-1", "flapping"]);
  });

  it("orders other users by their own compose dependencies", () => {
    const otherDb = container("other-db-1", {
      project: "other",
      service: "db",
      mounts: [vol("shop_db", "/x")],
    });
    const otherApp = container("other-app-1", {
      project: "other",
      service: "app",
      dependsOn: "db:service_started:false",
      mounts: [bind("/srv/shop/uploads", "/u")],
    });
    const plan = planStops(shop, [otherApp, otherDb, shopWeb, shopWorker]);
    expect(names(plan.start)).toEqual(["shop-web-1", "shop-worker-1", "other-db-1", "other-app-1"]);
    expect(names(plan.stop)).toEqual(["other-app-1", "other-db-1", "shop-worker-1", "shop-web-1"]);
  });

  it("stops other running containers that join the network of a stopped one first, starts them last", () => {
    // A torrent client in the network of the shop's web container (`--network container:...`),
    // and one more in the client's: both would run on without network once web restarts.
    const client = container("client", { networkMode: `container:${shopWeb.id}` });
    const nested = container("nested", { networkMode: "container:client" });
    const idle = container("idle-client", { state: "exited", networkMode: `container:${shopWeb.id}` });
    const elsewhere = container("elsewhere", { networkMode: "container:nginx" });
    const plan = planStops(shop, [nested, shopWeb, elsewhere, client, idle, shopWorker, nginx]);
    expect(names(plan.stop)).toEqual(["nested", "client", "shop-worker-1", "shop-web-1"]);
    expect(names(plan.start)).toEqual(["shop-web-1", "shop-worker-1", "client", "nested"]);
  });

  it("does not count the unit's own containers as other users", () => {
    const plan = planStops(shop, [shopWeb, shopWeb, shopWorker]);
    expect(names(plan.stop)).toEqual(["shop-worker-1", "shop-web-1"]);
  });

  it("does not stop containers that only use a skipped mount of the unit", () => {
    const clock = container("clock", {
      mounts: [bind("/etc/localtime", "/etc/localtime", true), vol("ghost", "/g")],
    });
    const plan = planStops(shop, [shopWeb, shopWorker, clock]);
    expect(names(plan.stop)).toEqual(["shop-worker-1", "shop-web-1"]);
  });

  it("is empty for a unit whose containers are all stopped and have no other users", () => {
    const [onlyDb] = groupUnits([shopDb], volumes, { format: "direct" });
    if (!onlyDb) throw new Error("no unit");
    expect(planStops(onlyDb, [shopDb, nginx])).toEqual({ stop: [], start: [] });
  });
});

describe("dependents (what a restore stops besides the data's users)", () => {
  const svc = (project: string, service: string, dependsOn?: string, state?: Container["state"]) =>
    container(`${project}-${service}-1`, {
      project,
      service,
      dependsOn: dependsOn ?? "",
      ...(state ? { state } : {}),
    });

  it("adds the services of the same project that depend on a user, and theirs, and so on", () => {
    const db = svc("shop", "db");
    const api = svc("shop", "api", "db:service_healthy:true");
    const web = svc("shop", "web", "api:service_started:false,cache:service_started:false");
    const cache = svc("shop", "cache");
    const cron = svc("shop", "cron");
    expect(names(dependents([db], [web, cron, cache, api, db]))).toEqual(["shop-api-1", "shop-web-1"]);
  });

  it("does not follow a dependency on a service of the same name in another project", () => {
    const db = svc("shop", "db");
    const blogWeb = svc("blog", "web", "db:service_started:false");
    const standalone = container("tool", { dependsOn: "db:service_started:false" });
    expect(dependents([db], [blogWeb, standalone, db])).toEqual([]);
  });

  it("adds the containers joining a user's network namespace, and the dependents of those", () => {
    const db = svc("shop", "db");
    const vpn = container("vpn", { networkMode: `container:${db.id}` });
    const joiner = container("media-torrent-1", {
      project: "media",
      service: "torrent",
      networkMode: "container:vpn",
    });
    const ui = svc("media", "ui", "torrent:service_started:false");
    expect(names(dependents([db], [ui, joiner, vpn, db]))).toEqual(["vpn", "media-torrent-1", "media-ui-1"]);
  });

  it("keeps networkJoiners to the network namespace only", () => {
    const db = svc("shop", "db");
    const api = svc("shop", "api", "db:service_started:false");
    const sidecar = container("sidecar", { networkMode: "container:shop-db-1" });
    expect(names(networkJoiners([db], [api, sidecar, db]))).toEqual(["sidecar"]);
  });
});
