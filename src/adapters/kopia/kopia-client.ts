// The Kopia adapter: runs kopia through the one process runner, with the password in the
// child's environment only, and maps its output and failures into domain types and typed errors.
import { constants, promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import {
  EnvironmentError,
  ExitCode,
  type ExitCodeValue,
  ExternalError,
  InterruptedError,
} from "../../domain/errors.js";
import type { SnapshotRecord } from "../../domain/restore-points.js";
import {
  describeCommand,
  lastLines,
  ProcessStartError,
  processExists,
  type RunResult,
  runProcess,
  type StdinProducer,
  startProcess,
} from "../process/runner.js";
import {
  type ConnectOptions,
  type GlobalPolicyChange,
  type KopiaLocation,
  maintenanceRunArgs,
  policyListArgs,
  policySetGlobalArgs,
  policySetSourceArgs,
  type RestoreOptions,
  repositoryConnectArgs,
  repositoryCreateArgs,
  repositoryStatusArgs,
  restoreArgs,
  type SnapshotCreateOptions,
  type SourcePolicyChange,
  showArgs,
  snapshotCreateArgs,
  snapshotDeleteArgs,
  snapshotListArgs,
  versionArgs,
} from "./argv.js";
import { definesActions, GATE_ENV, GATE_GO, GATE_READ, GATE_STOP, GATE_WAITING, isGate } from "./gate.js";
import {
  directoryObjectSchema,
  type GlobalPolicyJson,
  parseKopiaConfigFile,
  policyListSchema,
  repositoryStatusSchema,
  snapshotManifestSchema,
  toSnapshotRecord,
} from "./schemas.js";
import { uncachedLocation } from "./uncached.js";

export type KopiaProblem =
  | "wrong-password"
  | "not-connected"
  | "not-initialized"
  | "existing-data"
  | "unreachable"
  | "no-space"
  | "unknown";

/** The JSON line `snapshot create --json` prints for the snapshot it saved. */
function manifestLine(stdout: string): string | undefined {
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("{"))
    .pop();
}

/** A gated kopia ended without having waited at the gate (see startGatedSnapshot). */
export class GateMissedError extends Error {
  constructor(readonly source: string) {
    super(`kopia did not wait at the snapshot gate for ${source}`);
  }
}

/** A snapshot started ahead of the stop (see startGatedSnapshot and gate.ts). */
export interface GatedSnapshot {
  /** True once kopia waits at the gate; false when it ended without waiting. */
  readonly waiting: Promise<boolean>;
  /** Settles once kopia has read the whole source (its after-snapshot-root action ran) or ended. */
  readonly read: Promise<void>;
  /** The snapshot saved; rejects as snapshotCreate does, or with GateMissedError. */
  readonly record: Promise<SnapshotRecord>;
  /** Lets kopia read the source. */
  release(): void;
  /** Ends kopia at the gate: nothing is read or saved. */
  abort(): void;
}

/** Recognises kopia's well-known failures from its stderr. */
export function classifyKopiaError(stderr: string): KopiaProblem {
  if (/invalid repository password/i.test(stderr)) return "wrong-password";
  if (
    /repository is not connected|error loading config file|get password: password prompt error/i.test(stderr)
  )
    return "not-connected";
  if (
    /repository not initialized in the provided storage|error getting kopia\.repository blob: BLOB not found/i.test(
      stderr,
    )
  )
    return "not-initialized";
  if (/found existing data in storage location/i.test(stderr)) return "existing-data";
  if (/no space left on device/i.test(stderr)) return "no-space";
  if (
    /cannot open storage|cannot access storage path|can't connect to storage|connection refused|no such host/i.test(
      stderr,
    )
  )
    return "unreachable";
  return "unknown";
}

