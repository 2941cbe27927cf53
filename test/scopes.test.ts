// Scopes: minimal is data only; standard adds the recipe and the networks; full adds the Docker
// daemon configuration. Layouts and tags as the repository contract says.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { composeIn, docker, removeLabelled, TEST_IMAGE, TEST_LABEL } from "./helpers/docker.js";

const run = promisify(execFile);
const id = randomUUID().slice(0, 8);
const label = `scope-${id}`;
const project = `kdtscope${id}`;
let ws: Workspace;
let composeDir: string;

async function compose(...args: string[]): Promise<string> {
  return composeIn(project, composeDir, ...args);
}

interface Manifest {
  id: string;
  source: { path: string };
  tags: Record<string, string>;
}

async function snapshotsOf(backupId: string): Promise<Manifest[]> {
  const { stdout } = await run(
    "kopia",
    [
      `--config-file=${path.join(ws.dir, "kopia", "repository.config")}`,
      "snapshot",
      "list",
      "--json",
      "--all",
    ],
    { env: { ...process.env, KOPIA_PASSWORD: ws.password }, maxBuffer: 64 * 1024 * 1024 },
  );
  return (JSON.parse(stdout) as Manifest[]).filter((m) => m.tags["tag:backup_id"] === backupId);
}

async function restoreSnapshot(snapshotId: string): Promise<string> {
  const target = path.join(ws.dir, `restored-${snapshotId}`);
  await run(
    "kopia",
    [`--config-file=${path.join(ws.dir, "kopia", "repository.config")}`, "restore", snapshotId, target],
    {
      env: { ...process.env, KOPIA_PASSWORD: ws.password },
    },
  );
  return target;
}

async function backup(
  scope: string,
): Promise<{ backupId: string; gaps: { name: string; status: string }[] }> {
  const result = await ws.run(["backup", "--unit", project, "--scope", scope, "--json"]);
  expect(result.code, result.stderr).toBe(0);
  const unit = (
    JSON.parse(result.stdout) as { units: { backupId: string; gaps?: { name: string; status: string }[] }[] }
  ).units[0];
  return { backupId: unit?.backupId ?? "", gaps: unit?.gaps ?? [] };
}

beforeAll(async () => {
  ws = await createWorkspace();
  const config = JSON.parse(await fs.readFile(ws.configPath, "utf8"));
  config.docker = {
    daemon_json: path.join(ws.dir, "etc-docker", "daemon.json"),
    service_dropin_dir: path.join(ws.dir, "etc-docker", "docker.service.d"),
  };
  await fs.writeFile(ws.configPath, JSON.stringify(config), { mode: 0o600 });
  await fs.mkdir(path.join(ws.dir, "etc-docker", "docker.service.d"), { recursive: true });
  await fs.writeFile(path.join(ws.dir, "etc-docker", "daemon.json"), '{ "log-driver": "json-file" }\n');
  await fs.writeFile(
    path.join(ws.dir, "etc-docker", "docker.service.d", "override.conf"),
    "[Service]\nLimitNOFILE=1048576\n",
  );
  composeDir = path.join(ws.dir, "stack");
  await fs.mkdir(composeDir, { recursive: true });
  await fs.writeFile(path.join(composeDir, ".env"), "APP_MODE=production\n");
  await fs.writeFile(path.join(composeDir, "app.toml"), "[app]\nname = 'x'\n");
  await fs.writeFile(
    path.join(composeDir, "docker-compose.yml"),
    `version: "2.4"
services:
  web:
    image: ${TEST_IMAGE}
    init: true
    command: ["sh", "-c", "sleep 100000"]
    labels:
      ${TEST_LABEL}: ${label}
    environment:
      APP_MODE: \${APP_MODE}
      DB_PASSWORD: hunter2
      API_TOKEN: abc123
      PLAIN: visible
    volumes:
      - data:/data
      - /etc/hostname:/etc/host-name:ro
    networks:
      - backend
networks:
  backend:
    labels:
      ${TEST_LABEL}: ${label}
    ipam:
      config:
        - subnet: 172.29.${Number.parseInt(id.slice(0, 2), 16) % 200}.0/24
volumes:
  data:
    labels:
      ${TEST_LABEL}: ${label}
`,
  );
  await compose("up", "-d");
});

