// A project run by compose v1 (Debian's docker-compose 1.29), which writes no depends_on label:
// what its services wait for comes from its compose file. app depends on db but sorts before it.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import {
  composeIn,
  composeService,
  containerStartedAt,
  docker,
  removeLabelled,
  withProjectEvents,
} from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `v1-${id}`;
const project = `kdv${id}`;
const name = (service: string) => `${project}_${service}_1`;
let ws: Workspace;
let dir: string;
let data: string;

const compose = (...args: string[]) => composeIn(project, dir, ...args);

beforeAll(async () => {
  ws = await createWorkspace();
  dir = path.join(ws.dir, "stack");
  await fs.mkdir(dir, { recursive: true });
  const service = (extra: string) => composeService(label, extra);
  await fs.writeFile(
    path.join(dir, "docker-compose.yml"),
    `version: "2.4"
x-defaults: &defaults
  restart: "no"
services:
  app:
    <<: *defaults
${service(`    depends_on:
      db:
        condition: service_started`)}
  db:
${service(`    volumes:
      - data:/data`)}
  cache:
${service("")}
volumes:
  data:
    labels:
      kopi-docka-test: ${label}
`,
  );
  await compose("up", "-d");
  data = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${project}_data`);
  await fs.writeFile(path.join(data, "state.txt"), "as backed up\n");
}, 180_000);

afterAll(async () => {
  await compose("down", "-v").catch(() => "");
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("a compose v1 project", () => {
  it("carries no depends_on label (what this test is about)", async () => {
    const labels = await docker("inspect", "--format", "{{json .Config.Labels}}", name("app"));
    expect(Object.keys(JSON.parse(labels) as Record<string, string>)).not.toContain(
      "com.docker.compose.depends_on",
    );
  });

  it("is listed in the order its compose file gives: db before app, cache beside db", async () => {
    const list = await ws.json<{ units: { name: string; startOrder: string[]; startWaves: string[][] }[] }>([
      "list",
    ]);
    const unit = list.units.find((u) => u.name === project);
    expect(unit?.startOrder).toEqual([name("cache"), name("db"), name("app")]);
    expect(unit?.startWaves).toEqual([[name("cache"), name("db")], [name("app")]]);
  });

  it("is backed up cold in that order: app stops before db and starts after it", async () => {
    const { result, events: seen } = await withProjectEvents(project, () =>
      ws.run(["backup", "--unit", project, "--json"]),
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { units: { status: string; stopped: string[] }[] };
    expect(report.units[0]?.status).toBe("ok");
    expect(report.units[0]?.stopped).toEqual([name("app"), name("db"), name("cache")]);
    const at = (action: string, svc: string) =>
      seen.findIndex((e) => e.action === action && e.name === name(svc));
    expect(at("die", "app")).toBeGreaterThanOrEqual(0);
    expect(at("die", "app")).toBeLessThan(at("kill", "db"));
    expect(at("start", "db")).toBeGreaterThanOrEqual(0);
    expect(at("start", "app")).toBeGreaterThan(at("start", "db"));
    for (const svc of ["app", "db", "cache"])
      expect(await docker("inspect", "--format", "{{.State.Status}}", name(svc))).toBe("running");
  });

  it("has app, which depends on db, stopped with db for a restore of db's volume; cache runs on", async () => {
    await fs.writeFile(path.join(data, "state.txt"), "changed\n");
    const cacheStarted = await containerStartedAt(name("cache"));
    const result = await ws.run(["restore", "--unit", project, "--yes", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { status: string; stopped: string[] };
    expect(report.stopped).toEqual([name("app"), name("db")]);
    expect(await fs.readFile(path.join(data, "state.txt"), "utf8")).toBe("as backed up\n");
    expect(await containerStartedAt(name("cache"))).toBe(cacheStarted);
  });

  it("goes one by one, in the order of the names, when its compose file cannot be read, and says why", async () => {
    const file = path.join(dir, "docker-compose.yml");
    const listed = async () => {
      const list = await ws.json<{
        units: { name: string; startOrder: string[]; startWaves: string[][]; startOrderUnknown?: string }[];
      }>(["list"]);
      return list.units.find((u) => u.name === project);
    };
    await fs.rename(file, path.join(dir, "moved.yml"));
    try {
      const unit = await listed();
      expect(unit?.startOrder).toEqual([name("app"), name("cache"), name("db")]);
      expect(unit?.startWaves).toEqual([[name("app")], [name("cache")], [name("db")]]);
      expect(unit?.startOrderUnknown).toBe(`${file} cannot be read (ENOENT)`);
      const human = await ws.run(["list"]);
      expect(human.stdout).toContain(
        `  order     unknown, so one container at a time in the order of their names: ${file} cannot be read (ENOENT)`,
      );
      // Not YAML: the file and the line are named, never the content (a compose file may hold secrets).
      await fs.writeFile(file, "services:\n  app:\n    environment: [a\n    password: s3cret-value: x\n");
      const broken = await listed();
      expect(broken?.startWaves).toEqual([[name("app")], [name("cache")], [name("db")]]);
      expect(broken?.startOrderUnknown).toMatch(
        new RegExp(`^${file.replace(/[.]/g, "\\.")} is not valid YAML \\(line \\d+\\)$`),
      );
      // Said by the plan, and by the backup once it goes ahead (an error before stays one line).
      const warning = `${project}: start order unknown, so its containers stop and start one at a time`;
      const plan = await ws.run(["backup", "--unit", project, "--dry-run"]);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stderr).toContain(warning);
      const backup = await ws.run(["backup", "--unit", project]);
      expect(backup.code, backup.stderr).toBe(0);
      expect(backup.stderr).toContain(warning);
      expect(plan.stderr + plan.stdout + backup.stderr + backup.stdout).not.toContain("s3cret-value");
    } finally {
      await fs.rm(file, { force: true });
      await fs.rename(path.join(dir, "moved.yml"), file);
    }
    expect((await listed())?.startOrderUnknown).toBeUndefined();
  });
});