export class KopiaError extends ExternalError {
  /** A wrong password or an unconnected repository is the environment's problem (exit 4), found before anything is stopped. */
  override readonly exitCode: ExitCodeValue;
  constructor(
    message: string,
    readonly problem: KopiaProblem,
    details: { command?: string; exitCode?: number | null; stderrTail?: string },
  ) {
    super(message, details);
    this.exitCode =
      problem === "wrong-password" ||
      problem === "not-connected" ||
      problem === "not-initialized" ||
      problem === "unreachable"
        ? ExitCode.environment
        : ExitCode.failure;
  }
}

export interface DirectoryEntry {
  name: string;
  /** "f" file, "d" directory, "s" symlink, ... */
  type: string;
  objectId: string;
  size: number;
}

export interface RepositoryStatus {
  hostname: string;
  username: string;
  storageType: string;
  /** Local path of a filesystem repository. */
  storagePath: string | undefined;
  capacityBytes: number | undefined;
  availableBytes: number | undefined;
}

export type { GlobalPolicyJson };

/** The ignore rules and cache-dir setting a source's own policy defines (inherited ones not included). */
export interface SourcePolicy {
  host: string;
  user: string;
  path: string;
  ignore: string[];
  ignoreCacheDirs: boolean | undefined;
  /** Whether it defines any action (its own, not inherited). */
  actions: boolean;
  /** How many files a snapshot reads at once, where it says (its own, not inherited). */
  maxParallelFileReads?: number | undefined;
}

/** A gate's private directory: `kopi-docka-gate-<pid>-XXXXXX` in the temporary directory. */
const GATE_DIR_PREFIX = "kopi-docka-gate-";
/** Run once per process, before its first gate. */
let cleaned: Promise<void> | undefined;

/**
 * Removes the gate directories of kopi-docka processes that no longer run: one killed outright
 * (SIGKILL, the OOM killer) cannot remove its own. A directory whose process runs (or whose pid
 * now belongs to another process) is left alone; so are ones without a pid in their name.
 */