afterAll(async () => {
  await compose("down", "-v").catch(() => "");
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("scopes", () => {
  it("dry-run shows the gaps before anything runs", async () => {
    const plan = await ws.json<{ units: { gaps: { name: string; status: string; reason: string }[] }[] }>([
      "backup",
      "--unit",
      project,
      "--dry-run",
    ]);
    expect(plan.units[0]?.gaps).toEqual([
      expect.objectContaining({
        name: "/etc/hostname",
        status: "not protected",
        reason: expect.stringMatching(/host system path/),
      }),
    ]);
  });

  it("standard: a recipe with the compose file, project files, a redacted inspect document and coverage; the networks", async () => {
    const { backupId, gaps } = await backup("standard");
    expect(gaps).toEqual([expect.objectContaining({ name: "/etc/hostname", status: "not protected" })]);
    const snaps = await snapshotsOf(backupId);
    expect(snaps.map((s) => s.tags["tag:type"]).sort()).toEqual([
      "fs_metadata",
      "networks",
      "recipe",
      "volume",
    ]);
    for (const s of snaps) expect(s.tags["tag:backup_scope"]).toBe("standard");
    const recipeSnap = snaps.find((s) => s.tags["tag:type"] === "recipe") as Manifest;
    expect(recipeSnap.source.path).toBe(path.join(ws.dir, "staging", "recipes", project));
    const recipe = await restoreSnapshot(recipeSnap.id);
    expect((await fs.readdir(recipe)).sort()).toEqual([
      "compose_order.json",
      "coverage-manifest.json",
      "docker-compose.yml",
      `${project}_web_1_inspect.json`,
      "kopi-docka-recipe.json",
      "project-files",
    ]);
    expect(JSON.parse(await fs.readFile(path.join(recipe, "compose_order.json"), "utf8"))).toEqual([
      "docker-compose.yml",
    ]);
    expect((await fs.readdir(path.join(recipe, "project-files"))).sort()).toEqual([".env", "app.toml"]);
    const inspect = JSON.parse(await fs.readFile(path.join(recipe, `${project}_web_1_inspect.json`), "utf8"));
    expect(Array.isArray(inspect)).toBe(true);
    const env = inspect[0].Config.Env as string[];
    expect(env).toContain("DB_PASSWORD=***REDACTED***");
    expect(env).toContain("API_TOKEN=***REDACTED***");
    expect(env).toContain("PLAIN=visible");
    expect(env.join("\n")).not.toContain("hunter2");
    const coverage = JSON.parse(await fs.readFile(path.join(recipe, "coverage-manifest.json"), "utf8"))
      .entries as {
      kind: string;
      status: string;
    }[];
    expect(coverage.filter((c) => c.kind === "volume").map((c) => c.status)).toEqual(["backed up"]);
    const networksSnap = snaps.find((s) => s.tags["tag:type"] === "networks") as Manifest;
    expect(networksSnap.tags["tag:network_count"]).toBe("1");
    const networks = await restoreSnapshot(networksSnap.id);
    const docs = JSON.parse(await fs.readFile(path.join(networks, "networks.json"), "utf8")) as {
      Name: string;
      IPAM: unknown;
    }[];
    expect(docs.map((d) => d.Name)).toEqual([`${project}_backend`]);
    expect(JSON.stringify(docs[0]?.IPAM)).toMatch(/172\.29\.\d+\.0\/24/);
  });

  it("full: the Docker daemon configuration too", async () => {
    const { backupId } = await backup("full");
    const snaps = await snapshotsOf(backupId);
    const dockerConfig = snaps.find((s) => s.tags["tag:type"] === "docker_config") as Manifest;
    expect(dockerConfig.tags["tag:files"]).toBe("daemon.json,docker.service.d/");
    const restored = await restoreSnapshot(dockerConfig.id);
    expect(await fs.readFile(path.join(restored, "daemon.json"), "utf8")).toBe(
      '{ "log-driver": "json-file" }\n',
    );
    expect(await fs.readFile(path.join(restored, "docker.service.d", "override.conf"), "utf8")).toMatch(
      /LimitNOFILE/,
    );
  });

  it("minimal: the data only; its restore warns that containers must be recreated by hand", async () => {
    const { backupId } = await backup("minimal");
    const snaps = await snapshotsOf(backupId);
    expect(snaps.map((s) => s.tags["tag:type"]).sort()).toEqual(["fs_metadata", "volume"]);
    const result = await ws.run(["restore", "--unit", project, "--backup-id", backupId, "--yes"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/scope minimal: .*recreated by hand/);
  });
});

describe("restore of a whole compose unit onto a host where it no longer exists", () => {
  it("recreates the network with its subnet and the volume, writes the compose and project files, restores the data", async () => {
    const data = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${project}_data`);
    await fs.writeFile(path.join(data, "important.txt"), "keep me\n");
    const { backupId } = await backup("standard");
    const subnet = await docker(
      "network",
      "inspect",
      "--format",
      "{{(index .IPAM.Config 0).Subnet}}",
      `${project}_backend`,
    );
    await compose("down", "-v");
    await fs.rm(composeDir, { recursive: true, force: true });
    const stackDir = path.join(ws.dir, "new-host-stack");
    const result = await ws.run([
      "restore",
      "--unit",
      project,
      "--backup-id",
      backupId,
      "--stack-dir",
      stackDir,
      "--yes",
      "--json",
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const report = JSON.parse(result.stdout) as {
      stack: { networksCreated: string[]; filesWritten: string[]; stackDir: string };
    };
    expect(report.stack.networksCreated).toEqual([`${project}_backend`]);
    expect(report.stack.filesWritten.map((f) => path.basename(f)).sort()).toEqual([
      ".env",
      "app.toml",
      "docker-compose.yml",
    ]);
    expect(
      await docker(
        "network",
        "inspect",
        "--format",
        "{{(index .IPAM.Config 0).Subnet}}",
        `${project}_backend`,
      ),
    ).toBe(subnet);
    const restored = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${project}_data`);
    expect(await fs.readFile(path.join(restored, "important.txt"), "utf8")).toBe("keep me\n");
    // The written files bring the stack up as they are.
    composeDir = stackDir;
    await compose("up", "-d");
    expect(await docker("exec", `${project}_web_1`, "cat", "/data/important.txt")).toBe("keep me");
    expect(await docker("exec", `${project}_web_1`, "sh", "-c", "echo $APP_MODE")).toBe("production");
    // Run again: existing files and networks are kept.
    const again = await ws.run([
      "restore",
      "--unit",
      project,
      "--backup-id",
      backupId,
      "--stack-dir",
      stackDir,
      "--yes",
      "--json",
    ]);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as { stack: { networksKept: string[]; filesKept: string[] } };
    expect(second.stack.networksKept).toEqual([`${project}_backend`]);
    expect(second.stack.filesKept).toHaveLength(3);
  });
});

describe("networks that exist already", () => {
  it("are kept, unless --replace-networks (and no container uses them)", async () => {
    const stackDir = path.join(ws.dir, "new-host-stack");
    const points = await ws.json<{ restorePoints: { backupId: string; scope: string }[] }>([
      "snapshots",
      "--unit",
      project,
    ]);
    const backupId = points.restorePoints.find((p) => p.scope === "standard")?.backupId ?? "";
    const saved = await docker(
      "network",
      "inspect",
      "--format",
      "{{(index .IPAM.Config 0).Subnet}}",
      `${project}_backend`,
    );
    await compose("down");
    await docker(
      "network",
      "create",
      "--label",
      `${TEST_LABEL}=${label}`,
      "--subnet",
      "172.28.250.0/24",
      `${project}_backend`,
    );
    const kept = await ws.run([
      "restore",
      "--unit",
      project,
      "--backup-id",
      backupId,
      "--stack-dir",
      stackDir,
      "--yes",
      "--json",
    ]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout).stack.networksKept).toEqual([`${project}_backend`]);
    expect(
      await docker(
        "network",
        "inspect",
        "--format",
        "{{(index .IPAM.Config 0).Subnet}}",
        `${project}_backend`,
      ),
    ).toBe("172.28.250.0/24");
    const replaced = await ws.run([
      "restore",
      "--unit",
      project,
      "--backup-id",
      backupId,
      "--stack-dir",
      stackDir,
      "--replace-networks",
      "--yes",
      "--json",
    ]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(replaced.stdout).stack.networksCreated).toEqual([`${project}_backend`]);
    expect(
      await docker(
        "network",
        "inspect",
        "--format",
        "{{(index .IPAM.Config 0).Subnet}}",
        `${project}_backend`,
      ),
    ).toBe(saved);
  });
});

describe("compose files that exist only inside a managing container", () => {
  it("are found on the host through that container's mount and saved in the recipe", async () => {
    const managed = `kdtmanaged${id}`;
    const hostStacks = path.join(ws.dir, "manager-data");
    await fs.mkdir(path.join(hostStacks, "app"), { recursive: true });
    await fs.writeFile(path.join(hostStacks, "app", "compose.yaml"), "services: { app: { image: x } }\n");
    await fs.writeFile(path.join(hostStacks, "app", ".env"), "A=1\n");
    // The manager sees the stacks at /stacks; the labels of its project speak of that path.
    await docker(
      "run",
      "-d",
      "--init",
      "--name",
      `${managed}-manager`,
      "--label",
      `${TEST_LABEL}=${label}`,
      "-v",
      `${hostStacks}:/stacks`,
      TEST_IMAGE,
      "sh",
      "-c",
      "sleep 100000",
    );
    await docker(
      "run",
      "-d",
      "--init",
      "--name",
      `${managed}-app`,
      "--label",
      `${TEST_LABEL}=${label}`,
      "--label",
      `com.docker.compose.project=${managed}`,
      "--label",
      "com.docker.compose.service=app",
      "--label",
      "com.docker.compose.project.config_files=/stacks/app/compose.yaml",
      "--label",
      "com.docker.compose.project.working_dir=/stacks/app",
      TEST_IMAGE,
      "sh",
      "-c",
      "sleep 100000",
    );
    const plan = await ws.json<{ units: { gaps: unknown[] }[] }>(["backup", "--unit", managed, "--dry-run"]);
    expect(plan.units[0]?.gaps).toEqual([]);
    const result = await ws.run(["backup", "--unit", managed, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const backupId =
      (JSON.parse(result.stdout) as { units: { backupId: string }[] }).units[0]?.backupId ?? "";
    const recipeSnap = (await snapshotsOf(backupId)).find((s) => s.tags["tag:type"] === "recipe") as Manifest;
    const recipe = await restoreSnapshot(recipeSnap.id);
    expect(await fs.readFile(path.join(recipe, "compose.yaml"), "utf8")).toMatch(/services/);
    expect(await fs.readdir(path.join(recipe, "project-files"))).toEqual([".env"]);
    const coverage = JSON.parse(await fs.readFile(path.join(recipe, "coverage-manifest.json"), "utf8"))
      .entries as {
      kind: string;
      status: string;
      reason?: string;
    }[];
    expect(coverage.find((c) => c.kind === "compose file")).toMatchObject({
      status: "backed up",
      reason: `found at ${path.join(hostStacks, "app", "compose.yaml")} through a managing container's mount`,
    });
  });
});
