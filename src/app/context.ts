// What every use case receives: its collaborators, passed in by the composition root.
import type { DockerEngine } from "../adapters/docker/engine.js";
import type { KopiaClient } from "../adapters/kopia/kopia-client.js";
import type { Settings } from "../config/load.js";

/** Diagnostics for the operator (stderr). Results go back as values, never through here. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Context {
  docker: DockerEngine;
  kopia: KopiaClient;
  settings: Settings;
  log: Logger;
  clock: Clock;
  /** Aborted by SIGINT/SIGTERM/SIGHUP; its reason is an InterruptedError. */
  signal: AbortSignal;
}
