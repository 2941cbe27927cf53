// Stopping and starting a set of containers, always bringing back what was stopped.
import type { DockerEngine } from "../adapters/docker/engine.js";
import { EnvironmentError, errorMessage } from "../domain/errors.js";
import type { Container } from "../domain/model.js";
import { waitsFor } from "../domain/start-order.js";
import type { Logger } from "./context.js";

/** What stopping and starting use of the engine. */
export type ContainerControl = Pick<DockerEngine, "stop" | "start" | "waitRunning" | "containerStatus">;

export interface StartProblem {
  container: string;
  reason: string;
  /** The engine did not answer: the journal is kept, so `recover` starts it later. */
  engineUnreachable?: boolean;
}

export interface StopResult {
  /** Containers this call stopped (in the order they were stopped). */
  stopped: Container[];
  /** Containers that did not stop within the timeout and were killed by the engine. */
  killed: string[];
  /** Set when a stop failed; the containers stopped so far are in `stopped`. */
  error?: string;
}

/**
 * Runs `task` for every container of an ordered list, each as soon as the tasks of the earlier
 * containers it waits for (see waitsFor) have ended, side by side otherwise; a container whose
 * turn comes once `halted()` says so is skipped (undefined). The outcomes, in the list's order.
 */
async function inDependencyOrder<T extends Container, R>(
  containers: readonly T[],
  task: (container: T) => Promise<R>,
  halted: () => boolean = () => false,
): Promise<(R | undefined)[]> {
  const running: Promise<R | undefined>[] = [];
  for (const [index, earlier] of waitsFor(containers).entries()) {
    const container = containers[index] as T;
    running.push(
      Promise.all(earlier.map((i) => running[i])).then(() => (halted() ? undefined : task(container))),
    );
  }
  return Promise.all(running);
}

/**
 * Stops containers in the given order (a stop order: dependents first), each as soon as what
 * depends on it has stopped, side by side otherwise, as compose stops a project (see waitsFor).
 * At the first failure no further stop begins; those under way end. `stopped` keeps the order
 * given.
 */
export async function stopContainers(
  docker: ContainerControl,
  containers: readonly Container[],
  timeoutSeconds: number,
  log: Logger,
): Promise<StopResult> {
  let error: string | undefined;
  const outcomes = await inDependencyOrder(
    containers,
    async (container) => {
      const outcome = await stopOne(docker, container, timeoutSeconds, log);
      error ??= outcome.error;
      return outcome;
    },
    () => error !== undefined,
  );
  const stopped = containers.filter((_, i) => outcomes[i]?.stopped === true);
  const killed = containers.filter((_, i) => outcomes[i]?.killed === true).map((c) => c.name);
  return error === undefined ? { stopped, killed } : { stopped, killed, error };
}

async function stopOne(
  docker: ContainerControl,
  container: Container,
  timeoutSeconds: number,
  log: Logger,
): Promise<{ stopped: boolean; killed?: boolean; error?: string }> {
  try {
    log.info(`stopping ${container.name}`);
    const started = Date.now();
    await docker.stop(container.id, timeoutSeconds);
    if (Date.now() - started >= timeoutSeconds * 1000) {
      const status = await docker.containerStatus(container.id).catch(() => undefined);
      if (status?.exitCode === 137) {
        log.warn(
          `${container.name} did not stop within ${timeoutSeconds} s (backup.stop_timeout): the engine killed it`,
        );
        return { stopped: true, killed: true };
      }
    }
    return { stopped: true };
  } catch (error) {
    // The engine may have stopped it anyway: make sure it is started again with the others.
    const status = await docker.containerStatus(container.id).catch(() => undefined);
    return {
      stopped: status !== undefined && !status.running,
      error: `could not stop ${container.name}: ${errorMessage(error)}`,
    };
  }
}

/**
 * Starts containers in the given order (a start order), each as soon as what it depends on has
 * started (and runs, and is healthy), side by side otherwise, as compose starts a project (see
 * waitsFor). A container that fails does not keep the others from starting; its problem is
 * returned.
 */
export async function startContainers(
  docker: ContainerControl,
  containers: readonly Container[],
  timeoutSeconds: number,
  log: Logger,
): Promise<StartProblem[]> {
  const outcomes = await inDependencyOrder(containers, (c) => startOne(docker, c, timeoutSeconds, log));
  return outcomes.filter((problem): problem is StartProblem => problem !== undefined);
}

async function startOne(
  docker: ContainerControl,
  container: Container,
  timeoutSeconds: number,
  log: Logger,
): Promise<StartProblem | undefined> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    try {
      log.info(`starting ${container.name}`);
      await docker.start(container.id);
      const reason = await docker.waitRunning(container.id, Math.max(1000, deadline - Date.now()));
      return reason ? { container: container.name, reason } : undefined;
    } catch (error) {
      // An engine that has just restarted refuses for a moment (no answer, or HTTP 500 while its
      // stores load): try again until the timeout, then report what it said last.
      if (Date.now() + 1000 < deadline) {
        log.warn(`could not start ${container.name} (${errorMessage(error)}); trying again`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      return {
        container: container.name,
        reason: errorMessage(error),
        ...(error instanceof EnvironmentError ? { engineUnreachable: true } : {}),
      };
    }
  }
}

/**
 * How long after the last start a backup looks again whether its containers still run, at the
 * least: the look comes once the saves that follow the start have ended. A crash in that time is
 * seen even where the container's restart policy has started it again (its restart count).
 */
export const SETTLE_MS = 250;

/**
 * A container can start and crash a moment later. After the starts (downtime is over by then),
 * one short wait, then every started container must still run, and not have been started again
 * by its restart policy (which resets nothing until the next start by hand: a crash loop shows
 * as running); those that do not are returned.
 */
export async function verifyStillRunning(
  docker: ContainerControl,
  containers: readonly Container[],
  settleMs = SETTLE_MS,
): Promise<StartProblem[]> {
  if (containers.length === 0) return [];
  await new Promise((r) => setTimeout(r, settleMs));
  const problems: StartProblem[] = [];
  for (const container of containers) {
    const status = await docker.containerStatus(container.id).catch(() => undefined);
    if (!status) problems.push({ container: container.name, reason: "removed right after it was started" });
    else if (!status.running)
      problems.push({
        container: container.name,
        reason: `exited right after it was started (code ${status.exitCode ?? "?"})${status.error ? `: ${status.error}` : ""}`,
      });
    else if (status.restartCount > 0)
      problems.push({
        container: container.name,
        reason: `exited right after it was started; its restart policy has started it again ${status.restartCount} time(s) since${status.exitCode ? ` (last exit code ${status.exitCode})` : ""}`,
      });
  }
  return problems;
}
