// Repositories written by the older Python kopi-docka: fixtures made with its exact layouts
// (tags, sources, the TAR stream with its flags) restore with this tool.
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { createVolume, docker, removeLabelled, runContainer } from "./helpers/docker.js";
import { manifest } from "./helpers/tree.js";

const run = promisify(execFile);
const id = randomUUID().slice(0, 8);
const label = `legacy-${id}`;
const unit = `kdt-${id}-old`;
const volume = `${unit}-data`;
let ws: Workspace;
let data: string;
let original: Awaited<ReturnType<typeof manifest>>;
let connected: string;

function kopiaArgs(...args: string[]): string[] {
  return [`--config-file=${path.join(ws.dir, "kopia", "repository.config")}`, "--no-progress", ...args];
}

/** `kopia snapshot create` as the older tool ran it, with stdin optionally fed by a process. */
async function olderToolSnapshot(
  args: string[],
  options: { cwd?: string; stdinFrom?: string[] } = {},
): Promise<string> {
  const env = { ...process.env, KOPIA_PASSWORD: ws.password };
  const kopia = spawn("kopia", kopiaArgs("snapshot", "create", ...args, "--json"), {
    env,
    cwd: options.cwd,
    stdio: [options.stdinFrom ? "pipe" : "ignore", "pipe", "pipe"],
  });
  if (options.stdinFrom) {
    const [cmd, ...rest] = options.stdinFrom as [string, ...string[]];
    const producer = spawn(cmd, rest, { stdio: ["ignore", "pipe", "inherit"] });
    producer.stdout.pipe(kopia.stdin as NodeJS.WritableStream);
  }
  let stdout = "";
  let stderr = "";
  kopia.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  kopia.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((r) => kopia.on("close", r));
  if (code !== 0) throw new Error(`kopia failed: ${stderr}`);
  return (JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { id: string }).id;
}

function tags(map: Record<string, string>): string[] {
  return Object.entries(map).flatMap(([k, v]) => ["--tags", `${k}:${v}`]);
}

/** What `kopia repository status` says of the repository's content hash. */
async function contentHash(): Promise<string> {
  const { stdout } = await run("kopia", kopiaArgs("repository", "status", "--json"), {
    env: { ...process.env, KOPIA_PASSWORD: ws.password },
  });
  return (JSON.parse(stdout) as { contentFormat: { hash: string } }).contentFormat.hash;
}