export async function removeDeadGateDirs(tmp: string): Promise<void> {
  for (const name of await fs.readdir(tmp).catch(() => [] as string[])) {
    const pid = Number(/^kopi-docka-gate-(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || processExists(pid)) continue;
    await fs.rm(path.join(tmp, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A policy defined for all paths of a user@host (`user` set) or of a host (`user` empty). */
export interface LevelPolicy {
  host: string;
  user: string;
  ignoreCacheDirs: boolean | undefined;
  /** Whether it defines any action (its own, not inherited). */
  actions: boolean;
  /** How many files a snapshot reads at once, where it says (its own, not inherited). */
  maxParallelFileReads?: number | undefined;
}

export interface Policies {
  global: GlobalPolicyJson;
  sources: SourcePolicy[];
  levels: LevelPolicy[];
}

export interface KopiaClientOptions {
  location: KopiaLocation;
  password: string;
  /** Environment to start from; every inherited KOPIA_* variable is removed. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Extra secrets to mask in command lines (storage credentials). */
  secrets?: readonly string[];
  /** Extra environment for repository create/connect (storage credentials moved out of argv). */
  storageEnv?: Readonly<Record<string, string>>;
}

export interface BulkReadOption {
  /** The snapshot's data, read once: without Kopia's caches where that is faster (uncached.ts). */
  bulk?: boolean;
}

export class KopiaClient {
  private bulkRead: Promise<KopiaLocation> | undefined;

  constructor(private readonly options: KopiaClientOptions) {}

  get location(): KopiaLocation {
    return this.options.location;
  }

  private env(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(this.options.baseEnv ?? process.env)) {
      if (!key.startsWith("KOPIA_")) env[key] = value;
    }
    return {
      ...env,
      ...extra,
      KOPIA_PASSWORD: this.options.password,
      KOPIA_CHECK_FOR_UPDATES: "false",
    };
  }

  private secrets(): string[] {
    return [this.options.password, ...(this.options.secrets ?? [])].filter((s) => s.length > 0);
  }

  /** Runs kopia; a non-zero exit becomes a KopiaError unless `allowFailure`. */
  private async run(
    argv: string[],
    options: {
      signal?: AbortSignal;
      stdin?: Readable | StdinProducer;
      allowFailure?: boolean;
      extraEnv?: Record<string, string>;
      onStderr?: (chunk: string) => void;
    } = {},
  ): Promise<RunResult> {
    let result: RunResult;
    try {
      result = await runProcess({
        argv,
        env: this.env(options.extraEnv),
        secrets: this.secrets(),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.stdin ? { stdin: options.stdin } : {}),
        ...(options.onStderr ? { onStderr: options.onStderr } : {}),
      });
    } catch (error) {
      if (error instanceof ProcessStartError && error.code === "ENOENT")
        throw new EnvironmentError(
          `kopia not found (${this.options.location.binary}): install Kopia (see README) or set kopia.binary in the config`,
        );
      throw error;
    }
    if (result.aborted && options.signal?.reason instanceof InterruptedError) throw options.signal.reason;
    if (result.exitCode !== 0 && !options.allowFailure) throw this.failure(argv, result);
    return result;
  }

  failure(argv: readonly string[], result: RunResult): KopiaError {
    const command = describeCommand(argv, this.secrets());
    const problem = classifyKopiaError(result.stderrTail);
    const tail = lastLines(this.mask(result.stderrTail));
    const details = { command, exitCode: result.exitCode, stderrTail: this.mask(result.stderrTail) };
    switch (problem) {
      case "wrong-password":
        return new KopiaError(
          "the repository password is wrong: check kopia.password / kopia.password_file",
          problem,
          details,
        );
      case "not-connected":
        return new KopiaError(
          "the Kopia repository is not connected: run `kopi-docka init`",
          problem,
          details,
        );
      case "not-initialized":
        return new KopiaError(
          "the storage holds no Kopia repository: run `kopi-docka init` (it creates one), or check kopia.kopia_params",
          problem,
          details,
        );
      case "unreachable":
        return new KopiaError(
          `the repository storage is not reachable (${tail}): check kopia.kopia_params, then run \`kopi-docka init\``,
          problem,
          details,
        );
      default:
        return new KopiaError(
          `kopia failed (exit ${result.exitCode ?? result.signal}): ${tail || "no error output"}`,
          problem,
          details,
        );
    }
  }

  private mask(text: string): string {
    let out = text;
    for (const secret of this.secrets()) out = out.split(secret).join("***");
    return out;
  }

  async version(): Promise<string> {
    const result = await this.run(versionArgs(this.options.location));
    return result.stdout.trim().split(/\s+/)[0] ?? "";
  }

  /**
   * This client's part of `repository status` without starting kopia (each kopia process spends
   * about 0.2 s of CPU opening the repository): kopia's config file for the host, user and
   * storage, and the file system of a local repository for its space. It does not reach the
   * repository, so it proves neither the password nor the storage: pair it with a kopia call.
   */
  async localStatus(): Promise<RepositoryStatus> {
    const file = this.options.location.configFile;
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch {
      throw new KopiaError(
        "the Kopia repository is not connected: run `kopi-docka init`",
        "not-connected",
        {},
      );
    }
    const config = parseKopiaConfigFile(text);
    if (!config)
      throw new KopiaError(
        `kopia's config file ${file} is not one kopia wrote: run \`kopi-docka init\``,
        "not-connected",
        {},
      );
    const { storage, hostname, username } = config;
    const path = storage.type === "filesystem" ? storage.config?.path : undefined;
    const storagePath = typeof path === "string" ? path : undefined;
    const space = storagePath ? await fs.statfs(storagePath).catch(() => undefined) : undefined;
    return {
      hostname,
      username,
      storageType: storage.type,
      storagePath,
      capacityBytes: space ? space.blocks * space.bsize : undefined,
      availableBytes: space ? space.bavail * space.bsize : undefined,
    };
  }

  async status(): Promise<RepositoryStatus> {
    const result = await this.run(repositoryStatusArgs(this.options.location));
    const status = repositoryStatusSchema.parse(JSON.parse(result.stdout));
    const path = status.storage?.config?.path;
    return {
      hostname: status.clientOptions.hostname,
      username: status.clientOptions.username,
      storageType: status.storage?.type ?? "unknown",
      storagePath: typeof path === "string" ? path : undefined,
      capacityBytes: status.volume?.capacity,
      availableBytes: status.volume?.available,
    };
  }

  /** Connects to an existing repository, or creates it when the storage holds none. */
  async connectOrCreate(options: ConnectOptions): Promise<"connected" | "created"> {
    const extraEnv = { ...(this.options.storageEnv ?? {}) };
    const connect = await this.run(repositoryConnectArgs(this.options.location, options), {
      allowFailure: true,
      extraEnv,
    });
    if (connect.exitCode === 0) return "connected";
    const problem = classifyKopiaError(connect.stderrTail);
    if (problem !== "not-initialized")
      throw this.failure(repositoryConnectArgs(this.options.location, options), connect);
    await this.run(repositoryCreateArgs(this.options.location, options), { extraEnv });
    return "created";
  }

  /** Creates one snapshot. Fails unless kopia exits 0 and the manifest is complete. */
  async snapshotCreate(
    source: string,
    options: SnapshotCreateOptions,
    signal?: AbortSignal,
    stdin?: Readable | StdinProducer,
  ): Promise<SnapshotRecord> {
    const argv = snapshotCreateArgs(this.options.location, source, options);
    const result = await this.run(argv, {
      allowFailure: true,
      ...(signal ? { signal } : {}),
      ...(stdin ? { stdin } : {}),
    });
    return this.snapshotRecord(argv, result, signal);
  }

  /**
   * Starts a snapshot of the directory `source` that waits, before it reads anything, until it is
   * released (see gate.ts). Kopia runs the gate only when the source's policy takes it from the
   * global one (the caller checks with `Policies`); a kopia that saved a snapshot without having
   * waited is not trusted: the snapshot is deleted and `record` rejects with GateMissedError. One
   * that failed before the gate rejects as snapshotCreate does.
   */
  async startGatedSnapshot(
    source: string,
    options: SnapshotCreateOptions,
    signal?: AbortSignal,
  ): Promise<GatedSnapshot> {
    cleaned ??= removeDeadGateDirs(os.tmpdir());
    await cleaned;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `${GATE_DIR_PREFIX}${process.pid}-`));
    const fifo = path.join(dir, "gate");
    let handle: FileHandle | undefined;
    try {
      const made = await runProcess({ argv: ["mkfifo", "-m", "600", fifo] });
      if (made.exitCode !== 0) throw new Error(`mkfifo failed: ${lastLines(made.stderrTail)}`);
      // Read and write: opening never blocks, and this process is the FIFO's only writer.
      handle = await fs.open(fifo, constants.O_RDWR);
    } catch (error) {
      await handle?.close();
      await fs.rm(dir, { recursive: true, force: true });
      throw error;
    }
    const fifoHandle = handle;
    let onWaiting: (waited: boolean) => void = () => {};
    let onRead: () => void = () => {};
    const waiting = new Promise<boolean>((resolve) => {
      onWaiting = resolve;
    });
    const read = new Promise<void>((resolve) => {
      onRead = resolve;
    });
    let waited = false;
    let pending = "";
    const onStderr = (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line === GATE_WAITING) {
          waited = true;
          onWaiting(true);
        } else if (line === GATE_READ) onRead();
      }
    };
    let said = false;
    const say = (word: string) => {
      if (said) return;
      said = true;
      fifoHandle.write(word).catch(() => undefined);
    };
    const argv = snapshotCreateArgs(this.options.location, source, { ...options, gated: true });
    const record = (async () => {
      let result: RunResult;
      try {
        result = await this.run(argv, {
          allowFailure: true,
          // Kopia makes a working directory for the root actions in its temporary directory
          // and leaves it there (0.23.1 removes only those of folder actions): in the gate's
          // own directory, it goes with it.
          extraEnv: { [GATE_ENV]: fifo, TMPDIR: dir },
          onStderr,
          ...(signal ? { signal } : {}),
        });
      } finally {
        onWaiting(false);
        onRead();
        await fifoHandle.close().catch(() => undefined);
        await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
      if (!waited && result.exitCode === 0) {
        // Not gated (a policy in between, or changed since it was read): it read the data while
        // the containers ran. What it saved is not a cold snapshot.
        const line = manifestLine(result.stdout);
        const saved = line ? snapshotManifestSchema.parse(JSON.parse(line)).id : undefined;
        if (saved) await this.deleteSnapshots([saved]);
        throw new GateMissedError(source);
      }
      // The gate's own lines are not kopia's: a failure is told by kopia's lines alone.
      const stderrTail = result.stderrTail
        .split("\n")
        .filter((l) => l !== GATE_WAITING && l !== GATE_READ)
        .join("\n");
      return this.snapshotRecord(argv, { ...result, stderrTail }, signal);
    })();
    // Settled by whoever awaits it; a rejection nobody waits for must not end the process.
    record.catch(() => undefined);
    return {
      waiting,
      read,
      record,
      release: () => say(GATE_GO),
      abort: () => say(GATE_STOP),
    };
  }

  private snapshotRecord(argv: readonly string[], result: RunResult, signal?: AbortSignal): SnapshotRecord {
    if (result.aborted && signal?.aborted) throw signal.reason ?? new InterruptedError("abort");
    const line = manifestLine(result.stdout);
    if (result.exitCode !== 0) throw this.failure(argv, result);
    if (!line)
      throw new KopiaError("kopia printed no snapshot manifest", "unknown", {
        command: describeCommand(argv, this.secrets()),
      });
    const record = toSnapshotRecord(snapshotManifestSchema.parse(JSON.parse(line)));
    if (record.incomplete)
      throw new KopiaError("kopia saved an incomplete snapshot (interrupted)", "unknown", {
        command: describeCommand(argv, this.secrets()),
      });
    return record;
  }

  async deleteSnapshots(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.run(snapshotDeleteArgs(this.options.location, ids));
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    const result = await this.run(snapshotListArgs(this.options.location));
    const raw: unknown = JSON.parse(result.stdout || "[]");
    if (!Array.isArray(raw))
      throw new KopiaError("kopia snapshot list did not return an array", "unknown", {});
    const records: SnapshotRecord[] = [];
    for (const item of raw) {
      const parsed = snapshotManifestSchema.safeParse(item);
      if (parsed.success) records.push(toSnapshotRecord(parsed.data));
    }
    return records;
  }

  /**
   * Restores a directory snapshot into target. `bulk`: a snapshot's data, read once, is read
   * without Kopia's caches where that makes it faster (see uncached.ts).
   */
  async restore(
    snapshotId: string,
    target: string,
    signal?: AbortSignal,
    options: RestoreOptions & BulkReadOption = {},
  ): Promise<void> {
    const { bulk, ...argvOptions } = options;
    const location = bulk ? await this.bulkReadLocation() : this.options.location;
    await this.run(restoreArgs(location, snapshotId, target, argvOptions), signal ? { signal } : {});
  }

  /** The location data read in bulk uses: made once per client (uncached.ts). */
  private bulkReadLocation(): Promise<KopiaLocation> {
    this.bulkRead ??= uncachedLocation(this.options.location);
    return this.bulkRead;
  }

  /** The bytes of a file object (`<root object>/<name>`), as text. */
  async showText(objectPath: string, signal?: AbortSignal): Promise<string> {
    const result = await this.run(showArgs(this.options.location, objectPath), signal ? { signal } : {});
    return result.stdout;
  }

  /** The entries of a directory object (e.g. a snapshot's root object). */
  async listDirectory(objectId: string, signal?: AbortSignal): Promise<DirectoryEntry[]> {
    const text = await this.showText(objectId, signal);
    const parsed = directoryObjectSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new KopiaError(`object ${objectId} is not a directory`, "unknown", {});
    return parsed.data.entries.map((e) => ({
      name: e.name,
      type: e.type,
      objectId: e.obj,
      size: e.size ?? 0,
    }));
  }

  /**
   * Streams an object's bytes (a TAR archive, read once: without Kopia's caches where that is
   * faster): `stdout` to pipe elsewhere, `done` when kopia has finished.
   */
  async showStream(
    objectId: string,
    signal?: AbortSignal,
  ): Promise<{ stdout: Readable; done: Promise<void> }> {
    const argv = showArgs(await this.bulkReadLocation(), objectId);
    const started = startProcess({
      argv,
      env: this.env(),
      secrets: this.secrets(),
      streamStdout: true,
      ...(signal ? { signal } : {}),
    });
    const done = started.done.then((result) => {
      if (result.aborted && signal?.reason instanceof InterruptedError) throw signal.reason;
      if (result.exitCode !== 0) throw this.failure(argv, result);
    });
    if (!started.stdout) throw new Error("kopia show: no stdout");
    return { stdout: started.stdout, done };
  }

  /** Every policy defined in the repository, read in one call. */
  async policies(): Promise<Policies> {
    const result = await this.run(policyListArgs(this.options.location));
    const entries = policyListSchema.parse(JSON.parse(result.stdout || "[]"));
    const isGlobal = (e: (typeof entries)[number]) =>
      e.target.host === "" && e.target.userName === "" && e.target.path === "";
    const global = entries.find(isGlobal);
    return {
      global: global
        ? {
            retention: global.retention,
            compression: global.compression,
            ignoreCacheDirs: global.files?.ignoreCacheDirs,
            gate: isGate(global.actions),
            maxParallelFileReads: global.upload?.maxParallelFileReads,
          }
        : {},
      sources: entries
        .filter((e) => !isGlobal(e) && e.target.path !== "")
        .map((e) => ({
          host: e.target.host,
          user: e.target.userName,
          path: e.target.path,
          ignore: e.files?.ignore ?? [],
          ignoreCacheDirs: e.files?.ignoreCacheDirs,
          actions: definesActions(e.actions),
          maxParallelFileReads: e.upload?.maxParallelFileReads,
        })),
      levels: entries
        .filter((e) => !isGlobal(e) && e.target.path === "")
        .map((e) => ({
          host: e.target.host,
          user: e.target.userName,
          ignoreCacheDirs: e.files?.ignoreCacheDirs,
          actions: definesActions(e.actions),
          maxParallelFileReads: e.upload?.maxParallelFileReads,
        })),
    };
  }

  async setGlobalPolicy(change: GlobalPolicyChange): Promise<void> {
    await this.run(policySetGlobalArgs(this.options.location, change));
  }

  async setSourcePolicy(source: string, change: SourcePolicyChange): Promise<void> {
    await this.run(policySetSourceArgs(this.options.location, source, change));
  }

  /** Runs quick (or full) maintenance now. Not being the repository's owner is not a failure. */
  async maintenance(full = false): Promise<"ran" | "skipped"> {
    const argv = maintenanceRunArgs(this.options.location, full);
    const result = await this.run(argv, { allowFailure: true });
    if (result.exitCode === 0) return "ran";
    if (/maintenance must be run by/i.test(result.stderrTail)) return "skipped";
    throw this.failure(argv, result);
  }
}
