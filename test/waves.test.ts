// A unit's containers that nothing orders stop side by side, as compose stops a project; what
// depends on another stops first and starts after it. The containers ignore SIGTERM and the stop
// timeout is 1 s: each stop lasts until the engine kills it, so the engine's events show which
// stops overlapped.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import {
  containerStartedAt,
  createVolume,
  docker,
  removeLabelled,
  runContainer,
  withProjectEvents,
} from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `waves-${id}`;
const unit = `kdw${id}`;
const name = (service: string) => `${unit}-${service}-1`;
let ws: Workspace;
let data: string;

/** A compose v2 service container (compose v2 writes the depends_on label, empty or not). */
async function service(svc: string, dependsOn: string, volume?: string) {
  await runContainer({
    name: name(svc),
    label,
    labels: {
      "com.docker.compose.project": unit,
      "com.docker.compose.service": svc,
      "com.docker.compose.depends_on": dependsOn,
    },
    ...(volume ? { volumes: [`${volume}:/data`] } : {}),
    command: "trap '' TERM; while true; do sleep 1; done",
  });
}

beforeAll(async () => {
  ws = await createWorkspace();
  const config = JSON.parse(await fs.readFile(ws.configPath, "utf8"));
  config.backup.stop_timeout = 1;
  await fs.writeFile(ws.configPath, JSON.stringify(config), { mode: 0o600 });
  data = await createVolume(`${unit}_data`, label);
  await fs.writeFile(path.join(data, "state.txt"), "as backed up\n");
  // db; cache; web depends on both: web stops first, then db and cache side by side.
  await service("db", "", `${unit}_data`);
  await service("cache", "");
  await service("web", "db:service_started:false,cache:service_started:false");
}, 120_000);

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("a unit's independent containers", () => {
  it("are listed in waves: what starts side by side, wave after wave", async () => {
    const list = await ws.json<{ units: { name: string; startOrder: string[]; startWaves: string[][] }[] }>([
      "list",
    ]);
    const listed = list.units.find((u) => u.name === unit);
    expect(listed?.startOrder).toEqual([name("cache"), name("db"), name("web")]);
    expect(listed?.startWaves).toEqual([[name("cache"), name("db")], [name("web")]]);
  });

  it("are stopped side by side, after what depends on them, and started before it", async () => {
    const { result, events: seen } = await withProjectEvents(unit, () =>
      ws.run(["backup", "--unit", unit, "--json"]),
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { units: { status: string; stopped: string[] }[] };
    expect(report.units[0]?.status).toBe("ok");
    // Reported in the stop order, whichever the engine finished first.
    expect(report.units[0]?.stopped).toEqual([name("web"), name("db"), name("cache")]);
    const at = (action: string, svc: string) =>
      seen.findIndex((e) => e.action === action && e.name === name(svc));
    for (const svc of ["web", "db", "cache"]) expect(at("die", svc), svc).toBeGreaterThanOrEqual(0);
    // web went down before either of the others was asked to stop...
    expect(at("die", "web")).toBeLessThan(at("kill", "db"));
    expect(at("die", "web")).toBeLessThan(at("kill", "cache"));
    // ...and db and cache were stopping at the same time: each was asked before the other died.
    expect(at("kill", "db")).toBeLessThan(at("die", "cache"));
    expect(at("kill", "cache")).toBeLessThan(at("die", "db"));
    // Started again: web after both.
    const lastStart = (svc: string) =>
      seen
        .map((e, i) => (e.action === "start" && e.name === name(svc) ? i : -1))
        .reduce((a, b) => Math.max(a, b));
    expect(lastStart("web")).toBeGreaterThan(lastStart("db"));
    expect(lastStart("web")).toBeGreaterThan(lastStart("cache"));
    for (const svc of ["web", "db", "cache"])
      expect(await docker("inspect", "--format", "{{.State.Status}}", name(svc))).toBe("running");
  });
});

describe("a restore of db's volume", () => {
  it("stops what depends on db (web) with it and starts it after db; cache, which does not, runs on", async () => {
    await fs.writeFile(path.join(data, "state.txt"), "changed after the backup\n");
    const cacheStarted = await containerStartedAt(name("cache"));
    const webStarted = await containerStartedAt(name("web"));
    const { result, events: seen } = await withProjectEvents(unit, () =>
      ws.run(["restore", "--unit", unit, "--yes", "--json"]),
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { status: string; stopped: string[] };
    expect(report.status).toBe("ok");
    expect(await fs.readFile(path.join(data, "state.txt"), "utf8")).toBe("as backed up\n");
    // web would otherwise run on across the swap with what it holds from db's old data.
    expect(report.stopped).toEqual([name("web"), name("db")]);
    const at = (action: string, svc: string) =>
      seen.findIndex((e) => e.action === action && e.name === name(svc));
    expect(at("die", "web")).toBeGreaterThanOrEqual(0);
    expect(at("die", "web")).toBeLessThan(at("kill", "db"));
    expect(at("start", "db")).toBeGreaterThanOrEqual(0);
    expect(at("start", "web")).toBeGreaterThan(at("start", "db"));
    expect(seen.filter((e) => e.name === name("cache"))).toEqual([]);
    expect(await containerStartedAt(name("cache"))).toBe(cacheStarted);
    expect(await containerStartedAt(name("web"))).not.toBe(webStarted);
    for (const svc of ["web", "db", "cache"])
      expect(await docker("inspect", "--format", "{{.State.Status}}", name(svc))).toBe("running");
  });
});
