// The composition root's helpers: settings, adapters and the run's abort signal.
import { DockerEngine } from "../adapters/docker/engine.js";
import { KopiaClient } from "../adapters/kopia/kopia-client.js";
import { type Context, systemClock } from "../app/context.js";
import { loadSettings, locateConfig, readPassword, type Settings } from "../config/load.js";
import { InterruptedError } from "../domain/errors.js";
import { makeLogger, type OutputOptions } from "./output.js";

export interface GlobalOptions {
  config?: string;
}

export function makeKopia(settings: Settings, password: string): KopiaClient {
  return new KopiaClient({
    location: {
      binary: settings.config.kopia.binary,
      configFile: settings.kopiaConfigFile,
      logDir: settings.logDirectory,
    },
    password,
    secrets: settings.storage.secrets,
    storageEnv: settings.storage.env,
  });
}

export async function loadConfigured(global: GlobalOptions): Promise<Settings> {
  return loadSettings(await locateConfig({ explicit: global.config }));
}

let runController: AbortController | undefined;

/**
 * The run's abort signal, with the handlers installed on first use (main installs them before
 * anything else, so a signal at any moment is handled): the first SIGINT/SIGTERM/SIGHUP aborts it
 * (kopia is asked to stop, containers are started again); later signals only say that the
 * cleanup is still going on.
 */
export function interruptSignal(log: { warn(m: string): void }): AbortSignal {
  if (runController) return runController.signal;
  const controller = new AbortController();
  runController = controller;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      log.warn(`${signal} received: stopping kopia and starting the stopped containers again`);
      controller.abort(new InterruptedError(signal));
    } else {
      log.warn(`${signal} received again: still starting the stopped containers, please wait`);
    }
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
  return controller.signal;
}

export async function buildContext(global: GlobalOptions, output: OutputOptions): Promise<Context> {
  const log = makeLogger(output);
  const settings = await loadConfigured(global);
  for (const warning of settings.warnings) log.warn(warning);
  const password = await readPassword(settings);
  return {
    docker: new DockerEngine(),
    kopia: makeKopia(settings, password),
    settings,
    log,
    clock: systemClock,
    signal: interruptSignal(log),
  };
}
