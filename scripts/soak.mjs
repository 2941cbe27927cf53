#!/usr/bin/env node
// Soak test (not part of CI): N backups of a two-unit host, each sent SIGINT or SIGTERM at a
// random moment (or left alone). After each run: every container is back in its starting state,
// and every restore point in the repository is complete. Prints the tally; exits 1 on any breach.
//
//   npm run build && node scripts/soak.mjs [--runs 100] [--max-delay-ms 4000]
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const runs = option("--runs", 100);
const maxDelay = option("--max-delay-ms", 4000);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist/cli/main.js");
const image = process.env.KOPI_DOCKA_TEST_IMAGE ?? "kopi-docka-test:latest";
const id = randomUUID().slice(0, 8);
const label = `kopi-docka-test=soak-${id}`;
const dir = mkdtempSync(path.join(os.tmpdir(), "kopi-docka-soak-"));
const docker = (...a) => execFileSync("docker", a, { encoding: "utf8" }).trim();

const config = path.join(dir, "config.json");
writeFileSync(path.join(dir, "password"), `soak-${randomUUID()}\n`, { mode: 0o600 });
writeFileSync(
  config,
  JSON.stringify({
    kopia: {
      kopia_params: `filesystem --path ${dir}/repo`,
      password_file: path.join(dir, "password"),
      config_file: path.join(dir, "kopia.config"),
      cache_directory: path.join(dir, "cache"),
    },
    backup: { stop_timeout: 10, start_timeout: 30, state_directory: path.join(dir, "state"), base_path: path.join(dir, "base") },
    retention: { latest: 1000, hourly: 0, daily: 0, weekly: 0, monthly: 0, annual: 0 },
  }),
  { mode: 0o600 },
);
const run = (a) => execFileSync(process.execPath, [cli, "--config", config, ...a], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const stack = `soak${id}`;
const containers = [`${stack}-db`, `${stack}-app`, `soak-${id}-solo`];
const expectedItems = { [stack]: 2, [`soak-${id}-solo`]: 1 };
try {
  run(["init"]);
  for (const v of ["db", "app", "solo"]) {
    docker("volume", "create", "--label", label, `soak-${id}-${v}`);
    const mp = docker("volume", "inspect", "--format", "{{.Mountpoint}}", `soak-${id}-${v}`);
    execFileSync("sh", ["-c", `head -c 67108864 /dev/urandom > '${mp}/blob'; mkdir -p '${mp}/d'; for i in $(seq 1 300); do echo $i > '${mp}/d/f'$i; done`]);
  }
  const compose = ["--label", `com.docker.compose.project=${stack}`];
  docker("run", "-d", "--init", "--name", `${stack}-db`, "--label", label, ...compose, "--label", "com.docker.compose.service=db", "-v", `soak-${id}-db:/data`, image, "sh", "-c", "sleep 1000000");
  docker("run", "-d", "--init", "--name", `${stack}-app`, "--label", label, ...compose, "--label", "com.docker.compose.service=app", "--label", "com.docker.compose.depends_on=db:service_started:false", "-v", `soak-${id}-app:/data`, image, "sh", "-c", "sleep 1000000");
  docker("run", "-d", "--init", "--name", `soak-${id}-solo`, "--label", label, "-v", `soak-${id}-solo:/data`, image, "sh", "-c", "sleep 1000000");

  const tally = { runs: 0, completed: 0, interrupted: 0, otherExit: 0, breaches: [] };
  for (let n = 1; n <= runs; n++) {
    const signal = ["SIGINT", "SIGTERM", "none"][Math.floor(Math.random() * 3)];
    const delay = Math.floor(Math.random() * maxDelay);
    const code = await new Promise((resolve) => {
      const child = spawn(process.execPath, [cli, "--config", config, "backup", "--unit", stack, "--unit", `soak-${id}-solo`], { stdio: "ignore" });
      const timer = signal === "none" ? undefined : setTimeout(() => child.kill(signal), delay);
      child.on("close", (c) => {
        if (timer) clearTimeout(timer);
        resolve(c);
      });
    });
    tally.runs++;
    if (code === 0) tally.completed++;
    else if (code === 130 || code === 143) tally.interrupted++;
    else tally.otherExit++;
    for (const c of containers) {
      const state = docker("inspect", "--format", "{{.State.Status}}", c);
      if (state !== "running") tally.breaches.push(`run ${n} (${signal} after ${delay} ms, exit ${code}): ${c} is ${state}`);
    }
    const points = JSON.parse(run(["snapshots", "--json"])).restorePoints;
    for (const p of points) {
      const data = p.snapshots.filter((s) => s.type === "volume" || s.type === "bind").length;
      const want = expectedItems[p.unit];
      if (want !== undefined && data !== want) tally.breaches.push(`run ${n}: restore point ${p.backupId} of ${p.unit} has ${data} of ${want} items`);
    }
    process.stderr.write(`run ${n}/${runs}: ${signal} after ${delay} ms -> exit ${code}\n`);
  }
  console.log(JSON.stringify({ ...tally, breaches: tally.breaches.length, details: tally.breaches }, null, 2));
  console.log(`${tally.runs - tally.breaches.length} passed, ${tally.breaches.length} failed`);
  process.exitCode = tally.breaches.length > 0 ? 1 : 0;
} finally {
  for (const c of containers) execFileSync("docker", ["rm", "-f", c], { stdio: "ignore" });
  for (const v of ["db", "app", "solo"]) execFileSync("docker", ["volume", "rm", "-f", `soak-${id}-${v}`], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
}
