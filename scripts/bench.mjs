#!/usr/bin/env node
// Benchmark (not part of the tests): kopi-docka against raw Kopia on the same data, in one run, on
// fresh repositories. See docs/benchmarks.md for what it measures and the latest results.
//
//   npm run bench -- [--size-gib 2] [--small-files 20000] [--large-files 4] [--change-percent 1] [--repeats 3]
//                    [--only data|scale|files] [--scale-containers 100] [--scale-units 40] [--files 500000]
//                    [--out docs/benchmarks.json] [--docs docs/benchmarks.md] [--no-docs]
//                    [--work-dir DIR] [--keep]
import { execFile, spawn } from "node:child_process";
import { createCipheriv, createHash, randomUUID } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync, promises as fs, readFileSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
// The content hash kopi-docka's init gives a new repository (built by `npm run bench` first).
import { CONTENT_HASH, GENERATED_PASSWORD_KEY_DERIVATION } from "../dist/adapters/kopia/argv.js";
import { MIN_PARALLEL_FILE_READS } from "../dist/app/policy.js";

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "dist/cli/main.js");
const RSS_HOOK = path.join(ROOT, "scripts/bench-rss.mjs");
const MiB = 1024 * 1024;
/** Raw Kopia restoring without its caches (a connection made with --content-cache-size-mb=0). */
const RAW_UNCACHED = "kopia, no cache";
/** Raw Kopia as it comes: a repository with Kopia's own defaults (content hash, no compression). */
const RAW_DEFAULTS = "kopia, Kopia's defaults";
/** How many files kopi-docka has Kopia read at once on this machine, where it sets a number (app/policy.ts). */
const KD_PARALLEL = os.availableParallelism() < MIN_PARALLEL_FILE_READS ? MIN_PARALLEL_FILE_READS : undefined;
/** Raw Kopia told to read as many files at once as kopi-docka has it read here. */
const RAW_PARALLEL = `kopia --parallel=${KD_PARALLEL}`;

const { values: opt } = parseArgs({
  options: {
    "size-gib": { type: "string", default: "2" },
    "small-files": { type: "string", default: "20000" },
    "large-files": { type: "string", default: "4" },
    "change-percent": { type: "string", default: "1" },
    repeats: { type: "string", default: "3" },
    only: { type: "string", default: "all" },
    "scale-containers": { type: "string", default: "100" },
    "scale-units": { type: "string", default: "40" },
    "scale-repeats": { type: "string", default: "5" },
    files: { type: "string", default: "500000" },
    out: { type: "string", default: path.join(ROOT, "docs/benchmarks.json") },
    docs: { type: "string", default: path.join(ROOT, "docs/benchmarks.md") },
    "no-docs": { type: "boolean", default: false },
    "work-dir": { type: "string", default: os.tmpdir() },
    "kopia-binary": { type: "string" },
    image: { type: "string", default: process.env.KOPI_DOCKA_TEST_IMAGE ?? "kopi-docka-test:latest" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 8).join("\n"));
  process.exit(0);
}
const num = (name, min) => {
  const v = Number(opt[name]);
  if (!Number.isFinite(v) || v < min) {
    console.error(`bench: --${name} must be a number >= ${min} (got ${opt[name]})`);
    process.exit(2);
  }
  return v;
};
const sizeBytes = Math.round(num("size-gib", 0.01) * 1024 * MiB);
const smallFiles = Math.round(num("small-files", 100));
const largeFiles = Math.round(num("large-files", 1));
const changePercent = num("change-percent", 0.01);
const repeats = Math.round(num("repeats", 1));
const scaleContainers = Math.round(num("scale-containers", 2));
const scaleUnits = Math.round(num("scale-units", 1));
const scaleRepeats = Math.round(num("scale-repeats", 1));
const manyFiles = Math.round(num("files", 0));
if (!["all", "data", "scale", "files"].includes(opt.only)) {
  console.error(`bench: --only must be all, data, scale or files (got ${opt.only})`);
  process.exit(2);
}
if (scaleUnits > scaleContainers) {
  console.error("bench: --scale-units cannot exceed --scale-containers");
  process.exit(2);
}

const id = randomUUID().slice(0, 8);
const LABEL = `kopi-docka-bench=${id}`;
const log = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

async function run(cmd, args, options = {}) {
  const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 256 * MiB, encoding: "utf8", ...options });
  return stdout.trim();
}
const docker = (...args) => run("docker", args);

