// Stopping and starting in dependency order, against a fake engine whose calls end only when the test says:
// what is in flight at once is what matters here (the real engine's side: test/waves.test.ts).
import { describe, expect, it } from "vitest";
import type { ContainerStatus } from "../adapters/docker/engine.js";
import {
  COMPOSE_DEPENDS_ON_LABEL,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  type Container,
} from "../domain/model.js";
import { type ContainerControl, startContainers, stopContainers, verifyStillRunning } from "./containers.js";

/** A compose v2 service container of project "app" (its depends_on label is always there). */
function service(name: string, dependsOn = ""): Container {
  return {
    id: `id-${name}`,
    name,
    image: "alpine:3",
    state: "running",
    labels: {
      [COMPOSE_PROJECT_LABEL]: "app",
      [COMPOSE_SERVICE_LABEL]: name,
      [COMPOSE_DEPENDS_ON_LABEL]: dependsOn,
    },
    mounts: [],
  };
}

/** A running container's status as the engine reports it, changed by `given`. */
function statusOf(given: Partial<ContainerStatus> = {}): ContainerStatus {
  return {
    status: "running",
    running: true,
    startedAt: undefined,
    health: undefined,
    exitCode: undefined,
    error: undefined,
    restartCount: 0,
    ...given,
  };
}

/** An engine whose stops and starts stay pending until `finish` (or `fail`) is called for them. */
function pendingEngine() {
  const pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const calls: string[] = [];
  const call = (kind: string, id: string) =>
    new Promise<void>((resolve, reject) => {
      calls.push(`${kind} ${id}`);
      pending.set(`${kind} ${id}`, { resolve, reject });
    });
  const stopped = new Set<string>();
  const status = (id: string): ContainerStatus =>
    stopped.has(id) ? statusOf({ status: "exited", running: false, exitCode: 0 }) : statusOf();
  const engine: ContainerControl = {
    stop: (id) => call("stop", id).then(() => void stopped.add(id)),
    start: (id) => call("start", id).then(() => void stopped.delete(id)),
    waitRunning: async () => undefined,
    containerStatus: async (id) => status(id),
  };
  /** Lets the event loop run until nothing more happens. */
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return {
    engine,
    calls,
    settle,
    finish: (key: string) => pending.get(key)?.resolve(),
    fail: (key: string, message: string) => pending.get(key)?.reject(new Error(message)),
  };
}

const log = { info: () => {}, warn: () => {} };

/**
 * Two calls in flight at once, nothing else; the second one ending (first) lets nothing more go,
 * both ending lets `next` go (which then ends too).
 */
async function nextWaveAfterBoth(
  fake: ReturnType<typeof pendingEngine>,
  both: [string, string],
  next: string,
): Promise<void> {
  await fake.settle();
  expect(fake.calls).toEqual(both);
  fake.finish(both[1]);
  await fake.settle();
  expect(fake.calls).toEqual(both);
  fake.finish(both[0]);
  await fake.settle();
  expect(fake.calls).toEqual([...both, next]);
  fake.finish(next);
}

/**
 * Two calls in flight at once; the first ending lets `next` go while the other is still pending
 * (then all end).
 */
async function nextWhileOtherPending(
  fake: ReturnType<typeof pendingEngine>,
  both: [string, string],
  next: string,
): Promise<void> {
  await fake.settle();
  expect(fake.calls).toEqual(both);
  fake.finish(both[0]);
  await fake.settle();
  expect(fake.calls).toEqual([...both, next]);
  fake.finish(next);
  fake.finish(both[1]);
}

