// Reading ahead for Kopia, with the real engine and kopia: the second backup reads the large file
// changed since the first into the page cache from the stop on, the snapshot still holds what the
// container wrote as it stopped, and nothing else is read ahead.
import { randomBytes, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KopiaClient } from "../src/adapters/kopia/kopia-client.js";
import { createWorkspace, type Workspace } from "./helpers/cli.js";
import { containerState, createVolume, removeLabelled, runContainer } from "./helpers/docker.js";

const id = randomUUID().slice(0, 8);
const label = `readahead-${id}`;
const unit = `kdra${id}`;
const MiB = 1024 * 1024;

interface Report {
  units: {
    status: string;
    warnings: string[];
    items: { kind: string; name: string; snapshotId?: string; readAheadBytes?: number }[];
  }[];
}

describe("reading ahead for Kopia (real engine and kopia)", () => {
  let ws: Workspace;
  let data: string;

  beforeAll(async () => {
    ws = await createWorkspace();
    data = await createVolume(`${unit}-data`, label);
    await fs.writeFile(path.join(data, "db.bin"), randomBytes(4 * MiB));
    await fs.writeFile(path.join(data, "steady.bin"), randomBytes(4 * MiB));
    await fs.writeFile(path.join(data, "small.txt"), "small\n");
    // Data that was there long before: only what changes after the first backup counts.
    const dayAgo = new Date(Date.now() - 86_400_000);
    for (const name of ["db.bin", "steady.bin", "small.txt"])
      await fs.utimes(path.join(data, name), dayAgo, dayAgo);
    // On SIGTERM the service writes its last state into its database file, then exits.
    await runContainer({
      name: `${unit}-db`,
      label,
      volumes: [`${unit}-data:/data`],
      labels: { "com.docker.compose.project": unit, "com.docker.compose.service": "db" },
      command:
        "trap 'sleep 0.3; printf final-state | dd of=/data/db.bin bs=1 seek=1048576 conv=notrunc 2>/dev/null; exit 0' TERM; while true; do sleep 0.1; done",
    });
  });

  afterAll(async () => {
    await removeLabelled(label);
    await ws?.cleanup();
  });

  it("a first backup reads nothing ahead; the next reads the large file changed since, and Kopia saves its last state", async () => {
    const first = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const firstItems = (JSON.parse(first.stdout) as Report).units[0]?.items ?? [];
    expect(firstItems.map((i) => i.readAheadBytes)).toEqual(firstItems.map(() => undefined));

    // 1 MiB rewritten in place, as a database does; the small file changes too.
    const changed = randomBytes(MiB);
    const handle = await fs.open(path.join(data, "db.bin"), "r+");
    await handle.write(changed, 0, MiB, 2 * MiB);
    await handle.close();
    await fs.writeFile(path.join(data, "small.txt"), "changed\n");

    const second = await ws.run(["backup", "--unit", unit, "--json"]);
    expect(second.code, second.stderr).toBe(0);
    expect(await containerState(`${unit}-db`)).toBe("running");
    const report = (JSON.parse(second.stdout) as Report).units[0];
    expect(report?.status).toBe("ok");
    // kopi-docka's own reading is not "a process outside the containers" with the data open.
    expect(report?.warnings).toEqual([]);
    const volume = report?.items.find((i) => i.kind === "volume");
    // db.bin (the file as walked before the stop), not steady.bin (unchanged) nor small.txt (small).
    expect(volume?.readAheadBytes).toBe(4 * MiB);
    expect(report?.items.filter((i) => i !== volume).map((i) => i.readAheadBytes)).toEqual(
      report?.items.filter((i) => i !== volume).map(() => undefined),
    );
    expect(second.stderr).toMatch(/reading ahead 1 file\(s\) changed since its last backup \(4 MiB\)/);

    // What Kopia saved is the data after the stop: read ahead or not.
    const client = new KopiaClient({
      location: {
        binary: "kopia",
        configFile: path.join(ws.dir, "kopia", "repository.config"),
        logDir: path.join(ws.dir, "kopia-logs"),
      },
      password: ws.password,
    });
    const target = path.join(ws.dir, "restored");
    await client.restore(volume?.snapshotId ?? "", target);
    const restored = await fs.readFile(path.join(target, "db.bin"));
    expect(restored.subarray(MiB, MiB + 11).toString()).toBe("final-state");
    expect(restored.subarray(2 * MiB, 3 * MiB).equals(changed)).toBe(true);
    expect(restored.equals(await fs.readFile(path.join(data, "db.bin")))).toBe(true);
    expect(
      (await fs.readFile(path.join(target, "steady.bin"))).equals(
        await fs.readFile(path.join(data, "steady.bin")),
      ),
    ).toBe(true);
    expect(await fs.readFile(path.join(target, "small.txt"), "utf8")).toBe("changed\n");
  });
});
