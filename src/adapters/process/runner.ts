// The one subprocess runner: argv arrays only, environment passed explicitly, a timeout,
// cancellation through an AbortSignal, a bounded stderr tail, and redacted command lines.
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { collectGarbageWhileStreaming } from "./memory.js";

/**
 * Feeds a child's stdin without the bytes passing through this process: it receives the write end
 * of the child's stdin pipe, to hand to another process as that one's stdout (`stdoutTo`).
 */
export type StdinProducer = (stdin: Writable) => void;

export interface RunOptions {
  argv: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Data for the child's stdin: a stream piped through this process, or a producer handed the pipe
   * itself. Without it stdin is closed (/dev/null), so nothing can prompt.
   */
  stdin?: Readable | StdinProducer;
  /**
   * The child writes its stdout straight into this pipe (another child's stdin, from a
   * StdinProducer); this process's own end of it is closed once the child has it.
   */
  stdoutTo?: Writable;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** After an abort or timeout the child gets SIGINT, then SIGKILL after this many ms. */
  killGraceMs?: number;
  /** Values masked in the command line shown in errors and logs. */
  secrets?: readonly string[];
  /** Receives each chunk of stderr as it arrives (progress, live logs). */
  onStderr?: (chunk: string) => void;
  /** Maximum stdout kept in memory (bytes); beyond it the run fails. */
  maxStdoutBytes?: number;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string;
  /** True when the run was ended because of the abort signal or the timeout. */
  aborted: boolean;
  timedOut: boolean;
  durationMs: number;
}

export class ProcessStartError extends Error {
  constructor(
    readonly command: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const STDERR_TAIL_BYTES = 8192;

/** Masks secrets, and the value of any `--password`-like flag, in a printable command line. */
export function describeCommand(argv: readonly string[], secrets: readonly string[] = []): string {
  const masked = argv.map((arg) => {
    let out = arg;
    for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join("***");
    return out.replace(
      /^(--[a-z-]*(?:password|secret|token|key|credential)[a-z-]*=).+$/i,
      (_match, flag: string) => `${flag}***`,
    );
  });
  return masked.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

export function runProcess(options: RunOptions): Promise<RunResult> {
  return startProcess(options).done;
}

export interface StartedProcess {
  /** The child's stdout as a stream, when `streamStdout` was asked for; otherwise null. */
  stdout: Readable | null;
  done: Promise<RunResult>;
}

/**
 * Starts a process. With `streamStdout`, its stdout is handed to the caller (to pipe into another
 * process) instead of being collected; stderr is always drained, so a pipe cannot deadlock on it.
 */
export function startProcess(options: RunOptions & { streamStdout?: boolean }): StartedProcess {
  const [command, ...args] = options.argv;
  if (command === undefined)
    return { stdout: null, done: Promise.reject(new Error("startProcess: empty argv")) };
  const started = Date.now();
  let streamed: Readable | null = null;
  const done = new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.stdin ? "pipe" : "ignore", options.stdoutTo ?? "pipe", "pipe"],
      // A process group of its own: a Ctrl-C in the terminal reaches us, not the child directly,
      // so we decide when and how the child is stopped.
      detached: true,
    });
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = "";
    let aborted = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    let overflow = false;
    let stopCollecting: (() => void) | undefined;

    const stop = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGINT");
      killTimer = setTimeout(() => child.kill("SIGKILL"), options.killGraceMs ?? 15_000);
      killTimer.unref();
    };
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const timeout =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs)
        : undefined;

    if (options.streamStdout) streamed = child.stdout;
    else
      child.stdout?.on("data", (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (options.maxStdoutBytes !== undefined && stdoutBytes > options.maxStdoutBytes) {
          if (!overflow) {
            overflow = true;
            stop();
          }
          return;
        }
        stdoutChunks.push(chunk);
      });
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      options.onStderr?.(text);
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    // The child holds its own copy of the pipe now: with ours closed, its reader sees the end of
    // the data when the child exits.
    options.stdoutTo?.destroy();
    if (options.stdin && child.stdin) {
      // A child that exits early closes its stdin: that is reported through its exit code.
      child.stdin.on("error", () => {});
      if (typeof options.stdin === "function") options.stdin(child.stdin);
      else {
        // The bytes pass through this process: their buffers are freed as they go.
        stopCollecting = collectGarbageWhileStreaming();
        const source = options.stdin;
        source.on("error", () => child.stdin?.destroy());
        source.pipe(child.stdin);
      }
    }
    child.on("error", (error: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        new ProcessStartError(
          describeCommand(options.argv, options.secrets),
          error.code,
          error.code === "ENOENT" ? `${command}: command not found` : `${command}: ${error.message}`,
        ),
      );
    });
    child.on("close", (exitCode, signal) => {
      cleanup();
      resolve({
        exitCode: overflow ? null : exitCode,
        signal,
        stdout: Buffer.concat(stdoutChunks).toString("utf8"),
        stderrTail: overflow
          ? `${stderrTail}\n(output larger than ${options.maxStdoutBytes} bytes)`
          : stderrTail,
        aborted,
        timedOut,
        durationMs: Date.now() - started,
      });
    });
    function cleanup() {
      stopCollecting?.();
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  });
  return { stdout: streamed, done };
}

/** The last few non-empty lines of a stderr tail, for one-line error messages. */
export function lastLines(text: string, count = 2, width = 300): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-count)
    .map((l) => (l.length > width ? `${l.slice(0, width)}…` : l))
    .join(" | ");
}

/** Whether a process with this pid exists (one of another user counts: signalling it is refused). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
