// restore on a terminal: asks for the unit, the restore point and a confirmation.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, createWorkspace, type Workspace } from "./helpers/cli.js";
import { createVolume, removeLabelled, runContainer } from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `tty-${id}`;
const name = `kdt-${id}-tty`;
let ws: Workspace;
let data: string;

/** Runs kopi-docka under a pseudo-terminal (util-linux `script`), answering each prompt as it appears. */
function onTerminal(
  args: string[],
  answers: [RegExp, string][],
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let screen = "";
    const pending = [...answers];
    const onData = (chunk: Buffer) => {
      screen += chunk.toString();
      const next = pending[0];
      if (next?.[0].test(screen)) {
        pending.shift();
        setTimeout(() => child.stdin.write(next[1]), 100);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

beforeAll(async () => {
  ws = await createWorkspace();
  data = await createVolume(`${name}-data`, label);
  await fs.writeFile(path.join(data, "state.txt"), "backed up\n");
  await runContainer({ name, label, volumes: [`${name}-data:/data`] });
  expect((await ws.run(["backup", "--unit", name])).code).toBe(0);
});

afterAll(async () => {
  await removeLabelled(label);
  await ws?.cleanup();
});

describe("restore on a terminal", () => {
  it("declining the confirmation changes nothing", async () => {
    await fs.writeFile(path.join(data, "state.txt"), "current\n");
    const result = await onTerminal(
      ["--config", ws.configPath, "restore", "--unit", name],
      [
        [/Restore point/, "\r"],
        [/\(y\/N\)/, "n\r"],
      ],
    );
    expect(result.code, result.screen).toBe(0);
    expect(result.screen).toMatch(/restore cancelled; nothing was changed/);
    expect(await fs.readFile(path.join(data, "state.txt"), "utf8")).toBe("current\n");
  });

  it("asks for the restore point and a confirmation, then restores", async () => {
    const result = await onTerminal(
      ["--config", ws.configPath, "restore", "--unit", name],
      [
        [/Restore point/, "\r"],
        [/\(y\/N\)/, "y\r"],
      ],
    );
    expect(result.code, result.screen).toBe(0);
    expect(result.screen).toMatch(new RegExp(`volume ${name}-data`));
    expect(await fs.readFile(path.join(data, "state.txt"), "utf8")).toBe("backed up\n");
  });
});