/** Runs a command, timing it; for kopi-docka also its own peak RSS. */
function timed(cmd, args, { env = {}, rss = false } = {}) {
  return new Promise((resolve, reject) => {
    const rssFile = rss ? path.join(os.tmpdir(), `kopi-docka-bench-rss-${id}-${randomUUID()}`) : undefined;
    const fullArgs = rss ? ["--import", RSS_HOOK, ...args] : args;
    const started = process.hrtime.bigint();
    const child = spawn(cmd, fullArgs, {
      env: { ...process.env, ...env, ...(rssFile ? { KOPI_DOCKA_BENCH_RSS_FILE: rssFile } : {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", async (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      let peakRssKiB;
      let memory;
      if (rssFile) {
        memory = JSON.parse(await fs.readFile(rssFile, "utf8").catch(() => "{}"));
        peakRssKiB = memory.maxRssKiB ?? Number.NaN;
        await fs.rm(rssFile, { force: true });
      }
      if (code !== 0) reject(new Error(`${path.basename(cmd)} ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ wallMs, stdout, stderr, peakRssKiB, memory });
    });
  });
}

async function repoBytes(dir) {
  return Number((await run("du", ["-sb", dir])).split("\t")[0]);
}

// ---------- reproducible data ----------

const ZEROS = Buffer.alloc(4 * MiB);
/** A deterministic stream of incompressible bytes (AES-256-CTR of zeros) keyed by a seed. */
function byteStream(seed) {
  const cipher = createCipheriv("aes-256-ctr", createHash("sha256").update(seed).digest(), Buffer.alloc(16));
  return (n) => (n <= ZEROS.length ? cipher.update(ZEROS.subarray(0, n)) : cipher.update(Buffer.alloc(n)));
}
/** A deterministic integer generator in [0, n). */
function intStream(seed) {
  const bytes = byteStream(`int:${seed}`);
  return (n) => bytes(4).readUInt32LE(0) % n;
}
function writeFileFrom(file, size, bytes, flags = "w", position = 0) {
  const fd = openSync(file, flags);
  try {
    let done = 0;
    while (done < size) {
      const n = Math.min(4 * MiB, size - done);
      writeSync(fd, bytes(n), 0, n, position + done);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}
const smallSize = (ints) => 1024 + ints(15 * 1024); // 1-16 KiB, about 8.5 KiB on average
const smallPath = (root, i) => {
  const leaf = Math.floor(i / 100);
  return path.join(root, "files", `d${String(Math.floor(leaf / 10)).padStart(3, "0")}`, `s${leaf % 10}`, `f${i}.bin`);
};

async function buildDataset(root) {
  const ints = intStream("sizes");
  const bytes = byteStream("small");
  let smallBytes = 0;
  for (let i = 0; i < smallFiles; i++) {
    const file = smallPath(root, i);
    if (i % 100 === 0) await fs.mkdir(path.dirname(file), { recursive: true });
    const size = smallSize(ints);
    await fs.writeFile(file, bytes(size));
    smallBytes += size;
  }
  const eachLarge = Math.max(MiB, Math.floor((sizeBytes - smallBytes) / largeFiles / MiB) * MiB);
  await fs.mkdir(path.join(root, "blobs"), { recursive: true });
  await fs.mkdir(path.join(root, "db"), { recursive: true });
  const large = [];
  for (let i = 0; i < largeFiles; i++) {
    const file = i === 0 ? path.join(root, "db", "app.db") : path.join(root, "blobs", `blob-${i}.bin`);
    writeFileFrom(file, eachLarge, byteStream(`large:${i}`));
    large.push(file);
  }
  return { smallBytes, largeBytes: eachLarge * largeFiles, eachLarge, db: large[0], totalBytes: smallBytes + eachLarge * largeFiles };
}

/**
 * Changes changePercent of the data: that share of the small files rewritten, half of it added and
 * half deleted, and the rest of the budget rewritten in place, contiguously, inside the database
 * file. Returns the bytes that are new.
 */
async function changeDataset(root, dataset, round) {
  const ints = intStream(`change:${round}`);
  const bytes = byteStream(`change:${round}`);
  const pick = new Set();
  const changeCount = Math.max(1, Math.round((smallFiles * changePercent) / 100));
  const addDelete = Math.max(1, Math.round(changeCount / 2));
  // Files deleted by an earlier round are not picked again.
  dataset.deleted ??= new Set();
  while (pick.size < Math.min(smallFiles - dataset.deleted.size, changeCount + addDelete)) {
    const i = ints(smallFiles);
    if (!dataset.deleted.has(i)) pick.add(i);
  }
  const picked = [...pick];
  let changed = 0;
  for (const i of picked.slice(0, changeCount)) {
    const size = (await fs.stat(smallPath(root, i))).size;
    await fs.writeFile(smallPath(root, i), bytes(size));
    changed += size;
  }
  for (const i of picked.slice(changeCount)) {
    await fs.rm(smallPath(root, i));
    dataset.deleted.add(i);
  }
  const sizes = intStream(`added:${round}`);
  for (let k = 0; k < addDelete; k++) {
    const size = smallSize(sizes);
    const dir = path.dirname(smallPath(root, ints(smallFiles)));
    await fs.writeFile(path.join(dir, `new-${round}-${k}.bin`), bytes(size));
    changed += size;
  }
  const budget = Math.round((dataset.totalBytes * changePercent) / 100) - changed;
  const dbRewrite = Math.min(dataset.eachLarge, Math.max(MiB, Math.round(budget / MiB) * MiB));
  // In place, a different region each round (40%, 50%, ... of the file).
  const offset = Math.floor(((dataset.eachLarge - dbRewrite) * ((0.4 + 0.1 * round) % 1)) / 4096) * 4096;
  writeFileFrom(dataset.db, dbRewrite, bytes, "r+", offset);
  return {
    smallChanged: changeCount,
    smallAdded: addDelete,
    smallDeleted: addDelete,
    dbRewrittenBytes: dbRewrite,
    bytesChanged: changed + dbRewrite,
  };
}

/** A digest of a tree: every path, type, size and file content, in sorted order. */
async function treeDigest(root) {
  const hash = createHash("sha256");
  const walk = async (dir, rel) => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        hash.update(`d ${r}\n`);
        await walk(full, r);
      } else {
        hash.update(`f ${r} ${(await fs.stat(full)).size}\n`);
        for await (const chunk of createReadStream(full, { highWaterMark: 4 * MiB })) hash.update(chunk);
      }
    }
  };
  await walk(root, "");
  return hash.digest("hex");
}

// ---------- repositories ----------

async function kopiDockaWorkspace(name) {
  const dir = path.join(work, name);
  await fs.mkdir(dir, { recursive: true });
  const password = `bench-${randomUUID()}`;
  await fs.writeFile(path.join(dir, "password"), `${password}\n`, { mode: 0o600 });
  const config = path.join(dir, "config.json");
  const kopiaConfig = path.join(dir, "kopia", "repository.config");
  await fs.writeFile(
    config,
    JSON.stringify({
      kopia: {
        kopia_params: `filesystem --path ${path.join(dir, "repo")}`,
        password_file: path.join(dir, "password"),
        config_file: kopiaConfig,
        cache_directory: path.join(dir, "cache"),
        // What init writes with the password it generates (README's first command).
        key_derivation: GENERATED_PASSWORD_KEY_DERIVATION,
        ...(opt["kopia-binary"] ? { binary: opt["kopia-binary"] } : {}),
      },
      backup: {
        stop_timeout: 30,
        start_timeout: 60,
        state_directory: path.join(dir, "state"),
        staging_directory: path.join(dir, "staging"),
        base_path: path.join(dir, "base"),
      },
      retention: { latest: 100, hourly: 0, daily: 0, weekly: 0, monthly: 0, annual: 0 },
    }),
    { mode: 0o600 },
  );
  const ws = {
    dir,
    repo: path.join(dir, "repo"),
    kopd: (args) => timed(process.execPath, [CLI, "--config", config, ...args, "--json"], { rss: true }),
    kopia: (args) =>
      run("kopia", ["--config-file", kopiaConfig, "--log-dir", path.join(dir, "kopia-logs"), ...args], {
        env: { ...process.env, KOPIA_PASSWORD: password },
      }),
  };
  await ws.kopd(["init"]);
  return ws;
}

/**
 * Raw Kopia's repository. By default made as kopi-docka makes its own (the same content hash, key
 * derivation and compression), so that the ratios measure kopi-docka's own cost; with `kopiaDefaults`, as Kopia
 * makes one by itself (the reference of what the repository's format saves).
 */
async function rawKopiaWorkspace(name, { kopiaDefaults = false } = {}) {
  const dir = path.join(work, name);
  await fs.mkdir(dir, { recursive: true });
  const env = { KOPIA_PASSWORD: `bench-${randomUUID()}`, KOPIA_CHECK_FOR_UPDATES: "false" };
  const logs = ["--log-dir", path.join(dir, "logs")];
  const base = ["--config-file", path.join(dir, "repository.config"), ...logs];
  const ws = {
    dir,
    repo: path.join(dir, "repo"),
    kopia: (args) => timed("kopia", [...base, ...args], { env }),
  };
  await ws.kopia([
    "repository",
    "create",
    "filesystem",
    "--path",
    ws.repo,
    "--cache-directory",
    path.join(dir, "cache"),
    ...(kopiaDefaults
      ? []
      : [`--block-hash=${CONTENT_HASH}`, `--format-block-key-derivation-algorithm=${GENERATED_PASSWORD_KEY_DERIVATION}`]),
  ]);
  if (kopiaDefaults) return ws;
  // The same global policy kopi-docka sets (its default compression), so both compress alike.
  await ws.kopia(["policy", "set", "--global", "--compression=zstd"]);
  // A second connection without Kopia's caches (`--content-cache-size-mb=0`), as kopi-docka reads
  // a restore's data from a repository on a file system: raw Kopia's restore with the same
  // setting shows kopi-docka's own cost beside the one it saves.
  const uncachedBase = ["--config-file", path.join(dir, "repository-uncached.config"), ...logs];
  ws.kopiaUncached = (args) => timed("kopia", [...uncachedBase, ...args], { env });
  await ws.kopiaUncached(["repository", "connect", "filesystem", "--path", ws.repo, "--content-cache-size-mb=0"]);
  return ws;
}

/** Downtime seen by the engine: the first stop signal to a unit container until the last start. */
async function engineDowntimeMs(project, sinceNs, untilNs) {
  return (await engineDowntime(project, sinceNs, untilNs))?.downtimeMs;
}

/** The same, and when the last of the unit's containers had stopped (epoch ms). */
async function engineDowntime(project, sinceNs, untilNs) {
  const out = await docker(
    "events",
    "--since",
    `${sinceNs / 1_000_000_000n}.${String(sinceNs % 1_000_000_000n).padStart(9, "0")}`,
    "--until",
    `${untilNs / 1_000_000_000n}.${String(untilNs % 1_000_000_000n).padStart(9, "0")}`,
    "--filter",
    "type=container",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--format",
    "{{json .}}",
  );
  const events = out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const down = events.filter((e) => ["kill", "die", "stop"].includes(e.Action)).map((e) => BigInt(e.timeNano));
  const up = events.filter((e) => e.Action === "start").map((e) => BigInt(e.timeNano));
  if (down.length === 0 || up.length === 0) return undefined;
  const first = down.reduce((a, b) => (a < b ? a : b));
  const last = up.reduce((a, b) => (a > b ? a : b));
  const stopped = events.filter((e) => e.Action === "stop").map((e) => BigInt(e.timeNano));
  const allStopped = stopped.length > 0 ? stopped.reduce((a, b) => (a > b ? a : b)) : first;
  return { downtimeMs: Number(last - first) / 1e6, allStoppedMs: Number(allStopped / 1_000_000n) };
}
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/**
 * Kopia's own time for the data snapshots of a run (its manifests' start and end times). A
 * snapshot kopi-docka started ahead of the stop (the gate) begins when it was let go, once the
 * containers had stopped: its time is counted from `notBeforeMs`, not from its manifest's start.
 */
async function kopiaSnapshotMs(ws, ids, notBeforeMs = 0) {
  if (ids.length === 0) return undefined;
  const all = JSON.parse(await ws.kopia(["snapshot", "list", "--all", "--json"]));
  return all
    .filter((s) => ids.includes(s.id))
    .reduce((sum, s) => sum + (Date.parse(s.endTime) - Math.max(Date.parse(s.startTime), notBeforeMs)), 0);
}

// ---------- the data benchmark ----------

/**
 * Every case starts alike: no dirty pages (the previous case's writes are not flushed on its
 * time) and, where root may, an empty page cache, so that every tool reads its input from disk.
 * (Without that, what the kernel happens to keep cached after gigabytes of writes decides.)
 */
async function settle() {
  await run("sync", []);
  if (dropCaches) await fs.writeFile("/proc/sys/vm/drop_caches", "3\n");
}

const median = (values) => {
  const v = values.filter((n) => n !== undefined && !Number.isNaN(n)).sort((p, q) => p - q);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};
/** The round's order of the tools: rotated each round, so no tool always runs first. */
const rotated = (items, round) => items.map((_, i) => items[(i + round) % items.length]);

async function dataBenchmark() {
  const project = `kdbench${id}`;
  const volume = `${project}_data`;
  log(`dataset: ${(sizeBytes / 1024 / MiB).toFixed(2)} GiB, ${smallFiles} small files, ${largeFiles} large files; ${repeats} rounds`);
  await docker(
    "volume",
    "create",
    "--label",
    LABEL,
    "--label",
    `com.docker.compose.project=${project}`,
    "--label",
    "com.docker.compose.volume=data",
    volume,
  );
  const mountpoint = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", volume);
  const built = Date.now();
  const dataset = await buildDataset(mountpoint);
  log(`dataset built in ${((Date.now() - built) / 1000).toFixed(1)} s (${(dataset.totalBytes / MiB).toFixed(0)} MiB)`);
  const compose = (service, extra) => [
    "run",
    "-d",
    "--init",
    "--name",
    `${project}-${service}`,
    "--label",
    LABEL,
    "--label",
    `com.docker.compose.project=${project}`,
    "--label",
    `com.docker.compose.service=${service}`,
    ...extra,
    opt.image,
    "sleep",
    "1000000",
  ];
  // As compose v2 labels them: every container says what it depends on, db nothing.
  await docker(...compose("db", ["-v", `${volume}:/var/lib/db`, "--label", "com.docker.compose.depends_on="]));
  await docker(...compose("web", ["--label", "com.docker.compose.depends_on=db:service_started:false"]));

  const samples = [];
  const rawBackup = async (raw, phase, round, tool = "kopia") => {
    await settle();
    const before = await repoBytes(raw.repo);
    const parallel = tool === RAW_PARALLEL ? [`--parallel=${KD_PARALLEL}`] : [];
    const r = await raw.kopia(["snapshot", "create", mountpoint, "--json", ...parallel]);
    const snap = JSON.parse(r.stdout);
    const c = {
      phase,
      tool,
      round,
      wallMs: r.wallMs,
      kopiaSnapshotMs: Date.parse(snap.endTime) - Date.parse(snap.startTime),
      repoBytesAdded: (await repoBytes(raw.repo)) - before,
      snapshotId: snap.id,
    };
    samples.push(c);
    log(`${phase} ${round + 1}/${repeats} raw ${tool}: ${s(c.wallMs)}, +${mib(c.repoBytesAdded)}`);
  };
  const kdBackup = async (ws, format, phase, round) => {
    await settle();
    const before = await repoBytes(ws.repo);
    const since = nowNs();
    const r = await ws.kopd(["backup", "--unit", project, "--backup-format", format]);
    const until = nowNs();
    const unit = JSON.parse(r.stdout).units[0];
    if (unit.status !== "ok") throw new Error(`kopi-docka ${format} backup: ${unit.error}`);
    const dataIds = unit.items.filter((i) => i.kind === "volume" || i.kind === "bind").map((i) => i.snapshotId);
    const engine = await engineDowntime(project, since, until);
    const c = {
      phase,
      tool: `kopi-docka ${format}`,
      round,
      wallMs: r.wallMs,
      downtimeMs: engine?.downtimeMs,
      reportedDowntimeMs: unit.downtimeMs,
      kopiaSnapshotMs: await kopiaSnapshotMs(ws, dataIds, engine?.allStoppedMs),
      repoBytesAdded: (await repoBytes(ws.repo)) - before,
      // The changed files kopi-docka read into the page cache for Kopia from the stop on.
      readAheadBytes: unit.items.reduce((sum, i) => sum + (i.readAheadBytes ?? 0), 0),
      peakRssMiB: r.peakRssKiB / 1024,
      memoryPeaks: r.memory,
    };
    samples.push(c);
    log(
      `${phase} ${round + 1}/${repeats} kopi-docka ${format}: ${s(c.wallMs)}, down ${s(c.downtimeMs)}, +${mib(c.repoBytesAdded)}, ${c.peakRssMiB.toFixed(0)} MiB RSS${c.readAheadBytes ? `, ${mib(c.readAheadBytes)} read ahead` : ""}`,
    );
  };

  // 1. First backups: each round on fresh repositories (the earlier round's are removed).
  // Raw Kopia reading as many files at once as kopi-docka has it read, where kopi-docka sets a
  // number: what is left is kopi-docka's own cost.
  const tools = ["raw", "direct", "tar", "rawDefaults", ...(KD_PARALLEL ? ["rawParallel"] : [])];
  const backupWith = async (ws, tool, phase, round) => {
    if (tool === "raw") await rawBackup(ws.raw, phase, round);
    else if (tool === "rawDefaults") await rawBackup(ws.rawDefaults, phase, round, RAW_DEFAULTS);
    else if (tool === "rawParallel") await rawBackup(ws.rawParallel, phase, round, RAW_PARALLEL);
    else await kdBackup(ws[tool], tool, phase, round);
  };
  let workspaces;
  for (let round = 0; round < repeats; round++) {
    if (workspaces) for (const ws of Object.values(workspaces)) await fs.rm(ws.dir, { recursive: true, force: true });
    workspaces = {
      raw: await rawKopiaWorkspace(`raw-${round}`),
      rawDefaults: await rawKopiaWorkspace(`raw-defaults-${round}`, { kopiaDefaults: true }),
      direct: await kopiDockaWorkspace(`direct-${round}`),
      tar: await kopiDockaWorkspace(`tar-${round}`),
      ...(KD_PARALLEL ? { rawParallel: await rawKopiaWorkspace(`raw-parallel-${round}`) } : {}),
    };
    for (const tool of rotated(tools, round)) await backupWith(workspaces, tool, "first backup", round);
  }
  const { raw, direct, tar } = workspaces;

  // 2. Each round changes the data anew, then backs it up with each tool.
  const changes = [];
  for (let round = 0; round < repeats; round++) {
    const change = await changeDataset(mountpoint, dataset, round);
    changes.push(change);
    log(`change ${round + 1}/${repeats}: ${mib(change.bytesChanged)} of new bytes`);
    for (const tool of rotated(tools, round)) await backupWith(workspaces, tool, "second backup", round);
    for (const c of samples.filter((c) => c.phase === "second backup" && c.round === round))
      c.growthPerChangedByte = c.repoBytesAdded / change.bytesChanged;
  }
  const expected = await treeDigest(mountpoint);
  const verified = async (dir) => {
    const digest = await treeDigest(dir);
    if (digest !== expected) throw new Error(`restored tree at ${dir} differs from the backed-up data`);
    return true;
  };

  // 3. Restores of the latest snapshot: raw kopia into an empty directory; kopi-docka over the
  //    unit's live data, damaged first so that the restore has something to put right.
  const rawSnapshot = samples.filter((c) => c.tool === "kopia" && c.phase === "second backup").at(-1).snapshotId;
  for (let round = 0; round < repeats; round++) {
    for (const tool of rotated(["raw", "direct", "tar"], round)) {
      if (tool === "raw") {
        // Raw Kopia as it comes (the floor of the targets), and without its caches (the setting
        // kopi-docka's restore uses): one after the other, their order changing each round.
        const ways = [
          { tool: "kopia", kopia: raw.kopia },
          { tool: RAW_UNCACHED, kopia: raw.kopiaUncached },
        ];
        for (const way of round % 2 === 0 ? ways : ways.reverse()) {
          const target = path.join(work, "raw-restore");
          await fs.rm(target, { recursive: true, force: true });
          await settle();
          // Raw Kopia's restore, then its data written to disk (`sync -f`): kopi-docka's restore
          // flushes the new data before it swaps it in, so the floor is the same durable result.
          const r = await way.kopia(["snapshot", "restore", rawSnapshot, target]);
          const flush = await timed("sync", ["-f", target]);
          samples.push({
            phase: "restore",
            tool: way.tool,
            round,
            wallMs: r.wallMs + flush.wallMs,
            kopiaOnlyWallMs: r.wallMs,
            flushMs: flush.wallMs,
            verified: await verified(target),
          });
          log(`restore ${round + 1}/${repeats} raw ${way.tool}: ${s(r.wallMs)} + ${s(flush.wallMs)} to disk`);
          await fs.rm(target, { recursive: true, force: true });
        }
        continue;
      }
      await fs.rm(path.join(mountpoint, "files", "d000"), { recursive: true, force: true });
      await fs.truncate(dataset.db, 4096);
      await settle();
      const since = nowNs();
      const r = await (tool === "direct" ? direct : tar).kopd(["restore", "--unit", project, "--yes"]);
      const until = nowNs();
      const report = JSON.parse(r.stdout);
      const c = {
        phase: "restore",
        tool: `kopi-docka ${tool}`,
        round,
        wallMs: r.wallMs,
        // Its own restore of the data beside the volume (kopia, the metadata record, the flush).
        stageMs: report.items.reduce((sum, i) => sum + (i.stageMs ?? 0), 0),
        downtimeMs: await engineDowntimeMs(project, since, until),
        peakRssMiB: r.peakRssKiB / 1024,
        memoryPeaks: r.memory,
        verified: await verified(mountpoint),
      };
      samples.push(c);
      log(`restore ${round + 1}/${repeats} kopi-docka ${tool}: ${s(c.wallMs)}, down ${s(c.downtimeMs)}, ${c.peakRssMiB.toFixed(0)} MiB RSS`);
    }
  }

  // Ratios to raw Kopia measured in the same round, then the median of each case over the rounds.
  /** The case of another tool in c's phase and round (none for c's own tool). */
  const sameRound = (c, tool) =>
    c.tool === tool ? undefined : samples.find((r) => r.phase === c.phase && r.round === c.round && r.tool === tool);
  for (const c of samples) {
    const rawCase = sameRound(c, "kopia");
    if (!rawCase) continue;
    c.wallRatioToKopia = c.wallMs / rawCase.wallMs;
    c.wallOverKopiaMs = c.wallMs - rawCase.wallMs;
    if (rawCase.kopiaOnlyWallMs) c.wallRatioToKopiaOnly = c.wallMs / rawCase.kopiaOnlyWallMs;
    const uncached = sameRound(c, RAW_UNCACHED);
    if (uncached) c.wallRatioToKopiaUncached = c.wallMs / uncached.wallMs;
    const defaults = sameRound(c, RAW_DEFAULTS);
    if (defaults) c.wallRatioToKopiaDefaults = c.wallMs / defaults.wallMs;
    const parallel = sameRound(c, RAW_PARALLEL);
    if (parallel) {
      c.wallRatioToKopiaParallel = c.wallMs / parallel.wallMs;
      c.wallOverKopiaParallelMs = c.wallMs - parallel.wallMs;
    }
  }
  const cases = [];
  for (const phase of ["first backup", "second backup", "restore"])
    for (const tool of ["kopia", RAW_UNCACHED, RAW_DEFAULTS, RAW_PARALLEL, "kopi-docka direct", "kopi-docka tar"]) {
      const of = samples.filter((c) => c.phase === phase && c.tool === tool);
      if (of.length === 0) continue;
      const pick = (key) => median(of.map((c) => c[key]));
      const walls = of.map((c) => c.wallMs);
      cases.push({
        phase,
        tool,
        rounds: of.length,
        wallMs: pick("wallMs"),
        wallMinMs: Math.min(...walls),
        wallMaxMs: Math.max(...walls),
        wallRatioToKopia: pick("wallRatioToKopia"),
        wallRatioToKopiaOnly: pick("wallRatioToKopiaOnly"),
        wallRatioToKopiaUncached: pick("wallRatioToKopiaUncached"),
        wallRatioToKopiaDefaults: pick("wallRatioToKopiaDefaults"),
        wallRatioToKopiaParallel: pick("wallRatioToKopiaParallel"),
        wallOverKopiaParallelMs: pick("wallOverKopiaParallelMs"),
        kopiaOnlyWallMs: pick("kopiaOnlyWallMs"),
        flushMs: pick("flushMs"),
        wallOverKopiaMs: pick("wallOverKopiaMs"),
        downtimeMs: pick("downtimeMs"),
        kopiaSnapshotMs: pick("kopiaSnapshotMs"),
        stageMs: pick("stageMs"),
        downtimeOverKopiaMs: median(of.map((c) => (c.downtimeMs === undefined ? undefined : c.downtimeMs - c.kopiaSnapshotMs))),
        repoBytesAdded: pick("repoBytesAdded"),
        growthPerChangedByte: pick("growthPerChangedByte"),
        peakRssMiB: of.some((c) => c.peakRssMiB) ? Math.max(...of.map((c) => c.peakRssMiB ?? 0)) : undefined,
        verified: phase === "restore" ? of.every((c) => c.verified) : undefined,
      });
    }
  return {
    dataset: {
      totalBytes: dataset.totalBytes,
      smallFiles,
      smallBytes: dataset.smallBytes,
      largeFiles,
      largeFileBytes: dataset.eachLarge,
      changePercent,
      ...changes[0],
      bytesChangedPerRound: changes.map((c) => c.bytesChanged),
    },
    repeats,
    cases,
    samples,
  };
}

// ---------- the scale benchmark ----------

async function scaleBenchmark() {
  log(`scale: ${scaleContainers} containers in ${scaleUnits} units`);
  // Units: about 60% compose projects (the containers beyond one per unit go to them), the rest standalone.
  const projects = Math.max(1, Math.min(scaleUnits, Math.round(scaleUnits * 0.6)));
  const standalone = scaleUnits - projects;
  const inProjects = scaleContainers - standalone;
  const specs = [];
  const binds = path.join(work, "scale-binds");
  for (let p = 0; p < projects; p++) {
    const name = `kdscale${id}p${p}`;
    const dir = path.join(work, "scale-stacks", name);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, "docker-compose.yml"), "services: {}\n");
    const count = Math.floor(inProjects / projects) + (p < inProjects % projects ? 1 : 0);
    for (let k = 0; k < count; k++) {
      const service = `svc${k}`;
      const labels = [
        `com.docker.compose.project=${name}`,
        `com.docker.compose.service=${service}`,
        `com.docker.compose.project.working_dir=${dir}`,
        `com.docker.compose.project.config_files=${path.join(dir, "docker-compose.yml")}`,
        // As compose v2 writes it on every container (svc0's empty).
        `com.docker.compose.depends_on=${k > 0 ? `svc${k - 1}:service_started:false` : ""}`,
      ];
      specs.push({ name: `${name}-${service}-1`, labels, volume: `${name}_${service}`, bind: k === 0 ? path.join(binds, name) : undefined });
    }
  }
  for (let s = 0; s < standalone; s++) {
    const name = `kdscale${id}s${s}`;
    specs.push({ name, labels: [], volume: `${name}-data`, bind: s % 2 === 0 ? path.join(binds, name) : undefined });
  }
  const create = async (spec) => {
    if (spec.bind) {
      await fs.mkdir(spec.bind, { recursive: true });
      await fs.writeFile(path.join(spec.bind, "settings.conf"), "x=1\n");
    }
    await docker("volume", "create", "--label", LABEL, spec.volume);
    await docker(
      "run",
      "-d",
      "--init",
      "--name",
      spec.name,
      "--label",
      LABEL,
      ...spec.labels.flatMap((l) => ["--label", l]),
      "-v",
      `${spec.volume}:/data`,
      ...(spec.bind ? ["-v", `${spec.bind}:/etc/app`] : []),
      opt.image,
      "sleep",
      "1000000",
    );
  };
  const queue = [...specs];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let s = queue.shift(); s; s = queue.shift()) await create(s);
    }),
  );
  const ws = await kopiDockaWorkspace("scale");
  const measure = async (args) => {
    const samples = [];
    let report;
    for (let i = 0; i < scaleRepeats; i++) {
      const r = await ws.kopd(args);
      samples.push({ wallMs: r.wallMs, peakRssMiB: r.peakRssKiB / 1024 });
      report = JSON.parse(r.stdout);
    }
    const walls = samples.map((s) => s.wallMs).sort((a, b) => a - b);
    return {
      report,
      medianWallMs: walls[Math.floor(walls.length / 2)],
      maxWallMs: walls.at(-1),
      peakRssMiB: Math.max(...samples.map((s) => s.peakRssMiB)),
    };
  };
  const list = await measure(["list"]);
  const dry = await measure(["backup", "--dry-run"]);
  const ours = (name) => name.startsWith(`kdscale${id}`);
  const units = list.report.units ?? [];
  const result = {
    containers: scaleContainers,
    units: scaleUnits,
    hostContainers: (await docker("ps", "-aq")).split("\n").filter(Boolean).length,
    unitsListed: units.filter((u) => ours(u.name)).length,
    repeats: scaleRepeats,
    cases: [
      { command: "list", medianWallMs: list.medianWallMs, maxWallMs: list.maxWallMs, peakRssMiB: list.peakRssMiB },
      { command: "backup --dry-run", medianWallMs: dry.medianWallMs, maxWallMs: dry.maxWallMs, peakRssMiB: dry.peakRssMiB },
    ],
  };
  if (result.unitsListed !== scaleUnits)
    throw new Error(`list showed ${result.unitsListed} of the ${scaleUnits} bench units`);
  for (const c of result.cases)
    log(`scale ${c.command}: median ${(c.medianWallMs / 1000).toFixed(2)} s, max ${(c.maxWallMs / 1000).toFixed(2)} s, ${c.peakRssMiB.toFixed(0)} MiB RSS`);
  return result;
}

// ---------- the many-files benchmark ----------

/**
 * Memory and time for a volume of many tiny files (what grows with the number of files, not
 * their size: the walks and the metadata record). One standalone-like unit (a one-container
 * compose project), the files in directories of 500; a first backup by each tool untimed, then
 * each round one file changes and each tool's incremental backup is measured.
 */
async function filesBenchmark() {
  const project = `kdfiles${id}`;
  const volume = `${project}_data`;
  log(`files: ${manyFiles} files; ${repeats} rounds`);
  await docker("volume", "create", "--label", LABEL, "--label", `com.docker.compose.project=${project}`, volume);
  const mountpoint = await docker("volume", "inspect", "--format", "{{.Mountpoint}}", volume);
  const built = Date.now();
  const perDir = 500;
  for (let d = 0; d * perDir < manyFiles; d++) {
    const dir = path.join(mountpoint, `d${String(d).padStart(5, "0")}`);
    await fs.mkdir(dir);
    for (let f = 0; f < perDir && d * perDir + f < manyFiles; f++) {
      const fd = openSync(path.join(dir, `file-${String(f).padStart(4, "0")}.dat`), "w");
      writeSync(fd, "x");
      closeSync(fd);
    }
  }
  log(`files built in ${((Date.now() - built) / 1000).toFixed(1)} s`);
  await docker(
    "run",
    "-d",
    "--init",
    "--name",
    `${project}-app`,
    "--label",
    LABEL,
    "--label",
    `com.docker.compose.project=${project}`,
    "--label",
    "com.docker.compose.service=app",
    "-v",
    `${volume}:/data`,
    opt.image,
    "sleep",
    "1000000",
  );
  const raw = await rawKopiaWorkspace("files-raw");
  const kd = await kopiDockaWorkspace("files-kd");
  await raw.kopia(["snapshot", "create", mountpoint, "--json"]);
  const first = await kd.kopd(["backup", "--unit", project]);
  log(`files first backup: kopi-docka ${s(first.wallMs)}, ${(first.peakRssKiB / 1024).toFixed(0)} MiB RSS`);
  const samples = [{ tool: "kopi-docka direct", phase: "first backup", round: 0, wallMs: first.wallMs, peakRssMiB: first.peakRssKiB / 1024 }];
  for (let round = 0; round < repeats; round++) {
    await fs.appendFile(path.join(mountpoint, "d00000", "file-0000.dat"), `${round}`);
    for (const tool of rotated(["kopia", "kopi-docka direct"], round)) {
      await settle();
      if (tool === "kopia") {
        const r = await raw.kopia(["snapshot", "create", mountpoint, "--json"]);
        samples.push({ tool, phase: "second backup", round, wallMs: r.wallMs });
        log(`files ${round + 1}/${repeats} raw kopia: ${s(r.wallMs)}`);
      } else {
        const since = nowNs();
        const r = await kd.kopd(["backup", "--unit", project]);
        const unit = JSON.parse(r.stdout).units[0];
        if (unit.status !== "ok") throw new Error(`kopi-docka backup of many files: ${unit.error}`);
        const engine = await engineDowntime(project, since, nowNs());
        samples.push({ tool, phase: "second backup", round, wallMs: r.wallMs, downtimeMs: engine?.downtimeMs, peakRssMiB: r.peakRssKiB / 1024 });
        log(`files ${round + 1}/${repeats} kopi-docka: ${s(r.wallMs)}, down ${s(engine?.downtimeMs)}, ${(r.peakRssKiB / 1024).toFixed(0)} MiB RSS`);
      }
    }
  }
  const pick = (tool, phase) => samples.filter((c) => c.tool === tool && c.phase === phase);
  const kdSecond = pick("kopi-docka direct", "second backup");
  return {
    files: manyFiles,
    repeats,
    samples,
    rawSecondWallMs: median(pick("kopia", "second backup").map((c) => c.wallMs)),
    secondWallMs: median(kdSecond.map((c) => c.wallMs)),
    secondDowntimeMs: median(kdSecond.map((c) => c.downtimeMs)),
    firstWallMs: first.wallMs,
    peakRssMiB: Math.max(...samples.filter((c) => c.peakRssMiB !== undefined).map((c) => c.peakRssMiB)),
  };
}

// ---------- machine, targets, report ----------

/** The file system type and mount options of the mount holding a path (from /proc/mounts). */
function filesystemOf(dir) {
  try {
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f.length >= 4 && (dir === f[1] || dir.startsWith(f[1] === "/" ? "/" : `${f[1]}/`)));
    const m = mounts.sort((a, b) => b[1].length - a[1].length)[0];
    return m ? `${m[2]} (${m[3]})` : "unknown";
  } catch {
    return "unknown";
  }
}

async function machine() {
  const cpus = os.cpus();
  const version = async (cmd, args) => run(cmd, args).catch((e) => `unknown (${e.message.split("\n")[0]})`);
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    workDirFilesystem: filesystemOf(opt["work-dir"]),
    dockerDataFilesystem: filesystemOf(await version("docker", ["info", "--format", "{{.DockerRootDir}}"])),
    docker: await version("docker", ["version", "--format", "{{.Server.Version}}"]),
    kopia: (await version("kopia", ["--version"])).split(" ")[0],
    node: process.version,
    kopiDocka: JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
    pageCacheDroppedBeforeEachCase: dropCaches,
  };
}

function targets(data, scale, files) {
  const out = [];
  const find = (phase, tool) => data?.cases.find((c) => c.phase === phase && c.tool === tool);
  if (data) {
    const kd2 = find("second backup", "kopi-docka direct");
    out.push({
      target: "second backup, direct: repository growth <= 1.5 x bytes changed",
      value: kd2.growthPerChangedByte,
      met: kd2.growthPerChangedByte <= 1.5,
    });
    const kd1 = find("first backup", "kopi-docka direct");
    const sameReads = (text) => (KD_PARALLEL && text ? ` (${text} raw ${RAW_PARALLEL}, as kopi-docka has it read here)` : "");
    out.push({
      target: `first backup, direct: wall <= 1.10 x raw kopia${sameReads(kd1.wallRatioToKopiaParallel && `${x(kd1.wallRatioToKopiaParallel)} of`)}`,
      value: kd1.wallRatioToKopia,
      met: kd1.wallRatioToKopia <= 1.1,
    });
    out.push({
      target: `second backup, direct: wall <= raw kopia + 2 s (seconds over raw)${sameReads(kd2.wallOverKopiaParallelMs !== undefined && `${(kd2.wallOverKopiaParallelMs / 1000).toFixed(2)} s over`)}`,
      value: kd2.wallOverKopiaMs / 1000,
      met: kd2.wallOverKopiaMs <= 2000,
    });
    for (const c of data.cases.filter((c) => c.downtimeOverKopiaMs !== undefined && c.phase !== "restore"))
      out.push({
        target: `${c.phase}, ${c.tool}: downtime <= unit's kopia snapshot time + 2 s (seconds over)`,
        value: c.downtimeOverKopiaMs / 1000,
        met: c.downtimeOverKopiaMs <= 2000,
      });
    for (const c of data.cases.filter((c) => c.phase === "restore" && c.tool.startsWith("kopi-docka")))
      out.push({
        target: `restore, ${c.tool}: wall <= 1.15 x raw kopia restore (with its data flushed to disk; ${x(c.wallRatioToKopiaOnly)} of kopia restore alone; ${x(c.wallRatioToKopiaUncached)} of raw kopia's restore without its caches, as kopi-docka reads)`,
        value: c.wallRatioToKopia,
        met: c.wallRatioToKopia <= 1.15,
      });
    const rss = Math.max(...data.cases.filter((c) => c.peakRssMiB).map((c) => c.peakRssMiB));
    out.push({ target: "kopi-docka peak RSS <= 150 MB (data benchmark), MiB", value: rss, met: rss * MiB <= 150e6 });
  }
  if (files) {
    out.push({
      target: `kopi-docka peak RSS <= 150 MB (${files.files} files), MiB`,
      value: files.peakRssMiB,
      met: files.peakRssMiB * MiB <= 150e6,
    });
  }
  if (scale) {
    const list = scale.cases.find((c) => c.command === "list");
    out.push({ target: `list on ${scale.containers} containers in ${scale.units} units <= 2 s`, value: list.maxWallMs / 1000, met: list.maxWallMs <= 2000 });
    const rss = Math.max(...scale.cases.map((c) => c.peakRssMiB));
    out.push({ target: "kopi-docka peak RSS <= 150 MB (scale benchmark), MiB", value: rss, met: rss * MiB <= 150e6 });
  }
  return out;
}

const s = (ms) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(2)} s`);
const mib = (b) => (b === undefined ? "–" : `${(b / MiB).toFixed(1)} MiB`);
const x = (r) => (r === undefined ? "–" : `${r.toFixed(2)}×`);

/** kopi-docka direct's wall time against raw Kopia with Kopia's defaults, as prose. */
function defaultsRatios(data) {
  const of = (phase) => data.cases.find((c) => c.phase === phase && c.tool === "kopi-docka direct")?.wallRatioToKopiaDefaults;
  const first = of("first backup");
  const second = of("second backup");
  if (first === undefined || second === undefined) return "";
  return ` (kopi-docka direct's wall time against it: ${x(first)} for the first backup, ${x(second)} for the second)`;
}

function markdown(result) {
  const m = result.machine;
  const lines = [
    `Run ${m.date.slice(0, 16).replace("T", " ")} UTC on ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB RAM, ${m.kernel}; Docker ${m.docker} (data on ${m.dockerDataFilesystem}), Kopia ${m.kopia}, Node ${m.node}, kopi-docka ${m.kopiDocka}.`,
    "",
  ];
  if (result.data) {
    const d = result.data.dataset;
    lines.push(
      `**Data:** ${mib(d.totalBytes)} in one volume of a running two-container compose unit: ${d.smallFiles} small files (${mib(d.smallBytes)}) and ${d.largeFiles} files of ${mib(d.largeFileBytes)}, one a database-like file. Change (${d.changePercent}%): ${d.smallChanged} small files rewritten, ${d.smallAdded} added, ${d.smallDeleted} deleted, ${mib(d.dbRewrittenBytes)} rewritten in place inside the database file: ${mib(d.bytesChanged)} of new bytes.`,
      "",
      `"kopia" is raw Kopia on a repository made as kopi-docka makes its own with the password init generates (content hash ${CONTENT_HASH}, key derivation ${GENERATED_PASSWORD_KEY_DERIVATION}, zstd compression): the ratios measure kopi-docka's own cost. "${RAW_DEFAULTS}" is raw Kopia on a repository as Kopia makes one by itself (BLAKE2B-256-128, scrypt-65536-8-1, no compression), for first and second backups: what the repository's format saves${defaultsRatios(result.data)}.`,
      "",
      ...(KD_PARALLEL
        ? [
            `"${RAW_PARALLEL}" is raw Kopia on a repository like "kopia"'s, told to read ${KD_PARALLEL} files at once as kopi-docka has it read on a machine with fewer than ${MIN_PARALLEL_FILE_READS} processors (Kopia's default is one per processor): kopi-docka's ratio to it is its own cost alone.`,
            "",
          ]
        : []),
      "Kopia's part: for a backup, Kopia's own time for the data snapshots (from their manifests; a snapshot kopi-docka started ahead of the stop counts from when the last container had stopped); for kopi-docka's restore, its restore of the data beside the volume (kopia, the metadata record, the flush to disk); for raw Kopia's restore, `kopia restore` alone.",
      "",
      `Before each case: \`sync\`${m.pageCacheDroppedBeforeEachCase ? " and the page cache emptied (every tool reads its input from disk)" : " (the page cache could not be emptied here)"}. Each case ran ${result.data.repeats} times, interleaved (the order of the tools rotated each round; first backups each on fresh repositories, second backups each after a new ${d.changePercent}% change). Medians; ratios are the median of each round's ratio to raw Kopia in that round; peak RSS is the highest of the rounds.`,
      "",
      "| phase | tool | wall (median) | wall range | ratio to kopia | downtime (engine) | kopia's part | repo growth | growth / changed | peak RSS |",
      "|---|---|---|---|---|---|---|---|---|---|",
    );
    const rawRestore = result.data.cases.find((c) => c.phase === "restore" && c.tool === "kopia");
    if (rawRestore?.flushMs !== undefined)
      lines.splice(
        lines.length - 2,
        0,
        `Raw Kopia's restore is timed with its data flushed to disk afterwards (\`sync -f\`, median ${s(rawRestore.flushMs)}; \`kopia restore\` alone: ${s(rawRestore.kopiaOnlyWallMs)}), as kopi-docka flushes the new data before it swaps it in. "${RAW_UNCACHED}" is raw Kopia's restore through a connection made with \`--content-cache-size-mb=0\`, the way kopi-docka reads a restore's data from a repository on a file system (Kopia otherwise copies every content it reads into its cache); the ratios are to raw Kopia as it comes.`,
        "",
      );
    for (const c of result.data.cases)
      lines.push(
        `| ${c.phase} | ${c.tool} | ${s(c.wallMs)} | ${s(c.wallMinMs)} – ${s(c.wallMaxMs)} | ${x(c.wallRatioToKopia)} | ${s(c.downtimeMs)} | ${s(c.kopiaSnapshotMs ?? c.stageMs ?? c.kopiaOnlyWallMs)} | ${mib(c.repoBytesAdded)} | ${x(c.growthPerChangedByte)} | ${c.peakRssMiB ? `${c.peakRssMiB.toFixed(0)} MiB` : "–"} |`,
      );
    lines.push("");
  }
  if (result.scale) {
    const sc = result.scale;
    lines.push(
      `**Scale:** ${sc.containers} running containers in ${sc.units} units (${sc.hostContainers} containers on the host), ${sc.repeats} runs each.`,
      "",
      "| command | median wall | max wall | peak RSS |",
      "|---|---|---|---|",
      ...sc.cases.map((c) => `| ${c.command} | ${s(c.medianWallMs)} | ${s(c.maxWallMs)} | ${c.peakRssMiB.toFixed(0)} MiB |`),
      "",
    );
  }
  if (result.files) {
    const f = result.files;
    lines.push(
      `**Many files:** ${f.files} files of one byte in directories of 500, in one volume of a running one-container unit; a first backup, then ${f.repeats} rounds of one file changed and each tool's incremental backup (page cache emptied before each).`,
      "",
      "| case | kopia | kopi-docka direct | downtime (engine) | kopi-docka peak RSS |",
      "|---|---|---|---|---|",
      `| first backup | – | ${s(f.firstWallMs)} | – | ${f.samples[0].peakRssMiB.toFixed(0)} MiB |`,
      `| incremental backup (median) | ${s(f.rawSecondWallMs)} | ${s(f.secondWallMs)} | ${s(f.secondDowntimeMs)} | ${f.peakRssMiB.toFixed(0)} MiB (highest) |`,
      "",
    );
  }
  lines.push("| target | measured | met |", "|---|---|---|");
  for (const t of result.targets) lines.push(`| ${t.target} | ${t.value.toFixed(2)} | ${t.met ? "yes" : "**no**"} |`);
  return lines.join("\n");
}

async function writeDocs(result) {
  const begin = "<!-- bench:begin (written by scripts/bench.mjs) -->";
  const end = "<!-- bench:end -->";
  const current = existsSync(opt.docs) ? await fs.readFile(opt.docs, "utf8") : `# Benchmarks\n\n${begin}\n${end}\n`;
  const a = current.indexOf(begin);
  const b = current.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${opt.docs} has no ${begin} … ${end} block to fill`);
  await fs.writeFile(opt.docs, `${current.slice(0, a + begin.length)}\n${markdown(result)}\n${current.slice(b)}`);
}

// ---------- main ----------

async function cleanup() {
  const ids = (await docker("ps", "-aq", "--filter", `label=${LABEL}`).catch(() => "")).split("\n").filter(Boolean);
  if (ids.length > 0) await docker("rm", "-f", ...ids).catch(() => undefined);
  const vols = (await docker("volume", "ls", "-q", "--filter", `label=${LABEL}`).catch(() => "")).split("\n").filter(Boolean);
  if (vols.length > 0) await docker("volume", "rm", "-f", ...vols).catch(() => undefined);
  if (!opt.keep) await fs.rm(work, { recursive: true, force: true });
}

for (const [cmd, args, hint] of [
  ["docker", ["info", "--format", "{{.ServerVersion}}"], "start the engine: bash scripts/setup.sh --test"],
  ["kopia", ["--version"], "install Kopia: bash scripts/setup.sh --test"],
  ["docker", ["image", "inspect", opt.image], "build the test image: bash scripts/setup.sh --test"],
]) {
  try {
    await run(cmd, args);
  } catch {
    console.error(`bench: \`${cmd} ${args.join(" ")}\` failed; ${hint}`);
    process.exit(4);
  }
}
if (!existsSync(CLI)) {
  console.error("bench: dist/cli/main.js is missing; run npm run build");
  process.exit(4);
}

// The work directory is made if it is not there yet (its parents too).
const work = await fs
  .mkdir(opt["work-dir"], { recursive: true })
  .then(() => fs.mkdtemp(path.join(opt["work-dir"], "kopi-docka-bench-")))
  .catch((error) => {
    console.error(`bench: cannot make a work directory in ${opt["work-dir"]}: ${error.message}; pass --work-dir DIR`);
    process.exit(2);
  });
/** Whether this process may empty the page cache before each case (root, not in a restricted container). */
const dropCaches = await fs.writeFile("/proc/sys/vm/drop_caches", "3\n").then(
  () => true,
  () => false,
);
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });

let exitCode = 0;
try {
  const result = { machine: await machine() };
  if (opt.only === "all" || opt.only === "data") result.data = await dataBenchmark();
  if ((opt.only === "all" || opt.only === "files") && manyFiles > 0) {
    await cleanup().catch(() => undefined);
    await fs.mkdir(work, { recursive: true });
    result.files = await filesBenchmark();
  }
  if (opt.only === "all" || opt.only === "scale") {
    await cleanup().catch(() => undefined);
    await fs.mkdir(work, { recursive: true });
    result.scale = await scaleBenchmark();
  }
  result.targets = targets(result.data, result.scale, result.files);
  await fs.mkdir(path.dirname(opt.out), { recursive: true });
  await fs.writeFile(opt.out, `${JSON.stringify(result, null, 2)}\n`);
  if (!opt["no-docs"]) await writeDocs(result);
  console.log(markdown(result));
  log(`results: ${opt.out}${opt["no-docs"] ? "" : ` and ${opt.docs}`}`);
  if (result.targets.some((t) => !t.met)) exitCode = 1;
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