describe("stopContainers", () => {
  it("stops dependents side by side, and what they depend on once they have stopped", async () => {
    const db = service("db");
    const web = service("web", "db:service_started:false");
    const admin = service("admin", "db:service_started:false");
    const fake = pendingEngine();
    const done = stopContainers(fake.engine, [web, admin, db], 10, log);
    await nextWaveAfterBoth(fake, ["stop id-web", "stop id-admin"], "stop id-db");
    const result = await done;
    // In the order given, whatever order the engine finished them in.
    expect(result.stopped.map((c) => c.name)).toEqual(["web", "admin", "db"]);
    expect(result.error).toBeUndefined();
  });

  it("once a stop fails, begins no further stop and lets those under way end", async () => {
    const db = service("db");
    const web = service("web", "db:service_started:false");
    const admin = service("admin", "db:service_started:false");
    const fake = pendingEngine();
    const done = stopContainers(fake.engine, [web, admin, db], 10, log);
    await fake.settle();
    fake.fail("stop id-web", "engine said no");
    fake.finish("stop id-admin");
    const result = await done;
    expect(fake.calls).toEqual(["stop id-web", "stop id-admin"]);
    expect(result.stopped.map((c) => c.name)).toEqual(["admin"]);
    expect(result.error).toBe("could not stop web: engine said no");
  });

  it("stops a container as soon as what depends on it has stopped, not after unrelated ones", async () => {
    const db = service("db");
    const web = service("web", "db:service_started:false");
    const cron = service("cron");
    const fake = pendingEngine();
    const done = stopContainers(fake.engine, [web, cron, db], 10, log);
    // cron is still stopping: db goes once web has stopped all the same.
    await nextWhileOtherPending(fake, ["stop id-web", "stop id-cron"], "stop id-db");
    expect((await done).stopped.map((c) => c.name)).toEqual(["web", "cron", "db"]);
  });
});

describe("startContainers", () => {
  it("starts a container as soon as what it depends on runs, not after unrelated ones", async () => {
    const db = service("db");
    const slow = service("search");
    const web = service("web", "db:service_started:false");
    const fake = pendingEngine();
    const done = startContainers(fake.engine, [db, slow, web], 10, log);
    // search has not started yet (a slow health check, say): web goes once db runs all the same.
    await nextWhileOtherPending(fake, ["start id-db", "start id-search"], "start id-web");
    expect(await done).toEqual([]);
  });

  it("starts independent containers side by side, their dependents once they run", async () => {
    const db = service("db");
    const cache = service("cache");
    const web = service("web", "db:service_started:false,cache:service_started:false");
    const fake = pendingEngine();
    const done = startContainers(fake.engine, [cache, db, web], 10, log);
    await nextWaveAfterBoth(fake, ["start id-cache", "start id-db"], "start id-web");
    expect(await done).toEqual([]);
  });

  it("starts the next wave after a container of this one failed, and reports it", async () => {
    const db = service("db");
    const web = service("web", "db:service_started:false");
    const fake = pendingEngine();
    const done = startContainers(fake.engine, [db, web], 1, log);
    await fake.settle();
    fake.fail("start id-db", "no such image");
    await fake.settle();
    expect(fake.calls).toEqual(["start id-db", "start id-web"]);
    fake.finish("start id-web");
    expect(await done).toEqual([{ container: "db", reason: "no such image" }]);
  });
});

describe("verifyStillRunning", () => {
  /** An engine that answers each container's status as given (undefined: removed). */
  const engineWith = (statuses: Record<string, Partial<ContainerStatus> | undefined>): ContainerControl => ({
    stop: async () => undefined,
    start: async () => undefined,
    waitRunning: async () => undefined,
    containerStatus: async (id) => {
      const given = statuses[id];
      return given ? statusOf(given) : undefined;
    },
  });

  it("reports what exited, was removed, or runs again only because its restart policy started it again", async () => {
    const engine = engineWith({
      "id-steady": {},
      "id-exited": { status: "exited", running: false, exitCode: 3 },
      // A crash loop under `restart: always`: the engine says running (or restarting, also running).
      "id-looping": { restartCount: 2, exitCode: 3 },
    });
    const containers = ["steady", "exited", "gone", "looping"].map((name) => service(name));
    const problems = await verifyStillRunning(engine, containers, 0);
    expect(problems).toEqual([
      { container: "exited", reason: "exited right after it was started (code 3)" },
      { container: "gone", reason: "removed right after it was started" },
      {
        container: "looping",
        reason:
          "exited right after it was started; its restart policy has started it again 2 time(s) since (last exit code 3)",
      },
    ]);
  });
});
