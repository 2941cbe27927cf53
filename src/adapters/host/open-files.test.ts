import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findOpenFiles } from "./open-files.js";

describe("findOpenFiles", () => {
  let proc: string;
  const self = 100;

  /** A fake /proc entry: its parent, its command and the files it holds open. */
  async function processEntry(pid: number, ppid: number, comm: string, files: string[]): Promise<void> {
    const dir = path.join(proc, String(pid));
    await fs.mkdir(path.join(dir, "fd"), { recursive: true });
    await fs.writeFile(path.join(dir, "stat"), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1\n`);
    await fs.writeFile(path.join(dir, "comm"), `${comm}\n`);
    await fs.symlink("/", path.join(dir, "cwd"));
    for (const [fd, file] of files.entries()) await fs.symlink(file, path.join(dir, "fd", String(fd + 3)));
  }

  beforeEach(async () => {
    proc = await fs.mkdtemp(path.join(os.tmpdir(), "kd-proc-"));
  });
  afterEach(async () => {
    await fs.rm(proc, { recursive: true, force: true });
  });

  it("finds other processes' files below the roots, not this process's nor its descendants'", async () => {
    const data = "/var/lib/docker/volumes/db/_data";
    await processEntry(self, 1, "node", [`${data}/a`]);
    await processEntry(201, self, "kopia", [`${data}/big.bin`, `${data}`]);
    await processEntry(202, self, "getfattr", [`${data}/x`]);
    await processEntry(300, 1, "backup agent", [`${data}/db.sqlite`, "/etc/hosts"]);
    await processEntry(301, 201, "sh", ["/tmp/kopi-docka-gate-x/gate"]);
    await processEntry(302, 1, "cron", ["/var/log/syslog"]);
    // kopia below a wrapper script named as the kopia binary, and a stranger below the stranger.
    await processEntry(203, self, "kopia-wrapper", []);
    await processEntry(204, 203, "kopia", [`${data}/db/app.db`]);
    await processEntry(303, 300, "helper", [`${data}/lock`]);
    expect(await findOpenFiles([data], proc, self)).toEqual([
      { pid: 300, command: "backup agent", path: `${data}/db.sqlite` },
      { pid: 303, command: "helper", path: `${data}/lock` },
    ]);
  });
});
