// Containers that share another's network namespace (`network_mode: service:x` in compose,
// `--network container:x`): the engine refuses to start them while that one is stopped, and a
// restart of that one leaves them without network unless they start again after it. Compose v1
// (Debian's docker-compose) records no depends_on label, so the namespace is the only order known.
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import {
  composeIn,
  composeService,
  docker,
  removeLabelled,
  TEST_IMAGE,
  TEST_LABEL,
} from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `netns-${id}`;
// Compose v1 names containers <project>_<service>_1; "client" sorts before "vpn".
const project = `kdtnet${id}`;
const vpn = `${project}_vpn_1`;
const client = `${project}_client_1`;
const extra = `kdt-${id}-extra`;
let ws: Workspace;
let dir: string;

/** The network namespace a running container's processes are in. */
async function netns(name: string): Promise<string> {
  const pid = await docker("inspect", "--format", "{{.State.Pid}}", name);
  return fs.readlink(`/proc/${pid}/ns/net`);
}

beforeAll(async () => {
  ws = await createWorkspace();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "kopi-docka-netns-"));
  const service = (extra: string) => composeService(label, extra);
  await fs.writeFile(
    path.join(dir, "docker-compose.yml"),
    `version: "2.4"
services:
  vpn:
${service(`    volumes:
      - data:/data`)}
  client:
${service(`    network_mode: service:vpn
    depends_on: [vpn]`)}
volumes:
  data:
    labels:
      ${TEST_LABEL}: ${label}
`,
  );
  await composeIn(project, dir, "up", "-d");
  // Another unit (a standalone container) in the same namespace.
  await docker(
    "run",
    "-d",
    "--init",
    "--name",
    extra,
    "--label",
    `${TEST_LABEL}=${label}`,
    "--network",
    `container:${vpn}`,
    TEST_IMAGE,
    "sleep",
    "100000",
  );
}, 300_000);

afterAll(async () => {
  await docker("rm", "-f", extra).catch(() => "");
  await composeIn(project, dir, "down", "-v").catch(() => "");
  await removeLabelled(label);
  await fs.rm(dir, { recursive: true, force: true });
  await ws?.cleanup();
});

describe("containers in another container's network namespace", () => {
  it("are listed after that container in the start order (compose v1 writes no depends_on label)", async () => {
    expect(
      await docker("inspect", "--format", '{{index .Config.Labels "com.docker.compose.depends_on"}}', client),
    ).toBe("");
    const list = await ws.json<{ units: { name: string; startOrder: string[] }[] }>(["list"]);
    expect(list.units.find((u) => u.name === project)?.startOrder).toEqual([vpn, client]);
  });

  it("are stopped before it and started after it, other units' too, and share its new namespace", async () => {
    const result = await ws.run(["backup", "--unit", project, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const unit = (JSON.parse(result.stdout) as { units: { status: string; stopped: string[] }[] }).units[0];
    expect(unit?.status).toBe("ok");
    expect(unit?.stopped).toEqual([extra, client, vpn]);
    for (const name of [vpn, client, extra])
      expect(await docker("inspect", "--format", "{{.State.Status}}", name)).toBe("running");
    const ns = await netns(vpn);
    expect(await netns(client)).toBe(ns);
    expect(await netns(extra)).toBe(ns);
  });

  it("are stopped and started the same way by a restore of its volume", async () => {
    const result = await ws.run(["restore", "--unit", project, "--yes", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { status: string; stopped: string[] };
    expect(report.status).toBe("ok");
    expect(report.stopped).toEqual([extra, client, vpn]);
    for (const name of [vpn, client, extra])
      expect(await docker("inspect", "--format", "{{.State.Status}}", name)).toBe("running");
    const ns = await netns(vpn);
    expect(await netns(client)).toBe(ns);
    expect(await netns(extra)).toBe(ns);
  });
});
