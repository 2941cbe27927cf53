// Bad input: one clear message, a documented exit code, no stack trace, and no side effects.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type CliResult, createWorkspace, runCli, type Workspace } from "./helpers/cli.js";
import { containerStartedAt, createVolume, removeLabelled, runContainer } from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `bad-${id}`;
const name = `kdt-${id}-app`;
let ws: Workspace;
let startedAt: string;

function expectCleanFailure(result: CliResult, code: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  ws = await createWorkspace();
  await createVolume(`${name}-data`, label);
  await runContainer({ name, label, volumes: [`${name}-data:/data`] });
  startedAt = await containerStartedAt(name);
});

afterAll(async () => {
  // Nothing above may have stopped the container.
  expect(await containerStartedAt(name)).toBe(startedAt);
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("bad input", () => {
  it("an unknown unit is a usage error (2) and stops nothing", async () => {
    expectCleanFailure(await ws.run(["backup", "--unit", "no-such-unit"]), 2, /unknown unit no-such-unit/);
  });

  it("an unknown format is a usage error (2) naming the allowed ones", async () => {
    expectCleanFailure(
      await ws.run(["backup", "--unit", name, "--backup-format", "zip"]),
      2,
      /Allowed choices are direct, tar/,
    );
  });

  it("a reader that goes away (| head) ends nothing with a stack trace", async () => {
    const child = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("an unknown option is a usage error (2)", async () => {
    expectCleanFailure(await ws.run(["backup", "--no-such-flag"]), 2, /unknown option/);
  });

  it("restore without a terminal and without --yes refuses (2)", async () => {
    expectCleanFailure(await ws.run(["restore", "--unit", name]), 2, /pass --yes/);
  });

  it("restore of a backup id that does not exist is a usage error (2)", async () => {
    expect((await ws.run(["backup", "--unit", name])).code).toBe(0);
    startedAt = await containerStartedAt(name);
    expectCleanFailure(
      await ws.run(["restore", "--unit", name, "--backup-id", "20990101-000000", "--yes"]),
      2,
      /no restore point with backup id 20990101-000000/,
    );
    expectCleanFailure(
      await ws.run(["restore", "--unit", name, "--volume", "nope", "--yes"]),
      2,
      /has no volume nope/,
    );
  });

  it("--to-dir with more than one volume conflicts (2)", async () => {
    expectCleanFailure(
      await ws.run(["restore", "--unit", name, "--to-dir", "/tmp/x", "--yes"]),
      2,
      /exactly one volume/,
    );
  });

  it("errors come as JSON on stdout with --json", async () => {
    const result = await ws.run(["backup", "--unit", "no-such-unit", "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { kind: "usage", exitCode: 2 } });
  });

  it("a config that is not JSON is a config error (3) naming the file", async () => {
    const bad = path.join(ws.dir, "broken.json");
    await fs.writeFile(bad, "{ not json", { mode: 0o600 });
    expectCleanFailure(await runCli(["--config", bad, "backup"]), 3, /broken\.json is not valid JSON/);
  });

  it("a config with wrong values lists every problem with its path (3)", async () => {
    const bad = path.join(ws.dir, "wrong.json");
    await fs.writeFile(
      bad,
      JSON.stringify({
        backup: { stop_timeout: "soon", backup_scope: "everything" },
        retention: { daily: -1 },
      }),
      { mode: 0o600 },
    );
    const result = await runCli(["--config", bad, "backup", "--unit", name]);
    expectCleanFailure(result, 3, /backup\.stop_timeout/);
    expect(result.stderr).toMatch(/backup\.backup_scope/);
    expect(result.stderr).toMatch(/retention\.daily/);
  });

  it("a config named with --config that does not exist is a config error (3)", async () => {
    expectCleanFailure(
      await runCli(["--config", path.join(ws.dir, "missing.json"), "list"]),
      3,
      /does not exist/,
    );
  });

  it("a wrong password is an environment error (4) found before anything is stopped", async () => {
    await fs.writeFile(path.join(ws.dir, "password"), "not-the-password\n", { mode: 0o600 });
    try {
      const result = await ws.run(["backup", "--unit", name]);
      expectCleanFailure(result, 4, /password is wrong/);
      expect(result.stderr).not.toContain("not-the-password");
    } finally {
      await fs.writeFile(path.join(ws.dir, "password"), `${ws.password}\n`, { mode: 0o600 });
    }
  });

  it("an unreachable Docker engine is an environment error (4)", async () => {
    const result = await ws.run(["list"], { env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
    expectCleanFailure(result, 4, /Docker engine is not reachable/);
  });
});
