// A whole stack restored on a "new host": everything removed, then restored under a second Kopia
// hostname from the first one's restore points, and brought up with --start.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, runCli, type Workspace } from "./helpers/cli.js";
import { composeIn, docker, removeLabelled, TEST_IMAGE, TEST_LABEL } from "./helpers/docker.js";

const _run = promisify(execFile);
const id = randomUUID().slice(0, 8);
const label = `newhost-${id}`;
const project = `kdtnew${id}`;
const solo = `kdt-${id}-solo`;
const subnet = `172.30.${Number.parseInt(id.slice(0, 2), 16) % 200}.0/24`;
let oldHost: Workspace;
let newConfig: string;
let composeDir: string;

async function compose(dir: string, ...args: string[]): Promise<string> {
  return composeIn(project, dir, ...args);
}

const onNewHost = (args: string[]) => runCli(["--config", newConfig, ...args]);

beforeAll(async () => {
  oldHost = await createWorkspace({ hostname: `old-${id}` });
  composeDir = path.join(oldHost.dir, "stack");
  await fs.mkdir(path.join(composeDir, "bind"), { recursive: true });
  await fs.writeFile(path.join(composeDir, "bind", "site.conf"), "server_name example;\n");
  await fs.writeFile(path.join(composeDir, ".env"), "GREETING=hello-from-env\n");
  await fs.writeFile(
    path.join(composeDir, "docker-compose.yml"),
    `version: "2.4"
services:
  db:
    image: ${TEST_IMAGE}
    init: true
    command: ["sh", "-c", "sleep 100000"]
    labels: { ${TEST_LABEL}: ${label} }
    volumes: ["dbdata:/var/lib/db"]
    networks: { backend: { ipv4_address: ${subnet.replace("0/24", "10")} } }
  web:
    image: ${TEST_IMAGE}
    init: true
    command: ["sh", "-c", "sleep 100000"]
    labels: { ${TEST_LABEL}: ${label} }
    environment: { GREETING: "\${GREETING}" }
    depends_on: [db]
    volumes: ["webdata:/srv", "./bind:/etc/site"]
    networks: [backend]
  agent:
    image: ${TEST_IMAGE}
    init: true
    command: ["sh", "-c", "sleep 100000"]
    labels: { ${TEST_LABEL}: ${label} }
    network_mode: service:web
networks:
  backend:
    labels: { ${TEST_LABEL}: ${label} }
    ipam: { config: [{ subnet: ${subnet} }] }
volumes:
  dbdata: { labels: { ${TEST_LABEL}: ${label} } }
  webdata: { labels: { ${TEST_LABEL}: ${label} } }
`,
  );
  await compose(composeDir, "up", "-d");
  const dbdata = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${project}_dbdata`);
  await fs.writeFile(path.join(dbdata, "rows.db"), "row1\nrow2\n");
  const webdata = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", `${project}_webdata`);
  await fs.writeFile(path.join(webdata, "index.html"), "<h1>site</h1>\n");
  await docker("volume", "create", "--label", `${TEST_LABEL}=${label}`, `${solo}-data`);
  await docker(
    "run",
    "-d",
    "--init",
    "--name",
    solo,
    "--label",
    `${TEST_LABEL}=${label}`,
    "--restart",
    "unless-stopped",
    "-e",
    "SECRET_TOKEN=s3cr3t",
    "-e",
    "MODE=solo",
    "-v",
    `${solo}-data:/data`,
    TEST_IMAGE,
    "sh",
    "-c",
    "echo solo > /data/solo.txt; exec sleep 100000",
  );
  const backup = await oldHost.run(["backup", "--unit", project, "--unit", solo, "--json"]);
  expect(backup.code, backup.stderr).toBe(0);
  // The old server is gone: containers, volumes, network, the compose directory.
  await compose(composeDir, "down", "-v");
  await docker("rm", "-f", solo);
  await docker("volume", "rm", `${solo}-data`);
  await fs.rm(composeDir, { recursive: true, force: true });
  // The new server: the same repository, another Kopia hostname.
  const config = JSON.parse(await fs.readFile(oldHost.configPath, "utf8"));
  config.kopia.hostname = `new-${id}`;
  config.kopia.config_file = path.join(oldHost.dir, "new-host-kopia.config");
  config.kopia.cache_directory = path.join(oldHost.dir, "new-host-cache");
  newConfig = path.join(oldHost.dir, "new-host.json");
  await fs.writeFile(newConfig, JSON.stringify(config), { mode: 0o600 });
  expect((await onNewHost(["init"])).code).toBe(0);
}, 300_000);

afterAll(async () => {
  await compose(path.join(oldHost.dir, "restored-stack"), "down", "-v").catch(() => "");
  await removeLabelled(label);
  await oldHost?.cleanup();
});

describe("restore on a host that never had the unit", () => {
  it("the new host sees the old host's restore points with --all-hosts and --host", async () => {
    const own = JSON.parse((await onNewHost(["snapshots", "--json"])).stdout);
    expect(own.restorePoints).toEqual([]);
    const all = JSON.parse((await onNewHost(["snapshots", "--all-hosts", "--json"])).stdout);
    expect(all.restorePoints.map((p: { unit: string }) => p.unit).sort()).toEqual([project, solo].sort());
    const old = JSON.parse(
      (await onNewHost(["snapshots", "--host", `old-${id}`, "--unit", project, "--json"])).stdout,
    );
    expect(old.restorePoints).toHaveLength(1);
  });

  it("restore --host <old> --start brings the compose stack back: running, same data, same subnet, same env", async () => {
    const stackDir = path.join(oldHost.dir, "restored-stack");
    const result = await onNewHost([
      "restore",
      "--host",
      `old-${id}`,
      "--unit",
      project,
      "--stack-dir",
      stackDir,
      "--start",
      "--yes",
      "--json",
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).start).toMatchObject({ how: "compose" });
    expect(await docker("inspect", "--format", "{{.State.Status}}", `${project}_web_1`)).toBe("running");
    expect(await docker("inspect", "--format", "{{.State.Status}}", `${project}_db_1`)).toBe("running");
    expect(await docker("exec", `${project}_db_1`, "cat", "/var/lib/db/rows.db")).toBe("row1\nrow2");
    expect(await docker("exec", `${project}_web_1`, "cat", "/srv/index.html")).toBe("<h1>site</h1>");
    expect(await docker("exec", `${project}_web_1`, "cat", "/etc/site/site.conf")).toBe(
      "server_name example;",
    );
    expect(await docker("exec", `${project}_web_1`, "sh", "-c", "echo $GREETING")).toBe("hello-from-env");
    expect(
      await docker(
        "network",
        "inspect",
        "--format",
        "{{(index .IPAM.Config 0).Subnet}}",
        `${project}_backend`,
      ),
    ).toBe(subnet);
    expect(
      await docker(
        "inspect",
        "--format",
        `{{.NetworkSettings.Networks.${project}_backend.IPAddress}}`,
        `${project}_db_1`,
      ),
    ).toBe(subnet.replace("0/24", "10"));
  });

  it("without docker compose, the compose unit's containers are recreated from their inspect documents", async () => {
    await docker("rm", "-f", `${project}_agent_1`, `${project}_web_1`, `${project}_db_1`);
    // A docker-compose that does not work, first on PATH (and the docker CLI here has no compose plugin).
    const fakeBin = path.join(oldHost.dir, "no-compose-bin");
    await fs.mkdir(fakeBin, { recursive: true });
    await fs.writeFile(path.join(fakeBin, "docker-compose"), "#!/bin/sh\nexit 127\n", { mode: 0o755 });
    const stackDir = path.join(oldHost.dir, "restored-stack");
    const result = await runCli(
      [
        "--config",
        newConfig,
        "restore",
        "--host",
        `old-${id}`,
        "--unit",
        project,
        "--stack-dir",
        stackDir,
        "--start",
        "--yes",
        "--json",
      ],
      { env: { PATH: `${fakeBin}:${process.env.PATH ?? ""}` } },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).start).toMatchObject({
      how: "engine",
      started: [`${project}_db_1`, `${project}_web_1`, `${project}_agent_1`],
    });
    // agent joins web's network (compose's network_mode: service:web): the new web's, not the
    // old host's id of it (the engine records the id of the name it was given).
    expect(await docker("inspect", "--format", "{{.HostConfig.NetworkMode}}", `${project}_agent_1`)).toBe(
      `container:${await docker("inspect", "--format", "{{.Id}}", `${project}_web_1`)}`,
    );
    const netns = async (name: string) =>
      fs.readlink(`/proc/${await docker("inspect", "--format", "{{.State.Pid}}", name)}/ns/net`);
    expect(await netns(`${project}_agent_1`)).toBe(await netns(`${project}_web_1`));
    expect(await docker("exec", `${project}_web_1`, "cat", "/srv/index.html")).toBe("<h1>site</h1>");
    expect(await docker("exec", `${project}_web_1`, "cat", "/etc/site/site.conf")).toBe(
      "server_name example;",
    );
    expect(
      await docker(
        "inspect",
        "--format",
        `{{.NetworkSettings.Networks.${project}_backend.IPAddress}}`,
        `${project}_db_1`,
      ),
    ).toBe(subnet.replace("0/24", "10"));
  });

  it("a standalone container: redacted env values are not invented; with --env-file it is recreated from its inspect document", async () => {
    const refused = await onNewHost(["restore", "--host", `old-${id}`, "--unit", solo, "--start", "--yes"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds SECRET_TOKEN redacted: give their values with --env-file/);
    const envFile = path.join(oldHost.dir, "secrets.env");
    await fs.writeFile(envFile, "SECRET_TOKEN=s3cr3t\n", { mode: 0o600 });
    const result = await onNewHost([
      "restore",
      "--host",
      `old-${id}`,
      "--unit",
      solo,
      "--start",
      "--env-file",
      envFile,
      "--yes",
      "--json",
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).start).toMatchObject({ how: "engine", started: [solo] });
    expect(await docker("inspect", "--format", "{{.State.Status}}", solo)).toBe("running");
    expect(await docker("exec", solo, "sh", "-c", "echo $SECRET_TOKEN $MODE")).toBe("s3cr3t solo");
    expect(await docker("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", solo)).toBe(
      "unless-stopped",
    );
    expect(await docker("exec", solo, "cat", "/data/solo.txt")).toBe("solo");
  });
});