beforeAll(async () => {
  // The repository as the older tool made it (Kopia's defaults); init connects to it.
  ws = await createWorkspace({ init: false });
  await run(
    "kopia",
    kopiaArgs("repository", "create", "filesystem", `--path=${ws.repoDir}`, "--no-check-for-updates"),
    { env: { ...process.env, KOPIA_PASSWORD: ws.password } },
  );
  const init = await ws.run(["init", "--json"]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  connected = JSON.parse(init.stdout).repository;
  data = await createVolume(volume, label);
  await fs.mkdir(path.join(data, "conf", "nested"), { recursive: true });
  await fs.writeFile(path.join(data, "conf", "app.ini"), "[app]\nlegacy=1\n");
  await fs.writeFile(path.join(data, "conf", "nested", "deep.txt"), "deep\n");
  await fs.writeFile(path.join(data, ".dotfile"), "hidden\n");
  await fs.chmod(path.join(data, "conf", "app.ini"), 0o640);
  await fs.chown(path.join(data, "conf", "app.ini"), 1000, 33);
  await fs.symlink("conf/app.ini", path.join(data, "link"));
  original = await manifest(data, { times: false });
  await runContainer({ name: unit, label, volumes: [`${volume}:/data`] });

  // 1.x (before 5.0): TAR stream with the older flags, 1.x backup id, naive timestamp,
  // no backup_format and no backup_scope; the recipe under a random /tmp path.
  const cwd = await fs.mkdtemp(path.join(os.tmpdir(), "older-tool-cwd-"));
  await olderToolSnapshot(
    [
      `--stdin-file=volumes/${unit}/${volume}`,
      "-",
      ...tags({
        type: "volume",
        unit,
        backup_id: "20240102-030405",
        timestamp: "2024-01-02T03:04:05",
        volume,
      }),
    ],
    {
      cwd,
      stdinFrom: [
        "tar",
        "-cf",
        "-",
        "--numeric-owner",
        "--xattrs",
        "--acls",
        "--one-file-system",
        "--mtime=@0",
        "--clamp-mtime",
        "--sort=name",
        "-C",
        data,
        ".",
      ],
    },
  );
  const recipe = await fs.mkdtemp(path.join(os.tmpdir(), "tmp"));
  await fs.writeFile(path.join(recipe, "docker-compose.yml"), "services: {}\n");
  await olderToolSnapshot([
    recipe,
    ...tags({ type: "recipe", unit, backup_id: "20240102-030405", timestamp: "2024-01-02T03:04:05" }),
  ]);
  // 5.x: direct format, UUID backup id, naive timestamp, scope present.
  await fs.writeFile(path.join(data, "conf", "app.ini"), "[app]\nlegacy=5\n");
  await olderToolSnapshot([
    data,
    ...tags({
      type: "volume",
      unit,
      backup_id: randomUUID(),
      backup_scope: "standard",
      backup_format: "direct",
      timestamp: "2025-03-04T05:06:07",
      volume,
      size_bytes: "100",
    }),
  ]);
  // 7.3+: direct volume snapshot without a timestamp tag; a recipe with a UTC timestamp.
  await fs.writeFile(path.join(data, "conf", "app.ini"), "[app]\nlegacy=7\n");
  const seven = randomUUID();
  await olderToolSnapshot([
    data,
    ...tags({
      type: "volume",
      unit,
      backup_id: seven,
      backup_scope: "minimal",
      backup_format: "direct",
      volume,
      size_bytes: "100",
    }),
  ]);
  await fs.rm(cwd, { recursive: true, force: true });
  await fs.rm(recipe, { recursive: true, force: true });
}, 300_000);

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

interface Point {
  backupId: string;
  time: string;
  scope: string;
  snapshots: { type: string; format: string | null }[];
}

describe("repositories written by the older Python kopi-docka", () => {
  let points: Point[] = [];

  it("init connects to the older tool's repository as it is (Kopia's default content hash)", async () => {
    expect(connected).toBe("connected");
    expect(await contentHash()).toBe("BLAKE2B-256-128");
  });

  it("lists every layout as a restore point, newest first, with format and scope", async () => {
    points = (await ws.json<{ restorePoints: Point[] }>(["snapshots", "--unit", unit])).restorePoints;
    expect(points).toHaveLength(3);
    const [seven, five, one] = points as [Point, Point, Point];
    expect(one.backupId).toBe("20240102-030405");
    expect(one.scope).toBe("standard");
    expect(one.snapshots.map((s) => `${s.type}:${s.format}`).sort()).toEqual(["recipe:null", "volume:tar"]);
    expect(five.snapshots.map((s) => `${s.type}:${s.format}`)).toEqual(["volume:direct"]);
    expect(seven.scope).toBe("minimal");
    // Times come from Kopia's startTime, also where the timestamp tag is missing.
    for (const p of points) expect(Date.parse(p.time)).toBeGreaterThan(Date.now() - 3600_000);
  });

  it("restores the 1.x TAR backup (mtimes are lost by that writer's flags, everything else is kept)", async () => {
    await fs.writeFile(path.join(data, "conf", "app.ini"), "changed after all backups\n");
    await fs.writeFile(path.join(data, "stray"), "stray\n");
    const result = await ws.run(["restore", "--unit", unit, "--backup-id", "20240102-030405", "--yes"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await manifest(data, { times: false })).toEqual(original);
    const st = await fs.stat(path.join(data, "conf", "nested", "deep.txt"));
    expect(st.mtimeMs).toBe(0);
    expect(await docker("inspect", "--format", "{{.State.Status}}", unit)).toBe("running");
  });

  it("restores the 5.x and 7.3+ direct backups", async () => {
    const five = points[1] as Point;
    expect((await ws.run(["restore", "--unit", unit, "--backup-id", five.backupId, "--yes"])).code).toBe(0);
    expect(await fs.readFile(path.join(data, "conf", "app.ini"), "utf8")).toBe("[app]\nlegacy=5\n");
    const seven = points[0] as Point;
    expect((await ws.run(["restore", "--unit", unit, "--backup-id", seven.backupId, "--yes"])).code).toBe(0);
    expect(await fs.readFile(path.join(data, "conf", "app.ini"), "utf8")).toBe("[app]\nlegacy=7\n");
    expect(await fs.readFile(path.join(data, ".dotfile"), "utf8")).toBe("hidden\n");
  });

  it("writes TAR backups the older tool can read: one file volumes/<unit>/<volume> holding a tar stream", async () => {
    const result = await ws.run(["backup", "--unit", unit, "--backup-format", "tar", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const { stdout } = await run("kopia", kopiaArgs("snapshot", "list", "--json", "--all"), {
      env: { ...process.env, KOPIA_PASSWORD: ws.password },
      maxBuffer: 64 * 1024 * 1024,
    });
    const backupId = (JSON.parse(result.stdout) as { units: { backupId: string }[] }).units[0]?.backupId;
    const snap = (JSON.parse(stdout) as { tags: Record<string, string>; rootEntry: { obj: string } }[]).find(
      (m) => m.tags["tag:backup_id"] === backupId && m.tags["tag:type"] === "volume",
    );
    expect(snap?.tags["tag:backup_format"]).toBe("tar");
    const listing = await run("kopia", kopiaArgs("show", snap?.rootEntry.obj ?? ""), {
      env: { ...process.env, KOPIA_PASSWORD: ws.password },
    });
    const entries = (JSON.parse(listing.stdout) as { entries: { name: string; obj: string }[] }).entries;
    expect(entries.map((e) => e.name)).toEqual([`volumes/${unit}/${volume}`]);
    // Extract it the way the older tool does: plain tar -xpf.
    const target = await fs.mkdtemp(path.join(os.tmpdir(), "older-tool-restore-"));
    try {
      const show = spawn("kopia", kopiaArgs("show", entries[0]?.obj ?? ""), {
        env: { ...process.env, KOPIA_PASSWORD: ws.password },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const tar = spawn("tar", ["-xpf", "-", "--numeric-owner", "--xattrs", "--acls", "-C", target], {
        stdio: ["pipe", "inherit", "inherit"],
      });
      show.stdout.pipe(tar.stdin);
      expect(await new Promise((r) => tar.on("close", r))).toBe(0);
      expect(await manifest(target, { times: false })).toEqual(await manifest(data, { times: false }));
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  });
});
